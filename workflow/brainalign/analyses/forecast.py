"""Forecast windows (Caucheteux et al. 2023).

F(d) = score(features + forecast window at distance d) − score(features alone), per region and
subject.  The scores for each d come from the encoder run on
``brainalign.features.forecast_features`` outputs; these functions only compare Scores datasets.

Distances are ``d >= 1`` words ahead; ``d* = 0`` means *no forecast benefit*: no distance gives a
gain that is both larger than ``min_gain`` and significant across subjects.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from brainalign.config_checks import check_layers

from .units import LagReduce, check_scores, reduce_lag, region_labels, subject_stats, target_dim, to_units


def _layer_reduce(da: xr.DataArray, layer: int | str) -> xr.DataArray:
    """One score per subject and unit: the peak over layers, their mean, or one layer."""
    if layer == "peak":
        return da.max("layer")
    if layer == "mean":
        return da.mean("layer")
    return da.sel(layer=int(layer)).drop_vars(["layer", "relative_depth"], errors="ignore")


def _check_same_targets(base: xr.Dataset, other: xr.Dataset, what: str) -> None:
    dim = target_dim(base)
    for d in ("subject", dim):
        if d not in other.dims or other.sizes[d] != base.sizes[d] or \
                not np.array_equal(other[d].values, base[d].values):
            raise ValueError(f"forecast scores at {what} do not have the same {d!r} as the base scores")


def forecast_gain(base: xr.Dataset, by_distance: Mapping[int, xr.Dataset], *, var: str = "r",
                  by: str | None = "region", layer: int | str = "peak",
                  lag_reduce: LagReduce = "mean") -> xr.DataArray:
    """Forecast score F(d) per subject, unit and distance.

    Parameters
    ----------
    base
        Scores of the features alone.
    by_distance
        ``{d: Scores of features + forecast window at distance d}`` (``d >= 1``); layers must be
        a subset of the base's layers when ``layer`` is a number, and are matched by number.
    var
        Score variable (``r`` or ``r2``).
    by
        ``"region"`` or ``None`` (per target).
    layer
        ``"peak"`` (each model's best layer per subject and unit: the comparison of peak brain
        scores, which keeps the selection bias equal on both sides), ``"mean"`` over the common
        layers, or a layer number.
    lag_reduce
        How MEG/EEG lags are collapsed.

    Returns
    -------
    xr.DataArray
        ``forecast_gain`` with dims ``subject × <unit> × distance`` (coords carried from the units).
    """
    if not by_distance:
        raise ValueError("forecast_gain needs at least one distance")
    distances = sorted(int(d) for d in by_distance)
    if distances[0] < 1:
        raise ValueError(f"forecast distances must be >= 1 word, got {distances}")
    base_da = reduce_lag(check_scores(base, var), lag_reduce)
    parts = []
    for d in distances:
        other = by_distance[d]
        _check_same_targets(base, other, f"d={d}")
        oth = reduce_lag(check_scores(other, var), lag_reduce)
        common = np.intersect1d(base_da["layer"].values, oth["layer"].values)
        if common.size == 0:
            raise ValueError(f"forecast scores at d={d} share no layer with the base scores")
        b = to_units(base_da.sel(layer=common), by)
        o = to_units(oth.sel(layer=common), by)
        parts.append(_layer_reduce(o, layer) - _layer_reduce(b, layer))
    gain = xr.concat(parts, dim=xr.DataArray(distances, dims="distance", name="distance"),
                     coords="minimal", compat="override")
    gain.name = "forecast_gain"
    gain.attrs = {"score_variable": var, "layer": str(layer), "units": "difference in " + var}
    return gain.transpose("subject", ..., "distance")


BANDS = ("unique_present", "unique_window", "shared")


def _pick_layer(parts: dict[str, xr.DataArray], layer: int | str) -> dict[str, xr.DataArray]:
    """Reduce every component over layers alike: 'peak' takes the layer where the joint model peaks."""
    if layer == "peak":
        best = parts["joint"].fillna(-np.inf).argmax("layer")
        return {k: v.isel(layer=best).drop_vars(["layer", "relative_depth"], errors="ignore")
                for k, v in parts.items()}
    return {k: _layer_reduce(v, layer) for k, v in parts.items()}


def band_partition(base: xr.Dataset, by_distance: Mapping[int, xr.Dataset], *, by: str | None = "region",
                   layer: int | str = "peak", lag_reduce: LagReduce = "mean") -> xr.Dataset:
    """Variance partition (R²) of the present features and the forecast window, per distance.

    With ``P`` = R² of the present features (``base``), ``W`` = R² of the window alone
    (``r2_window``) and ``J`` = R² of the joint model (``r2``, from
    :func:`brainalign.analyses.forecast_fit.window_scores`): ``unique_window = J − P`` (the forecast
    gain in R²), ``unique_present = J − W`` and ``shared = P + W − J`` (de Heer et al. 2017).

    Parameters
    ----------
    base, by_distance
        As in :func:`forecast_gain`; the forecast scores must hold ``r2`` and ``r2_window``.
    by, layer, lag_reduce
        As in :func:`forecast_gain`; with ``layer="peak"`` every component is read at the layer where
        the joint model peaks (per subject, unit and distance), so that the three add up.

    Returns
    -------
    xr.Dataset
        ``unique_present``, ``unique_window``, ``shared`` and ``joint``, each ``subject × <unit> ×
        distance``.
    """
    if not by_distance:
        raise ValueError("band_partition needs at least one distance")
    distances = sorted(int(d) for d in by_distance)
    present = reduce_lag(check_scores(base, "r2"), lag_reduce)
    per_d = []
    for d in distances:
        other = by_distance[d]
        _check_same_targets(base, other, f"d={d}")
        joint = reduce_lag(check_scores(other, "r2"), lag_reduce)
        if "r2_window" not in other:
            raise ValueError(f"forecast scores at d={d} have no 'r2_window' (the window alone): re-run forecast_scores")
        alone = reduce_lag(other["r2_window"], lag_reduce)
        common = np.intersect1d(present["layer"].values, joint["layer"].values)
        if common.size == 0:
            raise ValueError(f"forecast scores at d={d} share no layer with the base scores")
        P, J, W = (to_units(v.sel(layer=common), by) for v in (present, joint, alone))
        picked = _pick_layer({"joint": J, "unique_window": J - P, "unique_present": J - W, "shared": P + W - J}, layer)
        per_d.append(xr.Dataset(picked))
    out = xr.concat(per_d, dim=xr.DataArray(distances, dims="distance", name="distance"), coords="minimal",
                    compat="override")
    out.attrs = {"score_variable": "r2", "layer": str(layer)}
    return out.transpose("subject", ..., "distance")


def band_table(partition: xr.Dataset, confidence: float = 0.95) -> pd.DataFrame:
    """Tidy variance partition: one row per unit, distance and band with the across-subject statistics.

    Returns
    -------
    pd.DataFrame
        ``<unit>, distance, band, mean, sem, ci_low, ci_high, t, p, n_subjects`` (bands
        ``unique_present``, ``unique_window``, ``shared``; R²).
    """
    frames = []
    for band in BANDS:
        df = forecast_table(partition[band].rename("forecast_gain"), confidence)
        df.insert(2, "band", band)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _gain_unit(gain: xr.DataArray) -> str:
    rest = [d for d in gain.dims if d not in ("subject", "distance")]
    if len(rest) != 1:
        raise ValueError(f"forecast gain must have dims subject × unit × distance, got {gain.dims}")
    return rest[0]


def forecast_table(gain: xr.DataArray, confidence: float = 0.95) -> pd.DataFrame:
    """Tidy F(d): one row per unit and distance with the across-subject mean, band and test.

    Returns
    -------
    pd.DataFrame
        ``<unit>, distance, mean, sem, ci_low, ci_high, t, p, n_subjects``.
    """
    unit = _gain_unit(gain)
    st = subject_stats(gain, confidence)
    df = st.drop_vars([c for c in st.coords if c not in (unit, "distance")]).to_dataframe().reset_index()
    df["n_subjects"] = int(gain.sizes["subject"])
    return df[[unit, "distance", "mean", "sem", "ci_low", "ci_high", "t", "p", "n_subjects"]]


def best_distance(gain: xr.DataArray, *, min_gain: float = 0.01, alpha: float = 0.05,
                  confidence: float = 0.95) -> pd.DataFrame:
    """The best forecast distance d* per unit.

    d* maximises the subject-mean F(d); it is reported as 0 (no forecast benefit) unless that
    mean gain exceeds ``min_gain`` and is significant (one-sided t-test across subjects,
    ``p < alpha``; with a single subject only ``min_gain`` applies).

    Returns
    -------
    pd.DataFrame
        ``<unit>, d_star, argmax_distance, gain, ci_low, ci_high, p, significant``.
    """
    unit = _gain_unit(gain)
    st = subject_stats(gain, confidence)
    mean = st["mean"].transpose(unit, "distance")
    distances = gain["distance"].values
    rows = []
    for j, name in enumerate(gain[unit].values):
        m = mean.values[j]
        if not np.isfinite(m).any():
            rows.append({unit: name, "d_star": 0, "argmax_distance": -1, "gain": np.nan, "ci_low": np.nan,
                         "ci_high": np.nan, "p": np.nan, "significant": False})
            continue
        k = int(np.nanargmax(m))
        pick = {unit: j, "distance": k}
        p = float(st["p"].isel(pick))
        sig = bool(m[k] > min_gain and (p < alpha if np.isfinite(p) else gain.sizes["subject"] == 1))
        rows.append({unit: name, "d_star": int(distances[k]) if sig else 0,
                     "argmax_distance": int(distances[k]), "gain": float(m[k]),
                     "ci_low": float(st["ci_low"].isel(pick)), "ci_high": float(st["ci_high"].isel(pick)),
                     "p": p, "significant": sig})
    return pd.DataFrame(rows)


def best_distance_map(base: xr.Dataset, by_distance: Mapping[int, xr.Dataset], *, var: str = "r",
                      layer: int | str = "peak", min_gain: float = 0.01,
                      lag_reduce: LagReduce = "mean") -> xr.Dataset:
    """d* per target (voxel/channel) for brain maps, from the subject-mean gain.

    Per target there is no across-subject test here (maps are descriptive); d* is 0 where the
    best mean gain does not exceed ``min_gain``.

    Returns
    -------
    xr.Dataset
        ``d_star`` and ``gain`` (the best mean gain) along the target dimension, with the target
        coordinates and the Scores attributes kept.
    """
    gain = forecast_gain(base, by_distance, var=var, by=None, layer=layer, lag_reduce=lag_reduce)
    mean = gain.mean("subject")
    dim = target_dim(base)
    filled = mean.fillna(-np.inf)
    k = filled.argmax("distance")
    best = filled.max("distance")
    d = xr.DataArray(gain["distance"].values[k.values], dims=(dim,))
    out = xr.Dataset({"d_star": d.where((best > min_gain).values, 0).astype(int),
                      "gain": best.where(np.isfinite(best)).drop_vars("distance", errors="ignore")})
    raw = base[var]
    out = out.assign_coords({c: raw[c] for c in raw.coords if raw[c].dims == (dim,)})
    out.attrs = dict(base.attrs)
    return out


def base_unit_scores(base: xr.Dataset, *, var: str = "r", by: str | None = "region",
                     lag_reduce: LagReduce = "mean") -> pd.Series:
    """Each unit's brain score with the features alone: peak over layers, mean over subjects.

    F(d) only means something where the features predict the unit at all; figures pick the units
    to show by this score, and tables report it beside d*.
    """
    da = to_units(reduce_lag(check_scores(base, var), lag_reduce), by)
    unit = [d for d in da.dims if d not in ("subject", "layer")][0]
    peak = da.max("layer").mean("subject")
    return pd.Series(peak.values, index=[str(v) for v in da[unit].values], name="base_score")


def region_distance_map(base: xr.Dataset, best: pd.DataFrame) -> xr.DataArray:
    """d* of each target's region (from :func:`best_distance`), along the target dimension.

    A voxel-wise d* map is mostly noise: per voxel there is no test across subjects, and a glass
    brain shows the maximum along each projection, so the largest d of any noisy voxel wins.  The
    region-level d* carries the across-subject test; targets outside every region get 0.

    Parameters
    ----------
    base
        Scores with a ``region`` coordinate on the target dimension (for the coordinates).
    best
        Output of :func:`best_distance` with ``by="region"`` (columns ``region``, ``d_star``).

    Returns
    -------
    xr.DataArray
        ``d_star`` (int) along the target dimension, target coordinates kept.
    """
    if "region" not in best.columns:
        raise ValueError("region_distance_map needs a per-region best-distance table (column 'region')")
    raw = base["r"]
    dim = target_dim(raw)
    labels = region_labels(raw)
    lookup = dict(zip(best["region"].astype(str), best["d_star"].astype(int)))
    values = np.array([lookup.get(lab, 0) for lab in labels], dtype=int)
    out = xr.DataArray(values, dims=(dim,), name="d_star")
    out = out.assign_coords({c: raw[c] for c in raw.coords if raw[c].dims == (dim,)})
    out.attrs = dict(base.attrs)
    return out


def distance_map(base: xr.Dataset, by_distance: Mapping[int, xr.Dataset], best: pd.DataFrame, *,
                 var: str = "r", layer: int | str = "peak", min_gain: float = 0.01,
                 lag_reduce: LagReduce = "mean") -> xr.DataArray:
    """The d* map a figure draws: per region when the scores have regions, else per target.

    Regions carry the across-subject test (:func:`region_distance_map`); without regions (all
    targets in one region ``all``) each target's own d* by ``min_gain`` is all there is
    (:func:`best_distance_map`).  Attribute ``per_region`` says which.
    """
    if set(best["region"].astype(str)) - {"all"}:
        values = region_distance_map(base, best).astype(float)
        values.attrs["per_region"] = True
        return values
    dmap = best_distance_map(base, by_distance, var=var, layer=layer, min_gain=min_gain, lag_reduce=lag_reduce)
    values = dmap["d_star"].astype(float)
    values.attrs.update(dmap.attrs, per_region=False)
    return values


def comparison_layer(layer: int | str, base: xr.Dataset, other: xr.Dataset, sources: str) -> int | str:
    """``analyses.forecast.layer`` checked for a comparison of ``base`` scores with ``other`` scores.

    A layer number must be a layer of both score sets (a :class:`brainalign.errors.ConfigError`
    naming the key and ``sources`` otherwise); ``'peak'`` and the other keywords pass unchanged.
    """
    if not isinstance(layer, str):
        check_layers([layer], sorted(set(base["layer"].values) & set(other["layer"].values)),
                     "analyses.forecast.layer", sources)
    return layer
