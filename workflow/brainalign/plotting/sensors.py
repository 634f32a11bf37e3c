"""MEG/EEG figures with MNE: topomaps of scores per layer and score time courses over lags.

The sensor layout is rebuilt from the Scores coordinates (``ch_type``, ``pos_x/y/z`` in m, head
frame), so no raw file is needed to draw a map.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .figure_io import new_figure, save_figure

# Preferred channel type for a single topomap: magnetometers or EEG have one sensor per location;
# gradiometer pairs would overlap.
TYPE_PREFERENCE = ("mag", "eeg", "grad", "seeg", "ecog")


def pick_channel_type(obj: xr.DataArray | xr.Dataset) -> str:
    """The channel type to map: the first of mag, eeg, grad, seeg, ecog present in ``ch_type``."""
    if "ch_type" not in obj.coords:
        raise ValueError("sensor figures need the 'ch_type' coordinate on 'channel'")
    present = set(np.asarray(obj["ch_type"].values).astype(str))
    for t in TYPE_PREFERENCE:
        if t in present:
            return t
    raise ValueError(f"no plottable channel type among {sorted(present)} (expected one of {TYPE_PREFERENCE})")


def sensor_info(obj: xr.DataArray | xr.Dataset, ch_type: str | None = None):
    """An ``mne.Info`` for the channels of ``ch_type`` with positions from ``pos_x/y/z``.

    Returns
    -------
    (mne.Info, np.ndarray)
        The Info and the indices (along ``channel``) of the channels it holds.
    """
    import mne

    ch_type = ch_type or pick_channel_type(obj)
    for c in ("pos_x", "pos_y", "pos_z"):
        if c not in obj.coords:
            raise ValueError(f"sensor figures need the channel coordinate {c!r} (m, head frame)")
    types = np.asarray(obj["ch_type"].values).astype(str)
    idx = np.flatnonzero(types == ch_type)
    pos = np.stack([np.asarray(obj[c].values, dtype=float)[idx] for c in ("pos_x", "pos_y", "pos_z")], axis=1)
    # iEEG positions are in mm (MNI or native space, brainalign.preprocess.ieeg); MNE wants metres.  The
    # coordinate's units attr may not survive pooling, and no head or brain is a metre wide.
    if obj["pos_x"].attrs.get("units") == "mm" or (np.isfinite(pos).any() and np.nanmax(np.abs(pos)) > 1.0):
        pos = pos / 1000.0
    ok = np.isfinite(pos).all(axis=1) & (np.abs(pos).sum(axis=1) > 0)
    if not ok.any():
        raise ValueError(f"no {ch_type} channel has a position")
    idx, pos = idx[ok], pos[ok]
    names = [str(n) for n in np.asarray(obj["channel"].values)[idx]]
    mne_type = "eeg" if ch_type in ("ecog", "seeg") else ch_type
    info = mne.create_info(names, sfreq=float(obj.attrs.get("sfreq", 100.0)), ch_types=mne_type)
    if mne_type == "eeg":
        montage = mne.channels.make_dig_montage(ch_pos=dict(zip(names, pos)), coord_frame="head")
        info.set_montage(montage, on_missing="ignore")
    else:
        with info._unlock():
            for ch, p in zip(info["chs"], pos):
                ch["loc"][:3] = p
    return info, idx


def plot_topomaps(values: xr.DataArray, path: str | os.PathLike, *, title: str, cbar_label: str = "Pearson r",
                  layers: Sequence[int] | None = None, max_maps: int = 8, cmap: str = "RdBu_r",
                  vlim: tuple[float, float] | None = None, panel_titles: Sequence[str] | None = None) -> Path:
    """One topomap per layer (shared colour scale) of a ``layer × channel`` array.

    Parameters
    ----------
    values
        Scores reduced to ``layer × channel`` (e.g. subject mean, peak over lags), with the channel
        coordinates of the Scores.
    layers
        Layers to show (default: up to ``max_maps`` evenly spaced layers, first and last included).
    vlim
        Colour limits (default symmetric around 0 at the largest absolute value).
    panel_titles
        One title per map (default ``layer N (depth d)``).
    """
    import mne

    values = values.transpose("layer", "channel")
    info, idx = sensor_info(values)
    all_layers = values["layer"].values
    if layers is None:
        pick = np.unique(np.rint(np.linspace(0, all_layers.size - 1, min(max_maps, all_layers.size))).astype(int))
        layers = all_layers[pick]
    data = values.sel(layer=list(layers)).values[:, idx]
    lim = float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 1.0
    lim = lim if lim > 0 else 1.0
    vlim = (-lim, lim) if vlim is None else tuple(vlim)
    fig = new_figure(2.0 * len(layers) + 1.0, 2.6)
    axes = fig.subplots(1, len(layers) + 1, gridspec_kw={"width_ratios": [1] * len(layers) + [0.08]})
    im = None
    for i, (ax, layer, row) in enumerate(zip(axes[:-1], layers, data)):
        im, _ = mne.viz.plot_topomap(np.nan_to_num(row), info, axes=ax, show=False, cmap=cmap, vlim=vlim,
                                     contours=0, sensors=True)
        depth = values["relative_depth"].sel(layer=layer).item() if "relative_depth" in values.coords else None
        label = f"layer {int(layer)}" + (f"\n(depth {depth:.2f})" if depth is not None else "")
        ax.set_title(panel_titles[i] if panel_titles else label, fontsize=9)
    cb = fig.colorbar(im, cax=axes[-1])
    cb.set_label(cbar_label)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def plot_time_courses(table: pd.DataFrame, path: str | os.PathLike, *, title: str = "Score time course",
                      ylabel: str = "brain score (Pearson r)") -> Path:
    """Score vs lag per region (mean ± CI across subjects) at the layer given in the table.

    Parameters
    ----------
    table
        ``<unit>, layer, lag, mean, ci_low, ci_high`` (see
        :func:`brainalign.plotting.sensors.time_course_table`).
    """
    unit = table.columns[0]
    fig = new_figure(5.5, 3.8)
    ax = fig.add_subplot()
    from .curves import COLORS

    for j, (name, d) in enumerate(table.groupby(unit, sort=False)):
        d = d.sort_values("lag")
        c = COLORS[j % len(COLORS)]
        ax.plot(1000 * d["lag"], d["mean"], color=c, label=f"{name} (layer {int(d['layer'].iloc[0])})")
        if d["ci_low"].notna().any():
            ax.fill_between(1000 * d["lag"], d["ci_low"], d["ci_high"], color=c, alpha=0.15, lw=0)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xlabel("lag after word onset (ms)")
    ax.set_ylabel(ylabel)
    n = int(table["n_subjects"].iloc[0]) if "n_subjects" in table else 0
    ax.set_title(f"{title}\nmean ± 95% CI across {n} subjects, at each region's best layer", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)


def time_course_table(scores: xr.Dataset, *, var: str = "r", by: str | None = "region",
                      confidence: float = 0.95) -> pd.DataFrame:
    """Per unit, the score over lags at its best layer (peak over lags of the subject mean)."""
    from ..analyses.units import check_scores, subject_stats, to_units, unit_dim

    da = check_scores(scores, var)
    if "lag" not in da.dims:
        raise ValueError("time courses need MEG/EEG scores with a 'lag' dimension")
    units = to_units(da, by)
    unit = unit_dim(units)
    best = units.mean("subject").max("lag").fillna(-np.inf).argmax("layer")
    frames = []
    for j, name in enumerate(units[unit].values):
        sub = units.isel({unit: j, "layer": int(best.values[j])})
        st = subject_stats(sub, confidence)
        frames.append(pd.DataFrame({unit: name, "layer": int(sub["layer"]), "lag": sub["lag"].values,
                                    **{k: st[k].values for k in ("mean", "ci_low", "ci_high", "p")},
                                    "n_subjects": int(units.sizes["subject"])}))
    return pd.concat(frames, ignore_index=True)
