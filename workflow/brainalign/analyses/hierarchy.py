"""Layer profiles and the cortical hierarchy (Mischler et al. 2024).

* :func:`layer_profiles` — score per layer per region, mean across subjects with a confidence band.
* :func:`best_layers` — each region's best layer (absolute and relative depth), from the group
  profile and from each subject's own profile (spread across subjects).
* :func:`best_layer_map` — the same per voxel/channel, with coordinates kept, for brain maps.
* :func:`peak_latency` — MEG/EEG response latency: the lag at which a region's score peaks.
* :func:`hierarchy_correlation` — does a region's position in the hierarchy (a given ordering, or
  its latency) predict its best layer?
* :func:`distance_to_a1` / :func:`electrode_hierarchy` — iEEG: each electrode's distance (mm) from
  primary auditory cortex as its hierarchy coordinate, correlated with its best layer across
  electrodes and within each region (Mischler et al. 2024).
* :func:`depth_at_fraction` / :func:`fraction_of_peak_table` — "fewer layers for the same
  encoding": the relative depth at which a model's profile first reaches 95 % of its peak.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from .units import LagReduce, check_scores, fdr, reduce_lag, subject_stats, target_dim, to_units, unit_dim

#: Reference points of primary auditory cortex (MNI152, mm) for the iEEG hierarchy coordinate, per
#: hemisphere.  Mischler et al. (2024, Nat. Mach. Intell. 6:1467) order electrodes by their distance
#: from posteromedial Heschl's gyrus (HG), the site of primary auditory cortex (cytoarchitectonic
#: Te1.0/Te1.1 on the medial two-thirds of HG: Morosan et al. 2001, NeuroImage 13:684;
#: Rademacher et al. 2001, NeuroImage 13:669).  These rounded points lie on the crown of HG in
#: MNI152 (the Harvard-Oxford HG label is centred near (+-45, -19, 7)); a study may prefer its own
#: point, e.g. the posteromedial end (Te1.1) a few mm medial and posterior: set
#: ``analyses.hierarchy.ieeg_reference``.
A1_REFERENCE_MNI: dict[str, tuple[float, float, float]] = {"left": (-45.0, -20.0, 8.0), "right": (45.0, -20.0, 8.0)}


def _unit_scores(scores: xr.Dataset, var: str, by: str | None, lag_reduce: LagReduce) -> xr.DataArray:
    da = reduce_lag(check_scores(scores, var), lag_reduce)
    return to_units(da, by).transpose("subject", "layer", ...)


def layer_profiles(scores: xr.Dataset, *, var: str = "r", by: str | None = "region",
                   lag_reduce: LagReduce = "mean", confidence: float = 0.95) -> pd.DataFrame:
    """Score per layer per region: mean across subjects, confidence band, significance.

    Parameters
    ----------
    scores
        A Scores dataset.
    var
        Score variable (``r`` or ``r2``).
    by
        ``"region"`` (average targets per region) or ``None`` (every target).
    lag_reduce
        How MEG/EEG lags are collapsed (``max``: peak over lags).
    confidence
        Level of the t-based band across subjects.

    Returns
    -------
    pd.DataFrame
        One row per unit and layer: ``<unit>, layer, relative_depth, mean, sem, ci_low, ci_high,
        t, p, p_fdr, n_subjects`` where ``p`` is the one-sided one-sample t-test (score > 0) across
        subjects and ``p_fdr`` its Benjamini–Hochberg correction over all rows.
    """
    da = _unit_scores(scores, var, by, lag_reduce)
    unit = unit_dim(da)
    st = subject_stats(da, confidence)
    df = st.drop_vars([c for c in st.coords if c not in ("layer", unit, "relative_depth")]) \
        .to_dataframe().reset_index()
    df["p_fdr"] = fdr(df["p"].to_numpy())
    df["n_subjects"] = int(da.sizes["subject"])
    cols = [unit, "layer", "relative_depth", "mean", "sem", "ci_low", "ci_high", "t", "p", "p_fdr", "n_subjects"]
    return df[cols].sort_values([unit, "layer"], key=_stable_key(df[unit])).reset_index(drop=True)


def _stable_key(units: pd.Series):
    """Sort key keeping units in their order of first appearance (atlas order), layers numerically."""
    order = {u: i for i, u in enumerate(dict.fromkeys(units))}
    return lambda col: col.map(order) if col.name == units.name else col


def _argmax_layer(profile: xr.DataArray) -> xr.DataArray:
    """Index of the best layer along ``layer`` (NaN-safe; all-NaN profiles give -1)."""
    filled = profile.fillna(-np.inf)
    idx = filled.argmax("layer")
    return idx.where(np.isfinite(filled.max("layer")), -1)


def best_layers(scores: xr.Dataset, *, var: str = "r", by: str | None = "region",
                lag_reduce: LagReduce = "mean", confidence: float = 0.95) -> pd.DataFrame:
    """Each unit's best layer, as an absolute layer and a relative depth.

    The group best layer maximises the subject-mean profile; the subject-level spread is the
    mean and t-based confidence interval of each subject's own best relative depth.

    Returns
    -------
    pd.DataFrame
        One row per unit: ``<unit>, best_layer, best_relative_depth, peak_score, peak_ci_low,
        peak_ci_high, peak_p, subject_depth_mean, subject_depth_ci_low, subject_depth_ci_high,
        n_subjects`` (``peak_p``: one-sided t-test of the peak score > 0 across subjects; it
        ignores the selection of the peak and is therefore optimistic).
    """
    da = _unit_scores(scores, var, by, lag_reduce)
    unit = unit_dim(da)
    depth = da["relative_depth"].values
    layers = da["layer"].values
    st = subject_stats(da, confidence)
    group_idx = _argmax_layer(st["mean"]).values
    subj_idx = _argmax_layer(da).values  # subject × unit
    subj_depth = np.where(subj_idx >= 0, depth[np.clip(subj_idx, 0, None)], np.nan)
    n = int(da.sizes["subject"])
    rows = []
    for j, name in enumerate(da[unit].values):
        g = int(group_idx[j])
        sd = subj_depth[:, j]
        if n > 1 and np.isfinite(sd).sum() > 1:
            half = stats.t.ppf(0.5 + confidence / 2, n - 1) * np.nanstd(sd, ddof=1) / np.sqrt(n)
        else:
            half = np.nan
        pick = {unit: j, "layer": max(g, 0)}
        rows.append({
            unit: name,
            "best_layer": int(layers[g]) if g >= 0 else -1,
            "best_relative_depth": float(depth[g]) if g >= 0 else np.nan,
            "peak_score": float(st["mean"].isel(pick)) if g >= 0 else np.nan,
            "peak_ci_low": float(st["ci_low"].isel(pick)) if g >= 0 else np.nan,
            "peak_ci_high": float(st["ci_high"].isel(pick)) if g >= 0 else np.nan,
            "peak_p": float(st["p"].isel(pick)) if g >= 0 else np.nan,
            "subject_depth_mean": float(np.nanmean(sd)),
            "subject_depth_ci_low": float(np.nanmean(sd) - half),
            "subject_depth_ci_high": float(np.nanmean(sd) + half),
            "n_subjects": n,
        })
    return pd.DataFrame(rows)


def best_layer_map(scores: xr.Dataset, *, var: str = "r", lag_reduce: LagReduce = "mean") -> xr.Dataset:
    """Per target (voxel/channel): best layer, best relative depth and peak subject-mean score.

    Returns
    -------
    xr.Dataset
        Variables ``best_layer``, ``best_relative_depth``, ``peak_score`` along the target
        dimension, with the target coordinates (``x, y, z`` / ``pos_*``, ``region``) and the
        Scores attributes (``affine``, ``mask_shape``, ``montage``) kept for plotting.
    """
    da = reduce_lag(check_scores(scores, var), lag_reduce)
    dim = target_dim(da)
    mean = da.mean("subject")
    idx = _argmax_layer(mean)
    ok = idx >= 0
    safe = idx.where(ok, 0)
    best_layer = xr.DataArray(mean["layer"].values[safe.values], dims=(dim,))
    best_depth = xr.DataArray(mean["relative_depth"].values[safe.values], dims=(dim,))
    peak = mean.isel(layer=safe)
    out = xr.Dataset({
        "best_layer": best_layer.where(ok.values, -1),
        "best_relative_depth": best_depth.where(ok.values),
        "peak_score": peak.where(ok).drop_vars(["layer", "relative_depth"], errors="ignore"),
    })
    keep = {c: da[c] for c in da.coords if da[c].dims == (dim,)}
    out = out.assign_coords(keep)
    # Grid/montage attributes may sit on the dataset or on the score variable.
    out.attrs = {**dict(scores[var].attrs), **dict(scores.attrs)}
    out.attrs["score_variable"] = var
    return out


def peak_latency(scores: xr.Dataset, *, var: str = "r", by: str | None = "region",
                 layer: int | str = "best") -> pd.DataFrame:
    """MEG/EEG response latency: the lag at which each unit's subject-mean score peaks.

    Parameters
    ----------
    layer
        ``"best"``: at each unit's best layer (peak over lags); ``"mean"``: on the layer-averaged
        time course; or an explicit layer number.

    Returns
    -------
    pd.DataFrame
        ``<unit>, latency, peak_score, layer`` (``layer`` is -1 for ``"mean"``).
    """
    da = check_scores(scores, var)
    if "lag" not in da.dims:
        raise ValueError("peak_latency needs MEG/EEG scores with a 'lag' dimension")
    da = to_units(da, by).mean("subject")
    unit = unit_dim(da)
    if layer == "mean":
        course = da.mean("layer")
        used = xr.full_like(course.isel(lag=0), -1, dtype=int)
    elif layer == "best":
        best = _argmax_layer(da.max("lag")).clip(min=0)
        course = da.isel(layer=best)
        used = course["layer"]
    else:
        course = da.sel(layer=int(layer))
        used = xr.full_like(course.isel(lag=0), int(layer), dtype=int)
    lag_idx = course.fillna(-np.inf).argmax("lag")
    lags = da["lag"].values
    return pd.DataFrame({
        unit: da[unit].values,
        "latency": lags[lag_idx.values],
        "peak_score": course.max("lag").values,
        "layer": np.broadcast_to(np.asarray(used.values), (da.sizes[unit],)).astype(int),
    })


def hierarchy_correlation(position: Mapping[str, float] | pd.Series, best: pd.DataFrame, *,
                          unit: str = "region", column: str = "best_relative_depth") -> dict:
    """Correlate each unit's hierarchy position (or latency) with its best layer.

    Parameters
    ----------
    position
        ``{unit: position}`` (e.g. an ordering from primary auditory cortex outwards, or a latency
        in s). Units missing from ``best`` are an error; units of ``best`` without a position are
        ignored.
    best
        Output of :func:`best_layers` (or any table with ``unit`` and ``column``).

    Returns
    -------
    dict
        ``n, spearman_rho, spearman_p, pearson_r, pearson_p`` (NaN with fewer than 3 units).
    """
    position = pd.Series(position, dtype=float)
    table = best.set_index(unit)[column]
    missing = [u for u in position.index if u not in table.index]
    if missing:
        raise ValueError(f"hierarchy positions given for units absent from the scores: {missing} "
                         f"(present: {list(table.index)})")
    x = position.to_numpy()
    y = table.loc[position.index].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    out = {"n": int(ok.sum()), "spearman_rho": np.nan, "spearman_p": np.nan,
           "pearson_r": np.nan, "pearson_p": np.nan}
    if ok.sum() >= 3 and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
        rho, p = stats.spearmanr(x[ok], y[ok])
        r, pr = stats.pearsonr(x[ok], y[ok])
        out.update(spearman_rho=float(rho), spearman_p=float(p), pearson_r=float(r), pearson_p=float(pr))
    return out


def distance_to_a1(xyz_mm: np.ndarray, reference: Mapping[str, tuple[float, float, float]] | None = None
                   ) -> np.ndarray:
    """Euclidean distance (mm) of each MNI position from primary auditory cortex of its hemisphere.

    Parameters
    ----------
    xyz_mm
        ``(n, 3)`` MNI positions in mm (NaN rows give NaN).
    reference
        ``{"left": (x, y, z), "right": (x, y, z)}``; default :data:`A1_REFERENCE_MNI`.  The
        hemisphere is the sign of x (x < 0: left; midline contacts, x = 0, count as right).
    """
    ref = {**A1_REFERENCE_MNI, **dict(reference or {})}
    xyz = np.asarray(xyz_mm, dtype=float).reshape(-1, 3)
    left, right = np.asarray(ref["left"], dtype=float), np.asarray(ref["right"], dtype=float)
    target = np.where((xyz[:, 0] < 0)[:, None], left, right)
    return np.linalg.norm(xyz - target, axis=1)


def _correlate(x: np.ndarray, y: np.ndarray) -> dict:
    ok = np.isfinite(x) & np.isfinite(y)
    out = {"n": int(ok.sum()), "spearman_rho": np.nan, "spearman_p": np.nan, "pearson_r": np.nan, "pearson_p": np.nan}
    if ok.sum() >= 3 and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
        rho, p = stats.spearmanr(x[ok], y[ok])
        r, pr = stats.pearsonr(x[ok], y[ok])
        out.update(spearman_rho=float(rho), spearman_p=float(p), pearson_r=float(r), pearson_p=float(pr))
    return out


def electrode_hierarchy(scores: xr.Dataset, *, var: str = "r", lag_reduce: LagReduce = "mean",
                        reference: Mapping[str, tuple[float, float, float]] | None = None,
                        fdr_q: float = 0.05, min_score: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """iEEG hierarchy: each electrode's best layer against its distance from primary auditory cortex.

    Mischler et al. (2024) find that electrodes farther from posteromedial Heschl's gyrus are best
    predicted by deeper layers.  Here each electrode's best relative depth (argmax over layers of
    its subject-mean score, :func:`best_layer_map`; with pooled patients the mean is the owning
    patient's own score) is correlated with its distance (:func:`distance_to_a1`) across the
    selected electrodes and within each region.

    Parameters
    ----------
    scores
        Channel Scores with MNI positions (see
        :func:`brainalign.analyses.regions.electrode_positions_mm`) and, for the per-region rows,
        a ``region`` coordinate.
    reference
        Reference points (default :data:`A1_REFERENCE_MNI`).
    fdr_q, min_score
        Electrodes that enter the correlations: with a channel-level permutation p-value
        (``p_channel``) those whose Benjamini-Hochberg q over all electrodes is at most ``fdr_q``;
        without one those whose peak score exceeds ``min_score``.  A best layer means something
        only where the electrode responds.

    Returns
    -------
    (electrodes, correlation)
        ``electrodes``: one row per electrode: ``channel``, ``subject`` (pooled patients),
        ``region`` (if any), ``x, y, z`` (mm), ``distance_a1`` (mm), ``best_layer``,
        ``best_relative_depth``, ``peak_score``, ``q`` (NaN without ``p_channel``), ``selected``.
        ``correlation``: one row for ``scope="electrodes"`` (all selected electrodes of all
        patients), one per region (``scope="region"``, ``region`` set) and one per patient
        (``scope="subject"``, ``subject`` set): ``n``, ``spearman_rho/p``, ``pearson_r/p`` of
        distance vs best relative depth (NaN with fewer than 3 electrodes).
    """
    from .regions import electrode_positions_mm

    bmap = best_layer_map(scores, var=var, lag_reduce=lag_reduce)
    dim = target_dim(bmap)
    xyz = electrode_positions_mm(scores)
    dist = distance_to_a1(xyz, reference)
    table = pd.DataFrame({
        "channel": np.asarray(bmap[dim].values).astype(str),
        "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "distance_a1": dist,
        "best_layer": np.asarray(bmap["best_layer"].values).astype(int),
        "best_relative_depth": np.asarray(bmap["best_relative_depth"].values, dtype=float),
        "peak_score": np.asarray(bmap["peak_score"].values, dtype=float),
    })
    if "region" in bmap.coords:
        table.insert(1, "region", np.asarray(bmap["region"].values).astype(str))
    if "channel_subject" in bmap.coords:  # pooled patients: whose electrode it is
        table.insert(1, "subject", [str(v) for v in np.asarray(bmap["channel_subject"].values).ravel()])
    if "p_channel" in scores:
        # Pooled patients: each electrode has its owner's p and NaN elsewhere; shared electrodes:
        # the best (smallest) p over subjects would be optimistic, so the median is used.
        p = scores["p_channel"].median("subject", skipna=True) if "subject" in scores["p_channel"].dims \
            else scores["p_channel"]
        table["q"] = fdr(np.asarray(p.transpose(dim).values, dtype=float))
        table["selected"] = (table["q"] <= fdr_q).to_numpy()
    else:
        table["q"] = np.nan
        table["selected"] = (table["peak_score"] > min_score).to_numpy()
    table["selected"] &= np.isfinite(table["best_relative_depth"]) & np.isfinite(table["distance_a1"])
    sel = table[table["selected"]]

    def row(scope: str, part: pd.DataFrame, region: str = "", subject: str = "") -> dict:
        return {"scope": scope, "region": region, "subject": subject,
                **_correlate(part["distance_a1"].to_numpy(), part["best_relative_depth"].to_numpy())}

    rows = [row("electrodes", sel)]
    for name in dict.fromkeys(table["region"]) if "region" in table else ():
        if name not in ("", "unknown"):
            rows.append(row("region", sel[sel["region"] == name], region=name))
    for sub in dict.fromkeys(table["subject"]) if "subject" in table else ():
        rows.append(row("subject", sel[sel["subject"] == sub], subject=sub))
    return table, pd.DataFrame(rows)


def depth_at_fraction(profile: np.ndarray, depth: np.ndarray, fraction: float = 0.95) -> float:
    """Relative depth at which a layer profile first reaches ``fraction`` of its peak.

    The crossing is linearly interpolated between the last layer below the level and the first
    layer at or above it (a profile that starts above the level returns the first depth).

    Parameters
    ----------
    profile
        Scores ordered by depth.
    depth
        Relative depths (increasing) of the same layers.
    fraction
        Fraction of the peak (0 < fraction <= 1).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    profile = np.asarray(profile, dtype=float)
    depth = np.asarray(depth, dtype=float)
    if not np.isfinite(profile).any():
        return float("nan")
    peak = np.nanmax(profile)
    if peak <= 0:
        return float("nan")  # no positive encoding to speak of
    level = fraction * peak
    above = np.flatnonzero(np.nan_to_num(profile, nan=-np.inf) >= level)
    k = int(above[0])
    if k == 0 or not np.isfinite(profile[k - 1]):
        return float(depth[k])
    lo, hi = profile[k - 1], profile[k]
    return float(depth[k - 1] + (level - lo) / (hi - lo) * (depth[k] - depth[k - 1]))


