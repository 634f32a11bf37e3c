"""Phase 3 of the encode stage: the fitted groups placed into the Scores contract.

Two layouts, one set of dimensions (``docs/architecture.md``, Scores):

joint (fMRI; MEG/EEG by default)
    Every subject has the same targets: ``subject x layer x voxel`` or
    ``subject x layer x channel x lag``, target coordinates from the first subject's recording.
separate (iEEG patients; MEG/EEG with ``encoding.subjects: separate``)
    Each subject has their own channels.  The ``channel`` axis pools every subject's channels,
    each qualified by its subject (:func:`qualified_channel`: ``"sub-01:LGA1"``, since channel
    names repeat across patients), with coordinates ``channel_subject`` (whose channel it is),
    ``channel_name`` (its name in that subject's ``channels.tsv``) and each recording's channel
    coordinates (``ch_type``, ``pos_x/y/z``, ``region`` ...; NaN or "" where a subject's recording
    lacks one).  A subject's row holds values only on its own channels and NaN elsewhere, so every
    analysis written for ``subject x layer x channel x lag`` keeps working: a mean over ``subject``
    (NaN skipped) is the pooled electrode axis, region means per subject then averaged over
    subjects weigh every patient alike.  :func:`own_channels` gives the pooled
    ``layer x channel x lag`` view; the CSV (:func:`scores_to_frame`) lists only each subject's
    own channels.  No inter-subject ceiling: the subjects share no target.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .collect import FMRI, EncodingTargets
from .stats import combine_fold_p, fdr_bh

#: Attributes of the first recording that place the targets (grid, montage) and travel with the scores.
PLACEMENT_ATTRS = ("affine", "mask_shape", "tr", "montage", "sfreq", "space")


def labels(values) -> np.ndarray:
    """Coordinate values as Python strings (object array): stores read back give numpy's StringDType,
    which ``astype(str)`` cannot convert."""
    return np.array([str(v) for v in np.asarray(values).ravel()], dtype=object)


def qualified_channel(subject: str, channel: str) -> str:
    """The pooled channel id of a subject's channel: ``"sub-<subject>:<channel>"``."""
    return f"sub-{subject}:{channel}"


def channel_p(null_max: np.ndarray, obs_max: np.ndarray) -> np.ndarray:
    """Channel-level circular-shift p-value of the peak r over layers and lags (max statistic).

    In each outer fold, ``(1 + #{shifts whose peak >= the observed peak}) / (1 + n_permutations)``
    per channel: the peak over layers and lags is compared with the peaks of the same shifts, so
    the choice of the best layer and lag is paid for, and the test keeps the resolution of the
    permutations however many layers and lags there are.  The folds' p-values are then combined
    (:func:`brainalign.encoding.stats.combine_fold_p`: the folds share training data).

    Parameters
    ----------
    null_max
        (n_folds, n_permutations, n_channels) peaks under the shifts.
    obs_max
        (n_folds, n_channels) observed peaks.
    """
    null_max = np.asarray(null_max, dtype=np.float64)
    obs_max = np.asarray(obs_max, dtype=np.float64)
    per_fold = (1 + (null_max >= obs_max[:, None, :]).sum(1)) / (1 + null_max.shape[1])
    return combine_fold_p(per_fold).astype(np.float32)


def _channel_p(targets: EncodingTargets, fits: Sequence) -> dict[str, np.ndarray]:
    """``{subject: (n_channels,)}`` channel-level p from the fits' peaks (layer blocks combine by max)."""
    peaks: dict[str, dict[str, np.ndarray]] = {}
    for fit in fits:
        for sub, part in fit.channel_null.items():
            if sub not in peaks:
                peaks[sub] = {k: np.array(v, dtype=np.float64) for k, v in part.items()}
            else:
                for k in ("null_max", "obs_max"):
                    np.maximum(peaks[sub][k], part[k], out=peaks[sub][k])
    return {sub: channel_p(v["null_max"], v["obs_max"]) for sub, v in peaks.items()}


