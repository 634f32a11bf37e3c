"""iEEG electrodes on a glass brain (nilearn): brain score, best layer and best lag, pooled and per patient.

The input is the electrode table of rule ``electrodes`` (:func:`brainalign.encoding.electrodes.electrode_table`):
one row per electrode with ``subject``, ``channel``, ``pos_x/y/z`` (m, the frame of the patient's
``electrodes.tsv``; MNI for a pooled picture), ``r_best``, ``best_layer``, ``best_lag``, ``r_layer_<L>``
and, with permutations, ``significant``.  Positions are drawn in MNI mm on nilearn's glass brain
(its outlines ship with nilearn: nothing is downloaded).

Unlike a scalp topomap nothing is interpolated: each electrode is one marker where it was
implanted.  Significant electrodes are large and coloured; the others are small and grey, so a
noise-only electrode's peak r (biased upwards by the choice of layer and lag) and its meaningless
best layer and lag do not read as findings.  Without a permutation test every electrode is drawn
alike.  Electrodes without a position cannot be placed: they are left out and counted in the row
title and in the returned summary.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .figure_io import new_figure, save_figure

log = logging.getLogger(__name__)

#: Columns the figure needs (module docstring).
REQUIRED = ("subject", "pos_x", "pos_y", "pos_z", "r_best", "best_layer", "best_lag")
#: Not significant, no score, or no test: the markers that carry no finding.
GREY = (0.62, 0.62, 0.62, 0.75)
#: Marker areas (points²): significant, not significant, and all electrodes when nothing was tested.
SIZE_SIG, SIZE_NONSIG, SIZE_UNTESTED = 42.0, 7.0, 18.0
# One glass-brain panel (left, top, right views) is about three times as wide as it is high.
PANEL_W, PANEL_H = 5.4, 1.9


@dataclass
class ElectrodeFigure:
    """What :func:`plot_electrodes` drew.

    Attributes
    ----------
    path
        The figure written.
    n_electrodes
        Electrodes in the table.
    n_plotted
        Electrodes with a finite position (drawn).
    without_position
        ``{subject: number of electrodes left out for lack of a position}`` (subjects with any).
    n_significant
        Significant electrodes (``None`` without a permutation test).
    """

    path: Path
    n_electrodes: int
    n_plotted: int
    without_position: dict[str, int] = field(default_factory=dict)
    n_significant: int | None = None


def _check_columns(table: pd.DataFrame, source: str) -> None:
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(source, f"missing column(s) {', '.join(missing)}",
                         expected=f"an electrode table of rule 'electrodes' with columns {', '.join(REQUIRED)}")


def _layer_range(table: pd.DataFrame) -> tuple[float, float]:
    """First and last layer of the model (from ``r_layer_<L>``, else the best layers seen)."""
    layers = [int(c[len("r_layer_"):]) for c in table.columns if c.startswith("r_layer_")]
    if not layers:
        layers = pd.to_numeric(table["best_layer"], errors="coerce").dropna().astype(int).tolist() or [0, 1]
    lo, hi = float(min(layers)), float(max(layers))
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _finite_range(values: np.ndarray, pad: float) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    return (lo, hi) if hi > lo else (lo - pad, hi + pad)


def _positions_mm(table: pd.DataFrame, source: str) -> np.ndarray:
    """``(n, 3)`` electrode positions in mm (NaN where missing); a table in metres is converted."""
    xyz = table[["pos_x", "pos_y", "pos_z"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    finite = xyz[np.isfinite(xyz)]
    if finite.size and np.abs(finite).max() < 1.0:
        # no brain spans less than a millimetre: these are metres (a table from MNE positions)
        log.warning("%s: electrode positions are at most %.3g in size: taken as metres and drawn in mm", source,
                    np.abs(finite).max())
        xyz = xyz * 1000.0
    return xyz


def _scales(table: pd.DataFrame, r: np.ndarray, coloured: np.ndarray, score_label: str) -> list[tuple]:
    """``(column title, values, norm, colour map, colour-bar label)`` of the score, best layer and best lag.

    The score scale is symmetric around 0 and spans the coloured (significant, placed) electrodes
    only; with none coloured, every scored electrode (a scale of +-0.001 would say nothing).
    """
    from matplotlib import colors

    layer = pd.to_numeric(table["best_layer"], errors="coerce").to_numpy(float)
    lag = pd.to_numeric(table["best_lag"], errors="coerce").to_numpy(float)
    span = r[coloured] if coloured.any() else r[np.isfinite(r)]
    rmax = max(float(np.nanmax(np.abs(span))) if span.size else 0.0, 1e-3)
    lag_pad = 0.05 if np.nanmax(np.abs(lag), initial=0.0) < 5 else 50.0
    return [
        ("brain score", r, colors.Normalize(-rmax, rmax), "RdBu_r", score_label),
        ("best layer", layer, colors.Normalize(*_layer_range(table)), "viridis", "best layer"),
        # the lags seen over all electrodes span the searched window, the scale a lag is read against
        ("best lag", lag, colors.Normalize(*_finite_range(lag, lag_pad)), "plasma", "best lag (s)"),
    ]


def _draw_panel(fig, ax, xyz: np.ndarray, drawn: np.ndarray, shown: np.ndarray, r: np.ndarray,
                values: np.ndarray, norm, cmap: str, *, tested: bool, display_mode: str, annotate: bool) -> None:
    """One glass brain: the ``drawn`` electrodes, grey unless ``shown``, coloured by ``values``."""
    from matplotlib import colormaps
    from nilearn import plotting

    display = plotting.plot_glass_brain(None, display_mode=display_mode, axes=ax, figure=fig, annotate=annotate)
    grey = drawn & ~shown
    if grey.any():
        display.add_markers(xyz[grey], marker_color=[GREY], marker_size=SIZE_NONSIG if tested else SIZE_UNTESTED,
                            linewidths=0, clip_on=False)
    coloured = np.flatnonzero(drawn & shown & np.isfinite(values))
    if coloured.size:
        # strongest last, so they are drawn on top where markers overlap
        coloured = coloured[np.argsort(np.abs(r[coloured]), kind="stable")]
        display.add_markers(xyz[coloured], marker_color=list(colormaps[cmap](norm(values[coloured]))),
                            marker_size=SIZE_SIG if tested else SIZE_UNTESTED,
                            edgecolors="k", linewidths=0.4,
                            # lateral grid contacts lie on the outline of the top view: not cut in half
                            clip_on=False)


def _colour_bars(fig, scales: list[tuple], height: float, foot: float) -> None:
    """Column titles at the top and one horizontal colour bar per column at the bottom."""
    from matplotlib import cm
    from matplotlib.ticker import MaxNLocator

    n_cols = len(scales)
    bar_h = 0.16 / height
    for j, (column, _, norm, cmap, label) in enumerate(scales):
        fig.text((j + 0.5) / n_cols, 1 - 0.62 / height, column, ha="center", va="top", fontsize=11,
                 fontweight="bold")
        cax = fig.add_axes([(j + 0.2) / n_cols, (foot - 0.45) / height, 0.6 / n_cols, bar_h])
        bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
        bar.locator = MaxNLocator(nbins=5)  # a handful of readable ticks whatever the range
        bar.update_ticks()
        bar.set_label(label, fontsize=9)
        bar.ax.tick_params(labelsize=8)
        if column == "best layer":
            bar.ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))


def _row_label(name: str, in_row: np.ndarray, placed: np.ndarray, sig: np.ndarray | None) -> str:
    """Row title: electrodes, significant ones (``sig`` None: no test) and those without a position."""
    n_row, n_pos = int(in_row.sum()), int((in_row & placed).sum())
    label = f"{name}: {n_row} electrodes"
    if sig is not None:
        label += f", {int((in_row & sig).sum())} significant"
    if n_pos < n_row:
        label += f"; {n_row - n_pos} without position not drawn"
    return label


def plot_electrodes(table: pd.DataFrame, path: str | os.PathLike, *, title: str, source: str = "electrode table",
                    score_label: str = "peak Pearson r", display_mode: str = "lzr",
                    dpi: int = 150) -> ElectrodeFigure:
    """Electrodes on a glass brain: brain score, best layer and best lag; all patients, then each patient.

    Rows: all patients pooled, then one per patient (in table order).  Columns: the electrode's
    peak score over layers and lags (symmetric diverging scale), its best layer and its best lag,
    each on one colour scale shared by all rows so patients can be compared.

    Parameters
    ----------
    table
        Electrode table (module docstring); ``pos_x/y/z`` in MNI mm, as iEEG preprocessing writes
        them (a table in metres, MNE's internal unit, is recognised by its size and converted, logged).
    path
        Figure file (PNG, SVG or PDF by suffix), written atomically.
    title
        Figure title.
    source
        Name of the table's file, for errors.
    score_label
        Colour-bar label of the score column.
    display_mode
        nilearn glass-brain views of each panel (default left, top, right).
    dpi
        Resolution of raster formats.

    Returns
    -------
    ElectrodeFigure
        The path and what was drawn (electrodes without a position are counted, not drawn).

    Raises
    ------
    InputError
        If a required column is missing (naming ``source`` and the columns).
    """
    _check_columns(table, source)
    table = table.reset_index(drop=True)
    xyz = _positions_mm(table, source)
    placed = np.isfinite(xyz).all(axis=1)
    r = pd.to_numeric(table["r_best"], errors="coerce").to_numpy(float)
    tested = "significant" in table.columns
    sig = (table["significant"].astype(str).str.lower().isin(("true", "1")).to_numpy() if tested
           else np.ones(len(table), bool))
    # What is coloured: significant electrodes (every scored one without a test); the rest is grey.
    shown = sig & np.isfinite(r)
    subjects = list(dict.fromkeys(table["subject"].astype(str)))
    subject = table["subject"].astype(str).to_numpy()
    scales = _scales(table, r, shown & placed, score_label)
    rows = [("all patients", np.ones(len(table), bool))] + [
        (s if s.startswith("sub-") else f"sub-{s}", subject == s) for s in subjects]
    without = {s: int((~placed & (subject == s)).sum()) for s in subjects if (~placed & (subject == s)).any()}

    n_cols, n_rows = len(scales), len(rows)
    head, foot = 1.05, 0.85  # inches above the first row (titles) and below the last (colour bars)
    width, height = PANEL_W * n_cols, PANEL_H * n_rows + head + foot
    fig = new_figure(width, height)
    fig.suptitle(title, y=1 - 0.18 / height, fontsize=13)
    legend = ("large coloured: significant (q_electrode ≤ encoding.fdr_q); small grey: not significant"
              if tested else "no permutation test (encoding.n_permutations = 0): every electrode coloured")
    fig.text(0.5, 1 - 0.42 / height, legend, ha="center", va="top", fontsize=9, color="0.3")
    for i, (name, in_row) in enumerate(rows):
        fig.text(0.005, 1 - (head + i * PANEL_H) / height + 0.02 / height,
                 _row_label(name, in_row, placed, sig if tested else None), ha="left", va="bottom",
                 fontsize=10, fontweight="bold" if i == 0 else "normal")
        for j, (_, values, norm, cmap, _) in enumerate(scales):
            top = 1 - (head + i * PANEL_H) / height
            ax = fig.add_axes([j / n_cols, top - (PANEL_H - 0.3) / height, 1 / n_cols, (PANEL_H - 0.3) / height])
            _draw_panel(fig, ax, xyz, in_row & placed, shown, r, values, norm, cmap, tested=tested,
                        display_mode=display_mode, annotate=(i == 0))
    _colour_bars(fig, scales, height, foot)
    out = save_figure(fig, path, dpi=dpi)
    return ElectrodeFigure(path=out, n_electrodes=len(table), n_plotted=int(placed.sum()), without_position=without,
                           n_significant=int(sig.sum()) if tested else None)