def fraction_of_peak_table(scores_by_model: Mapping[str, xr.Dataset], *, fraction: float = 0.95,
                           var: str = "r", by: str | None = "region",
                           lag_reduce: LagReduce = "mean") -> pd.DataFrame:
    """Per model and unit (plus ``all``: every target pooled), where 95 % of the peak is reached.

    Returns
    -------
    pd.DataFrame
        ``model, <unit>, peak_score, peak_relative_depth, depth_at_fraction, fraction`` computed on
        the subject-mean profile.
    """
    rows = []
    for model, scores in scores_by_model.items():
        raw = reduce_lag(check_scores(scores, var), lag_reduce)
        profiles = {}
        if by is not None:
            units = to_units(raw, by).mean("subject")
            for name in units["region"].values:
                profiles[str(name)] = units.sel(region=name)
        profiles["all"] = raw.mean(["subject", target_dim(raw)])
        for name, prof in profiles.items():
            prof = prof.transpose("layer")
            depth = prof["relative_depth"].values
            values = prof.values
            peak_idx = int(np.nanargmax(values)) if np.isfinite(values).any() else -1
            rows.append({
                "model": model, by or "target": name,
                "peak_score": float(values[peak_idx]) if peak_idx >= 0 else np.nan,
                "peak_relative_depth": float(depth[peak_idx]) if peak_idx >= 0 else np.nan,
                "depth_at_fraction": depth_at_fraction(values, depth, fraction),
                "fraction": fraction,
            })
    return pd.DataFrame(rows)


def top_units(best: pd.DataFrame, n: int | None = 8, *, column: str = "peak_score",
              always: tuple[str, ...] = ()) -> list[str]:
    """The ``n`` units with the highest ``column`` (e.g. peak score), in table order.

    Figures with one panel per region stay readable with dozens of atlas parcels: show the best
    ``n`` plus any ``always`` listed (e.g. configured regions of interest).  ``n=None`` keeps all.
    """
    unit = best.columns[0]
    names = [str(u) for u in best[unit]]
    if n is None or len(names) <= n:
        chosen = set(names)
    else:
        order = best.sort_values(column, ascending=False, na_position="last")[unit].astype(str)
        chosen = set(order.iloc[:n])
    chosen |= {u for u in always if u in names}
    return [u for u in names if u in chosen]
