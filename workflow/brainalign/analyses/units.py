"""Scores datasets -> the units an analysis speaks about (regions, or single voxels/channels).

Every analysis reads a Scores dataset (``docs/architecture.md``: ``r``, ``r2``, ``alpha`` with dims
``subject × layer × voxel`` or ``subject × layer × channel × lag``).  The helpers here find the
target dimension, reduce the MEG/EEG ``lag`` axis and average targets into regions, so that each
analysis module only deals with ``subject × layer × unit`` arrays.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr
from scipy import stats

TARGET_DIMS = ("voxel", "channel")
LagReduce = Literal["max", "mean", "none"]


def target_dim(obj: xr.Dataset | xr.DataArray) -> str:
    """Name of the target dimension (``voxel`` or ``channel``) of a Scores object.

    Raises
    ------
    ValueError
        If neither (or both) of ``voxel`` / ``channel`` is a dimension.
    """
    found = [d for d in TARGET_DIMS if d in obj.dims]
    if len(found) != 1:
        raise ValueError(
            f"Scores must have exactly one target dimension among {TARGET_DIMS}; got dims {tuple(obj.dims)}"
        )
    return found[0]


def check_scores(scores: xr.Dataset, var: str = "r") -> xr.DataArray:
    """Return ``scores[var]`` after checking the Scores contract (dims, ``relative_depth``).

    Raises
    ------
    ValueError
        Naming the missing variable, dimension or coordinate.
    """
    if var not in scores:
        raise ValueError(f"Scores dataset has no variable {var!r} (has {sorted(scores.data_vars)})")
    da = scores[var]
    for dim in ("subject", "layer"):
        if dim not in da.dims:
            raise ValueError(f"Scores variable {var!r} lacks dimension {dim!r} (dims {da.dims})")
    target_dim(da)
    if "relative_depth" not in da.coords:
        raise ValueError("Scores lack the 'relative_depth' coordinate on 'layer' (layer / n_layers)")
    return da


def reduce_lag(da: xr.DataArray, how: LagReduce = "mean") -> xr.DataArray:
    """Collapse the ``lag`` axis of MEG/EEG scores (no-op for fMRI).

    Parameters
    ----------
    da
        Scores with or without a ``lag`` dimension.
    how
        ``"mean"`` (default): mean over lags, unbiased for noise-only targets; ``"max"``: the peak
        score over lags per subject (a "peak r", biased upwards for noise: a max of noisy values);
        ``"none"``: keep ``lag``.
    """
    if "lag" not in da.dims or how == "none":
        return da
    if how == "max":
        return da.max("lag")
    if how == "mean":
        return da.mean("lag")
    raise ValueError(f"lag reduction must be 'max', 'mean' or 'none', got {how!r}")


def region_labels(da: xr.DataArray) -> np.ndarray:
    """Per-target region labels (``region`` coordinate) as strings.

    Raises
    ------
    ValueError
        If the scores carry no ``region`` coordinate (configure an atlas at preprocessing).
    """
    dim = target_dim(da)
    if "region" not in da.coords:
        raise ValueError(
            f"Scores have no 'region' coordinate on {dim!r}: configure an atlas / channel groups in "
            "preprocessing, or run the analysis per target (by=None)"
        )
    return np.asarray(da["region"].values).astype(str)


def to_units(da: xr.DataArray, by: str | None = "region", exclude: tuple[str, ...] = ("",)) -> xr.DataArray:
    """Average targets into regions (``by="region"``) or keep every target (``by=None``).

    Parameters
    ----------
    da
        Scores variable (``subject × layer × target [× lag]``).
    by
        ``"region"`` to average the targets sharing a ``region`` label; ``None`` to keep targets.
    exclude
        Region labels to drop (unassigned targets).

    Returns
    -------
    xr.DataArray
        With the target dimension replaced by ``region`` (coordinate ``n_targets``), or unchanged.
    """
    if by is None:
        return da
    if by != "region":
        raise ValueError(f"'by' must be 'region' or None, got {by!r}")
    dim = target_dim(da)
    labels = region_labels(da)
    # Natural order (G2 before G10, L-02 before R-01) so that every table and figure lists regions alike.
    names = sorted((lab for lab in dict.fromkeys(labels) if lab not in exclude), key=_natural_key)
    if not names:
        raise ValueError(f"no region labels left after excluding {exclude}")
    parts, counts = [], []
    for name in names:
        idx = np.flatnonzero(labels == name)
        # Means over targets of r: a region's score is the average brain score of its targets.
        parts.append(da.isel({dim: idx}).mean(dim, skipna=True))
        counts.append(idx.size)
    out = xr.concat(parts, dim="region", coords="minimal", compat="override")
    # Reductions over the target dim already dropped per-target coords (x, y, z, ch_type, ...).
    return out.assign_coords(region=np.asarray(names, dtype=object), n_targets=("region", np.asarray(counts)))


def _natural_key(label: str) -> list:
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]


def unit_dim(da: xr.DataArray) -> str:
    """The dimension that is neither ``subject``, ``layer`` nor ``lag`` (region or target)."""
    rest = [d for d in da.dims if d not in ("subject", "layer", "lag")]
    if len(rest) != 1:
        raise ValueError(f"expected one unit dimension besides subject/layer/lag, got dims {da.dims}")
    return rest[0]


def subject_stats(da: xr.DataArray, confidence: float = 0.95) -> xr.Dataset:
    """Mean across subjects with a t-based confidence interval and a one-sample t-test (> 0).

    Parameters
    ----------
    da
        Array with a ``subject`` dimension.
    confidence
        Two-sided confidence level of the band.

    Returns
    -------
    xr.Dataset
        ``mean``, ``sem``, ``ci_low``, ``ci_high``, ``t``, ``p`` (one-sided, H1: mean > 0) and
        ``n_subjects``; the interval and test are NaN with fewer than two subjects.
    """
    n = int(da.sizes["subject"])
    mean = da.mean("subject")
    if n > 1:
        sem = da.std("subject", ddof=1) / np.sqrt(n)
        half = sem * stats.t.ppf(0.5 + confidence / 2, n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = mean / sem
        p = xr.apply_ufunc(lambda v: stats.t.sf(v, n - 1), t)
    else:
        sem = half = t = p = xr.full_like(mean, np.nan)
    return xr.Dataset({"mean": mean, "sem": sem, "ci_low": mean - half, "ci_high": mean + half,
                       "t": t, "p": p}, attrs={"n_subjects": n, "confidence": confidence})


def fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (NaNs kept, ignored in the correction)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def with_regions(scores: xr.Dataset, default: str = "all") -> xr.Dataset:
    """``scores`` with a ``region`` coordinate: unchanged if present, else one region ``default``.

    Lets region-level analyses and figures run on data preprocessed without an atlas (then the
    whole brain / all sensors form a single region).
    """
    dim = target_dim(scores)
    if "region" in scores.coords:
        return scores
    return scores.assign_coords(region=(dim, np.full(scores.sizes[dim], default)))
