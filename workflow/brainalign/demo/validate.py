"""Compare layer-wise brain scores with the demo's planted truth (the only reader of the truth).

Per planted region the *layer profile* is the held-out r averaged over the region's targets
(voxels or channels) and over subjects.  For EEG the scores also have a ``lag`` dimension: the
profile is taken at the region's *peak lag*, the lag whose r averaged over layers (and targets and
subjects) is highest: one lag chosen once per region and model, so that no per-layer maximum over
lags inflates the scores.  The recovered layer is the profile's argmax, ``score_model`` its
maximum; ``score_control`` is the same quantity for the random-init control's scores.

A region passes when ``|recovered - planted| <= TOLERANCE_LAYERS``, ``score_model > MIN_SCORE`` and
``score_control < score_model`` (the last criterion is skipped, and reported NaN, without control
scores).  One more row per modality, ``region = "noise"``, gives the mean r over noise-only targets
(all subjects, layers and lags); it passes when ``|mean r| <= NOISE_TOLERANCE``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

TOLERANCE_LAYERS = 2
MIN_SCORE = 0.2
NOISE_TOLERANCE = 0.03
COLUMNS = ["region", "modality", "planted_layer", "recovered_layer", "score_model", "score_control", "passed",
           "n_targets"]


def _target_dim(r: xr.DataArray, modality: str) -> str:
    for dim in ("voxel", "channel", "target"):
        if dim in r.dims:
            return dim
    raise ValueError(f"validate_demo: {modality} scores 'r' have dims {r.dims}; expected a voxel or channel dimension")


def _region_targets(r: xr.DataArray, region: dict, modality: str) -> np.ndarray:
    """Positions along the target dimension of ``r`` that belong to a planted region."""
    dim = _target_dim(r, modality)
    coords = r.coords
    if modality == "fmri":
        if "region" in coords and region.get("atlas_name") is not None:
            names = np.asarray(coords["region"].values).astype(str)
            if region["atlas_name"] in set(names):
                return np.flatnonzero(names == region["atlas_name"])
        if all(c in coords for c in ("x", "y", "z")):
            xyz = np.stack([np.asarray(coords[c].values, float) for c in ("x", "y", "z")], axis=1)
            planted = {tuple(v) for v in np.round(np.asarray(region["voxels_mni"], float), 1).tolist()}
            return np.flatnonzero([tuple(v) in planted for v in np.round(xyz, 1).tolist()])
        index = set(int(i) for i in region["mask_index"])
        return np.flatnonzero([int(v) in index for v in r[dim].values])
    names = np.asarray(coords["channel"].values if "channel" in coords else r[dim].values).astype(str)
    return np.flatnonzero(np.isin(names, region["channels"]))


def _noise_targets(r: xr.DataArray, truth: dict, modality: str) -> np.ndarray:
    dim = _target_dim(r, modality)
    planted = [reg for reg in truth["regions"] if reg["modality"] == modality]
    if modality == "fmri":
        if "region" in r.coords and any(reg.get("atlas_name") in set(np.asarray(r.coords["region"].values).astype(str))
                                        for reg in planted):
            names = np.asarray(r.coords["region"].values).astype(str)
            return np.flatnonzero(~np.isin(names, [reg["atlas_name"] for reg in planted]))
        if all(c in r.coords for c in ("x", "y", "z")):
            xyz = np.stack([np.asarray(r.coords[c].values, float) for c in ("x", "y", "z")], axis=1)
            pts = np.concatenate([np.asarray(reg["voxels_mni"], float) for reg in planted]) if planted else np.zeros((0, 3))
            if len(pts) == 0:
                return np.arange(r.sizes[dim])
            dist = np.min(np.linalg.norm(xyz[:, None, :] - pts[None, :, :], axis=-1), axis=1)
            return np.flatnonzero(dist >= float(truth["noise"]["fmri"]["min_distance_mm"]))
        planted_idx = {int(i) for reg in planted for i in reg["mask_index"]}
        return np.flatnonzero([int(v) not in planted_idx for v in r[dim].values])
    names = np.asarray(r.coords["channel"].values if "channel" in r.coords else r[dim].values).astype(str)
    return np.flatnonzero(np.isin(names, truth["noise"]["eeg"]["channels"]))


def region_profiles(scores: xr.Dataset, region: dict) -> xr.DataArray:
    """Layer profile of one planted region: mean r over its targets and subjects (EEG: at its peak lag).

    Parameters
    ----------
    scores
        Scores dataset (variable ``r``; dims ``subject x layer x voxel`` or ``... x channel x lag``).
    region
        One entry of ``truth["regions"]``.

    Returns
    -------
    xarray.DataArray
        dims ``layer``; attribute ``peak_lag`` for EEG, ``n_targets``.

    Raises
    ------
    ValueError
        If none of the region's targets is in the scores.
    """
    if "r" not in scores:
        raise ValueError(f"validate_demo: {region['modality']} scores have no variable 'r'")
    r = scores["r"]
    dim = _target_dim(r, region["modality"])
    idx = _region_targets(r, region, region["modality"])
    if len(idx) == 0:
        raise ValueError(f"validate_demo: none of the targets of planted region '{region['name']}' "
                         f"({region['modality']}) is in the scores (dim '{dim}', {r.sizes[dim]} targets)")
    sub = r.isel({dim: idx})
    other = [d for d in sub.dims if d not in ("layer", "lag")]
    prof = sub.mean(other, skipna=True)
    peak = None
    if "lag" in prof.dims:
        peak = prof["lag"].values[int(prof.mean("layer", skipna=True).argmax("lag"))]
        prof = prof.sel(lag=peak)
    prof = prof.load()
    prof.attrs.update(n_targets=int(len(idx)), peak_lag=None if peak is None else float(peak))
    return prof


def _best(prof: xr.DataArray) -> tuple[int, float]:
    i = int(np.nanargmax(prof.values))
    return int(prof["layer"].values[i]), float(prof.values[i])


def validate_demo(truth: dict, scores: dict[str, xr.Dataset], control_scores: dict[str, xr.Dataset]) -> pd.DataFrame:
    """Table of planted vs recovered layers and scores, one row per planted region and a noise row per modality.

    Parameters
    ----------
    truth
        Contents of ``derivatives/groundtruth/truth.json`` (from :func:`generate_demo`).
    scores
        ``{modality: Scores dataset}`` of the planting model (Scores contract, docs/architecture.md).
    control_scores
        Same for the random-init control (may be empty: then ``score_control`` is NaN and the
        control criterion is not applied).

    Returns
    -------
    pandas.DataFrame
        Columns ``region, modality, planted_layer, recovered_layer, score_model, score_control,
        passed, n_targets``; planted regions first, then ``noise`` rows (layers empty).

    Raises
    ------
    ValueError
        If a modality with planted regions has no scores, or a region's targets are absent.
    """
    rows = []
    modalities = list(dict.fromkeys(reg["modality"] for reg in truth["regions"]))
    for mod in modalities:
        if mod not in scores:
            raise ValueError(f"validate_demo: the truth plants {mod} regions but no {mod} scores were given "
                             f"(scores for: {sorted(scores)})")
    for region in truth["regions"]:
        mod = region["modality"]
        prof = region_profiles(scores[mod], region)
        recovered, score = _best(prof)
        control = np.nan
        if mod in control_scores:
            control = _best(region_profiles(control_scores[mod], region))[1]
        passed = (abs(recovered - int(region["planted_layer"])) <= TOLERANCE_LAYERS and score > MIN_SCORE
                  and (np.isnan(control) or control < score))
        rows.append({"region": region["name"], "modality": mod, "planted_layer": int(region["planted_layer"]),
                     "recovered_layer": recovered, "score_model": score, "score_control": control,
                     "passed": bool(passed), "n_targets": prof.attrs["n_targets"]})
    for mod in modalities:
        r = scores[mod]["r"]
        idx = _noise_targets(r, truth, mod)
        if len(idx) == 0:
            raise ValueError(f"validate_demo: no noise-only {mod} target in the scores")
        dim = _target_dim(r, mod)
        score = float(r.isel({dim: idx}).mean(skipna=True))
        control = np.nan
        if mod in control_scores:
            rc = control_scores[mod]["r"]
            idx_c = _noise_targets(rc, truth, mod)
            control = float(rc.isel({_target_dim(rc, mod): idx_c}).mean(skipna=True)) if len(idx_c) else np.nan
        rows.append({"region": "noise", "modality": mod, "planted_layer": pd.NA, "recovered_layer": pd.NA,
                     "score_model": score, "score_control": control,
                     "passed": bool(abs(score) <= NOISE_TOLERANCE), "n_targets": int(len(idx))})
    out = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("planted_layer", "recovered_layer"):
        out[col] = out[col].astype("Int64")
    return out