def _place(targets: EncodingTargets, fits: Sequence, keys: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """``{subject: {variable: (n_layers, n_columns)}}`` from the group fits, each (subject, layer) once."""
    layers = list(targets.layers)
    out = {sub: {k: np.full((len(layers), t.n_columns), np.nan, dtype=np.float32) for k in keys}
           for sub, t in targets.subjects.items()}
    seen = {sub: np.zeros(len(layers), dtype=int) for sub in targets.subjects}
    for fit in fits:
        rows = [layers.index(v) for v in fit.layers]
        for sub in fit.subjects:
            for k in keys:
                out[sub][k][rows] = fit.scores[sub][k]
            seen[sub][rows] += 1
    bad = {sub: [layers[i] for i in np.flatnonzero(n != 1)] for sub, n in seen.items() if np.any(n != 1)}
    if bad:
        raise ValueError(f"the fits do not cover every subject and layer exactly once (subject: layers) {bad}")
    return out


def assemble_scores(targets: EncodingTargets, fits: Sequence, ceilings: Mapping[str, np.ndarray] | None = None,
                    ) -> xr.Dataset:
    """The Scores dataset from the fits of every group (phase 3 of ``encode_dataset``).

    Parameters
    ----------
    targets
        From :func:`brainalign.encoding.collect.collect_targets`.
    fits
        :class:`brainalign.encoding.pipeline.GroupFit` of every group (or of every group and layer
        block); together they must cover every subject and layer exactly once.
    ceilings
        ``{subject: (n_columns,)}`` inter-subject ceilings (joint fits), from ``group_ceiling``.

    Returns
    -------
    xr.Dataset
        See :func:`brainalign.encoding.encode_dataset` and the module docstring.
    """
    enc = targets.encoding
    keys = ("r", "r2", "alpha") + (("p",) if enc["n_permutations"] else ())
    placed = _place(targets, fits, keys)
    p_channel = _channel_p(targets, fits) if enc["n_permutations"] else {}
    if p_channel and set(p_channel) != set(targets.subjects):
        missing = sorted(set(targets.subjects) - set(p_channel))
        raise ValueError(f"channel-level nulls are missing for subjects {missing}")
    if targets.subject_fits == "separate":
        ds = _assemble_separate(targets, placed, p_channel)
    else:
        ds = _assemble_joint(targets, placed, ceilings or {}, p_channel)
    if "p_channel" in ds:
        ds["p_channel"].attrs["description"] = (
            "circular-shift p of the channel's peak r over layers and lags (max statistic: the choice of layer and "
            "lag is corrected for); same shifts as p")
    ds["r"].attrs["description"] = "held-out Pearson r, mean over story-wise outer folds"
    ds["r2"].attrs["description"] = "held-out R^2 (1 - SSE/SS_tot about the test mean), mean over outer folds"
    ds["alpha"].attrs["description"] = "ridge alpha chosen by inner K-fold CV, geometric mean over outer folds"
    if "lag" in ds.coords:
        ds["lag"].attrs["units"] = "s"
    attrs = targets.attrs
    ds.attrs.update({
        "modality": targets.modality,
        "design": json.dumps(targets.design),
        "encoding": json.dumps({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in enc.items()}),
        "stories": json.dumps(targets.stories),
        "score_aggregation": "mean over story-wise outer folds (leave one story out unless outer_folds is set)",
        "feature_standardization": "per layer, per feature z-score over all words; design re-standardised on "
                                   "training folds only",
        "ceiling_method": "leave-one-subject-out correlation with the mean of the other subjects, per story, "
                          "averaged" if "ceiling" in ds else
                          ("none: subjects fitted separately share no target" if targets.subject_fits == "separate"
                           else "none"),
    })
    for key in ("channels_across_runs", "channels_dropped"):
        if key in attrs:
            ds.attrs[key] = attrs[key]
    if "words_left_out_bad_samples" in attrs:
        ds.attrs["words_left_out_bad_samples"] = json.dumps(attrs["words_left_out_bad_samples"])
    ds.attrs["on_beyond_end"] = attrs["on_beyond_end"]
    if "words_outside_recording" in attrs:
        ds.attrs["words_outside_recording"] = json.dumps(attrs["words_outside_recording"], sort_keys=True)
    if "relative_depth_note" in attrs:
        ds.attrs["relative_depth_note"] = attrs["relative_depth_note"]
    ds.attrs["subject_fits"] = targets.subject_fits
    return ds


def _joint_significance(p: np.ndarray, q: float) -> np.ndarray:
    """BH-FDR across the targets of each subject and layer (``p``: subject x layer x target)."""
    sig = np.zeros(p.shape, bool)
    for i in range(p.shape[0]):
        for j in range(p.shape[1]):
            sig[i, j] = fdr_bh(p[i, j], q)[0]
    return sig


def _assemble_joint(targets: EncodingTargets, placed: dict, ceilings: Mapping[str, np.ndarray],
                    p_channel: Mapping[str, np.ndarray]) -> xr.Dataset:
    subjects = targets.subject_names
    ref = targets.subjects[subjects[0]]
    enc, layers, target_dim = targets.encoding, targets.layers, targets.target_dim
    tgt_shape = ref.target_shape
    n_flat = ref.n_columns
    result = {k: np.stack([placed[s][k] for s in subjects]) for k in placed[subjects[0]]}
    ceiling = np.full((len(subjects), n_flat), np.nan, dtype=np.float32)
    for i, sub in enumerate(subjects):
        if sub in ceilings:
            ceiling[i] = ceilings[sub]

    dims = ("subject", "layer", target_dim) + (() if targets.modality in FMRI else ("lag",))
    shape = (len(subjects), len(layers)) + tgt_shape
    coords = {"subject": subjects, "layer": layers, "relative_depth": ("layer", np.asarray(targets.depth, float))}
    coords.update(ref.coords)
    if targets.modality not in FMRI:
        coords["lag"] = targets.lags
    data_vars = {k: (dims, v.reshape(shape)) for k, v in result.items()}
    if "p" in result:
        data_vars["significant"] = (dims, _joint_significance(result["p"], enc["fdr_q"]).reshape(shape))
    if enc["ceiling"] == "intersubject" and np.isfinite(ceiling).any():
        data_vars["ceiling"] = ((dims[0],) + dims[2:], ceiling.reshape((len(subjects),) + tgt_shape))
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = result["r"] / ceiling[:, None, :]
        norm[~(np.broadcast_to(ceiling[:, None, :], norm.shape) >= 0.05)] = np.nan
        data_vars["r_normalized"] = (dims, norm.reshape(shape).astype(np.float32))
    if p_channel:
        data_vars["p_channel"] = (("subject", target_dim), np.stack([p_channel[s] for s in subjects]))
    ds = xr.Dataset(data_vars, coords=coords)
    # What maps and topomaps need to place the targets (grid, montage) travels with the scores.
    for key in PLACEMENT_ATTRS:
        if key in ref.attrs:
            ds.attrs[key] = ref.attrs[key]
    return ds


def _assemble_separate(targets: EncodingTargets, placed: dict, p_channel: Mapping[str, np.ndarray]) -> xr.Dataset:
    subjects = targets.subject_names
    enc, layers = targets.encoding, targets.layers
    n_lags = len(targets.lags)
    names, owner, blocks, start = [], [], {}, 0
    for sub in subjects:
        t = targets.subjects[sub]
        own = ([str(c) for c in t.coords["channel"][1]] if "channel" in t.coords
               else [str(i) for i in range(t.target_shape[0])])
        names.extend(own)
        owner.extend([sub] * len(own))
        blocks[sub] = slice(start, start + len(own))
        start += len(own)
    n_channels = start

    coords = {"subject": subjects, "layer": layers, "relative_depth": ("layer", np.asarray(targets.depth, float)),
              "channel": [qualified_channel(s, c) for s, c in zip(owner, names)],
              "channel_subject": ("channel", np.asarray(owner, dtype=object)),
              "channel_name": ("channel", np.asarray(names, dtype=object)), "lag": targets.lags}
    extra = list(dict.fromkeys(name for sub in subjects for name, (dims, _) in targets.subjects[sub].coords.items()
                               if dims == ("channel",) and name != "channel"))
    for name in extra:
        # a coordinate some subjects' recordings lack: NaN (numbers) or "" (labels) on their channels
        given = {s: np.asarray(targets.subjects[s].coords[name][1]) for s in subjects
                 if name in targets.subjects[s].coords}
        numeric = all(v.dtype.kind in "fciu" for v in given.values())
        dtype, fill = (np.float64, np.nan) if numeric else (object, "")
        coords[name] = ("channel", np.concatenate([
            given[s].astype(dtype) if s in given else np.full(blocks[s].stop - blocks[s].start, fill, dtype=dtype)
            for s in subjects]))

    dims = ("subject", "layer", "channel", "lag")
    shape = (len(subjects), len(layers), n_channels, n_lags)
    data_vars = {}
    for k in placed[subjects[0]]:
        arr = np.full(shape, np.nan, dtype=np.float32)
        for i, sub in enumerate(subjects):
            arr[i, :, blocks[sub]] = placed[sub][k].reshape(len(layers), -1, n_lags)
        data_vars[k] = (dims, arr)
    if "p" in data_vars:
        sig = np.zeros(shape, bool)
        for i, sub in enumerate(subjects):
            for j in range(len(layers)):
                # FDR across the subject's own targets (channel x lag), as for joint fits
                sig[i, j, blocks[sub]] = fdr_bh(data_vars["p"][1][i, j, blocks[sub]], enc["fdr_q"])[0]
        data_vars["significant"] = (dims, sig)
    if p_channel:
        pc = np.full((len(subjects), n_channels), np.nan, dtype=np.float32)
        for i, sub in enumerate(subjects):
            pc[i, blocks[sub]] = p_channel[sub]
        data_vars["p_channel"] = (("subject", "channel"), pc)
    ds = xr.Dataset(data_vars, coords=coords)
    ds["channel"].attrs["description"] = "pooled channel id 'sub-<subject>:<channel>' (channel names repeat " \
                                         "across subjects); channel_subject and channel_name give its parts"
    ds["channel_subject"].attrs["description"] = "the subject whose channel it is; other subjects' rows are NaN there"
    for key in PLACEMENT_ATTRS:
        values = {sub: targets.subjects[sub].attrs.get(key) for sub in subjects}
        present = {s: v for s, v in values.items() if v is not None}
        if not present:
            continue
        if len(present) == len(subjects) and len({json.dumps(v, sort_keys=True, default=str)
                                                   for v in present.values()}) == 1:
            ds.attrs[key] = next(iter(present.values()))
        else:  # subjects differ (montage, sampling rate of the raw data ...): keep each one's
            ds.attrs[f"{key}_by_subject"] = json.dumps(present, sort_keys=True, default=str)
    return ds


def is_pooled(ds: xr.Dataset) -> bool:
    """Whether a Scores dataset is on a pooled channel axis (subjects fitted separately)."""
    return "channel_subject" in ds.coords and ds["channel_subject"].dims == ("channel",)


def own_channels(ds: xr.Dataset) -> xr.Dataset:
    """The pooled ``layer x channel [x lag]`` view: each channel's values from its own subject's row.

    For scores on a pooled channel axis (subjects fitted separately); the variables without a
    ``subject`` dimension are kept as they are.

    Raises
    ------
    ValueError
        Scores whose subjects share their targets (joint): there a channel has one value per subject.
    """
    if not is_pooled(ds):
        raise ValueError("own_channels needs scores on a pooled channel axis (coordinate 'channel_subject': "
                         "subjects fitted separately); joint scores have one value per subject and channel")
    subjects = [str(s) for s in ds["subject"].values]
    index = xr.DataArray([subjects.index(str(s)) for s in ds["channel_subject"].values], dims="channel")
    out = {}
    for name, var in ds.data_vars.items():
        if "subject" in var.dims:  # pointwise selection moves 'channel' first: keep the stored order
            var = var.isel(subject=index).transpose(*[d for d in var.dims if d != "subject"])
        out[name] = var
    view = xr.Dataset(out, attrs=ds.attrs)
    return view.drop_vars("subject", errors="ignore")


def _frame(ds: xr.Dataset) -> pd.DataFrame:
    target_dim = "voxel" if "voxel" in ds.dims else "channel"
    names = [v for v in ("r", "r2", "alpha", "r_normalized", "p", "significant") if v in ds]
    df = ds[names].to_dataframe().reset_index()
    if "ceiling" in ds:
        cdf = ds["ceiling"].to_dataframe().reset_index()
        keep = [c for c in cdf.columns if c in ("subject", target_dim, "lag", "ceiling")]
        df = df.merge(cdf[keep], on=[c for c in keep if c != "ceiling"], how="left")
    if "p_channel" in ds:
        pdf = ds["p_channel"].to_dataframe().reset_index()[["subject", target_dim, "p_channel"]]
        df = df.merge(pdf, on=["subject", target_dim], how="left")
    df = df.rename(columns={target_dim: "target"})
    extra_target = [c for c in ds.coords if ds[c].dims == (target_dim,) and c != target_dim]
    if extra_target:
        tcoords = ds[extra_target].to_dataframe().reset_index().rename(columns={target_dim: "target"})
        df = df.drop(columns=[c for c in extra_target if c in df.columns]).merge(tcoords, on="target", how="left")
    front = ["subject", "layer", "relative_depth", "target"] + (["lag"] if "lag" in df.columns else [])
    values = ["r", "r2", "alpha"] + [c for c in ("ceiling", "r_normalized", "p", "significant", "p_channel")
                                     if c in df.columns]
    values += [c for c in ("channel_subject", "channel_name") if c in df.columns]  # a pooled channel's parts
    rest = [c for c in df.columns if c not in front + values]
    return df[front + values + rest]


def scores_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Tidy long form of a Scores dataset for the CSV.

    Columns: ``subject, layer, relative_depth, target, [lag,] r, r2, alpha`` followed by any of
    ``ceiling, r_normalized, p, significant, p_channel`` present, then target coords (e.g.
    ``region``, ``x``).
    ``target`` is the voxel index or the channel name; on a pooled channel axis (subjects fitted
    separately) the qualified channel id, and each subject's rows cover its own channels only.
    """
    if not is_pooled(ds):
        return _frame(ds)
    owner = labels(ds["channel_subject"].values)
    parts = []
    for subject in ds["subject"].values:
        own = np.flatnonzero(owner == str(subject))
        if own.size:
            parts.append(_frame(ds.sel(subject=[subject]).isel(channel=own)))
    return pd.concat(parts, ignore_index=True)
