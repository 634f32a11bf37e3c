"""Repeat-based noise ceilings and group-level maps, added to a Scores dataset after the encoders.

Two statistics of :mod:`.ceiling` and :mod:`.stats` that need more than one subject's fits:

* :func:`repeat_ceilings` / :func:`attach_repeat_ceiling`: a subject who heard a story several times
  (``dataset.repeated_runs`` picks the run that is encoded; the other repetitions are preprocessed
  for this only) gets a ceiling from the agreement of the repetitions, per target.  The encoder scores
  *one* run, so the ceiling is the one of a single run: ``sqrt(rho_1)``, with ``rho_1`` the mean
  correlation between two repetitions (signal variance over total variance when the noise of the
  repetitions is independent), not the Spearman-Brown ceiling of the repetitions' average
  (:func:`brainalign.encoding.ceiling.repeat_ceiling`, for scores of averaged responses).  It
  replaces the inter-subject ceiling for the subjects that have repetitions; the others keep theirs.
* :func:`group_maps`: for subjects fitted jointly on one target axis, a one-sample test across
  subjects per layer and target (:func:`brainalign.encoding.stats.group_test`, sign flips by default)
  with BH-FDR over the targets (and lags) of each layer: ``p_group`` and ``significant_group``, the
  statistics of a group-level map.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from .scores import pearson_r
from .stats import fdr_bh, group_test

log = logging.getLogger(__name__)

#: Ceilings below this leave the normalised score undefined (as the inter-subject path does).
MIN_CEILING = 0.05


def single_run_ceiling(repeats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ceiling on a single run's r from ``k >= 2`` repetitions of the same stimulus.

    Parameters
    ----------
    repeats
        ``(k, n_samples, n_targets)`` responses to the same stimulus, on one time base.

    Returns
    -------
    ceiling : ``(n_targets,)`` ``sqrt(max(rho_1, 0))``.
    rho_1 : ``(n_targets,)`` mean Pearson r over the ``k (k - 1) / 2`` pairs of repetitions.
    """
    repeats = np.asarray(repeats, dtype=np.float64)
    if repeats.ndim != 3 or repeats.shape[0] < 2:
        raise ValueError(f"repeats must be (k >= 2, n_samples, n_targets), got {repeats.shape}")
    k = repeats.shape[0]
    pairs = [pearson_r(repeats[i], repeats[j]) for i in range(k) for j in range(i + 1, k)]
    with np.errstate(invalid="ignore"):
        rho = np.nanmean(np.stack(pairs), axis=0) if any(np.isfinite(p).any() for p in pairs) \
            else np.full(repeats.shape[2], np.nan)
    return np.sqrt(np.clip(rho, 0.0, None)), rho


def _aligned(runs: Sequence[xr.DataArray], dim: str, labels: np.ndarray) -> np.ndarray:
    """``(k, n, n_targets)`` of the repetitions on the targets ``labels``, cut to the shortest run.

    Rows with a NaN in any repetition are dropped (bad samples), so every pair is compared on the
    same samples.
    """
    arrays = []
    for run in runs:
        run = run.transpose("time", dim)
        arrays.append(np.asarray(run.reindex({dim: labels}).values if dim in run.coords else run.values, np.float64))
    n = min(a.shape[0] for a in arrays)
    stack = np.stack([a[:n] for a in arrays])
    present = np.isfinite(stack).any(axis=(0, 1))  # targets a run lacks stay NaN, not every row dropped
    return stack[:, np.isfinite(stack[:, :, present]).all(axis=(0, 2))]


def repeat_ceilings(repetitions: Mapping[str, Mapping[str, Sequence[xr.DataArray]]], labels: Sequence,
                    dim: str) -> xr.Dataset:
    """Per subject and target: the single-run ceiling from the repetitions of every repeated story.

    Parameters
    ----------
    repetitions
        ``{subject: {story: [run, run, ...]}}`` preprocessed runs of the same story (the encoded run
        and its repetitions), ``time x dim``; stories with one run are ignored.
    labels
        The scores' targets (values of ``dim``), in their order.
    dim
        ``voxel`` or ``channel``.

    Returns
    -------
    xr.Dataset
        ``ceiling`` and ``reliability`` (``rho_1``), ``subject x dim``; the samples of every repeated
        story are pooled (each pair's r is computed on the concatenation of the stories, after each
        run is cut to the story's shortest repetition).  Subjects without repetitions are left out.

    Raises
    ------
    ValueError
        When no subject has a story with at least two runs.
    """
    labels = np.asarray(labels)
    ceil, rel, subjects, sources = [], [], [], {}
    for sub, stories in repetitions.items():
        blocks = [_aligned(runs, dim, labels) for runs in stories.values() if len(runs) >= 2]
        if not blocks:
            continue
        k = min(b.shape[0] for b in blocks)  # the same number of repetitions from every story
        c, r = single_run_ceiling(np.concatenate([b[:k] for b in blocks], axis=1))
        ceil.append(c)
        rel.append(r)
        subjects.append(str(sub))
        sources[str(sub)] = {st: len(runs) for st, runs in stories.items() if len(runs) >= 2}
    if not subjects:
        raise ValueError("repeat_ceilings: no subject has a story with two or more runs")
    coords = {"subject": subjects, dim: labels}
    return xr.Dataset({"ceiling": (("subject", dim), np.stack(ceil).astype(np.float32)),
                       "reliability": (("subject", dim), np.stack(rel).astype(np.float32))},
                      coords=coords, attrs={"runs_per_story": json.dumps(sources, sort_keys=True)})


def repeat_ceilings_from_runs(encoded: Mapping[tuple[str, str], xr.DataArray],
                              repeats: Mapping[tuple[str, str, str], xr.DataArray]) -> xr.Dataset:
    """:func:`repeat_ceilings` of the encoded runs ``{(subject, story): run}`` and their left-out
    repetitions ``{(subject, story, repeat): run}`` (rule ``repeat_ceiling``).

    The targets are those of the encoded runs, in order of first appearance (a target missing from a
    run is NaN there), with the first run's target coordinates (x/y/z, region).
    """
    if not encoded:
        raise ValueError("repeat_ceilings_from_runs: no encoded run")
    first = next(iter(encoded.values()))
    dim = "voxel" if "voxel" in first.dims else "channel"
    labels = list(dict.fromkeys(v for run in encoded.values() for v in run[dim].values.tolist()))
    runs: dict[str, dict[str, list[xr.DataArray]]] = {}
    for (sub, story), run in encoded.items():
        runs.setdefault(str(sub), {})[str(story)] = [run]
    for (sub, story, _), run in sorted(repeats.items()):
        if (sub, story) not in encoded:
            raise ValueError(f"repetition of sub-{sub} {story} without its encoded run")
        runs[str(sub)][str(story)].append(run)
    out = repeat_ceilings(runs, np.asarray(labels), dim)
    # the targets' placement (x/y/z, region) travels with the ceilings, as with the scores
    for name, coord in first.coords.items():
        if coord.dims == (dim,) and name != dim:
            out = out.assign_coords({name: (dim, coord.to_series().reindex(labels).values)})
    return out


def attach_repeat_ceiling(scores: xr.Dataset, ceilings: xr.Dataset, min_ceiling: float = MIN_CEILING) -> xr.Dataset:
    """``scores`` with ``ceiling`` and ``r_normalized`` from the repeat ceilings of the subjects that have them.

    Subjects without repetitions keep their inter-subject ceiling (or none); the attribute
    ``ceiling_method`` names the method of each subject.  ``r_normalized = r / ceiling``, NaN where
    the ceiling is below ``min_ceiling``.
    """
    dim = "voxel" if "voxel" in scores.dims else "channel"
    subjects = [str(s) for s in scores["subject"].values]
    shared = [s for s in subjects if s in set(ceilings["subject"].values.astype(str))]
    if not shared:
        return scores
    out = scores.copy()
    old = out["ceiling"] if "ceiling" in out else None
    # the ceiling's dims are those of r without the layer (MEG/EEG: also per lag)
    template = out["r"].isel(layer=0, drop=True).reset_coords(drop=True)
    base = (old.reset_coords(drop=True) if old is not None else xr.full_like(template, np.nan, dtype=np.float32))
    rep = ceilings["ceiling"].reset_coords(drop=True).reindex(subject=subjects, **{dim: out[dim].values})
    has_rep = xr.DataArray(np.isin(subjects, shared), dims="subject", coords={"subject": out["subject"].values})
    rep = rep.assign_coords(subject=out["subject"].values)
    out["ceiling"] = xr.where(has_rep, rep, base).transpose(*base.dims).astype(np.float32)
    ceiling = out["ceiling"].where(out["ceiling"] >= min_ceiling)
    out["r_normalized"] = (out["r"] / ceiling).astype(np.float32).transpose(*out["r"].dims)
    out["ceiling"].attrs["description"] = "noise ceiling on r per subject (see the attribute ceiling_method)"
    methods = {s: ("repeat: sqrt of the mean r between repetitions of the same story (single run)" if s in shared
                   else (scores.attrs.get("ceiling_method", "none") if old is not None else "none")) for s in subjects}
    out.attrs["ceiling_method"] = json.dumps(methods, sort_keys=True)
    out.attrs["repeat_runs_per_story"] = ceilings.attrs.get("runs_per_story", "{}")
    return out


def group_maps(scores: xr.Dataset, *, var: str = "r", method: str = "signflip", n_permutations: int = 10000,
               fdr_q: float = 0.05, seed: int = 0) -> xr.Dataset:
    """``scores`` with ``p_group`` and ``significant_group``: the group-level test of every map.

    Parameters
    ----------
    scores
        Scores of subjects fitted jointly (``subject x layer x target [x lag]``), at least 2 subjects.
    var
        The per-subject score tested (``r``).
    method, n_permutations, seed
        :func:`brainalign.encoding.stats.group_test` (``signflip``: exact up to 12 subjects).
    fdr_q
        BH-FDR over the targets (and lags) of each layer: one family per layer's map.

    Returns
    -------
    xr.Dataset
        With ``p_group`` and ``significant_group`` (``layer x target [x lag]``); unchanged when
        ``method`` is ``none``.
    """
    if method == "none":
        return scores
    if scores.sizes.get("subject", 0) < 2:
        raise ValueError(f"group_maps needs >= 2 subjects, got {scores.sizes.get('subject', 0)}")
    da = scores[var]
    rest = [d for d in da.dims if d not in ("subject", "layer")]
    values = da.transpose("subject", "layer", *rest).values.astype(np.float64)
    n_sub, n_layer = values.shape[:2]
    flat = values.reshape(n_sub, n_layer, -1)
    p = np.full(flat.shape[1:], np.nan)
    sig = np.zeros(flat.shape[1:], bool)
    for j in range(n_layer):
        ok = np.isfinite(flat[:, j]).all(axis=0)  # a target missing in a subject is not tested
        if ok.any():
            p[j, ok] = group_test(flat[:, j, ok], method=method, n_permutations=n_permutations, seed=seed)[1]
        sig[j] = fdr_bh(p[j], fdr_q)[0]
    shape = values.shape[1:]
    dims = ("layer", *rest)
    out = scores.copy()
    out["p_group"] = (dims, p.reshape(shape))
    out["significant_group"] = (dims, sig.reshape(shape))
    out["p_group"].attrs["description"] = (f"one-sided group test across subjects that the mean {var} > 0 "
                                           f"({method}), per layer and target")
    out["significant_group"].attrs["description"] = f"p_group under BH-FDR q={fdr_q} over the targets of each layer"
    out.attrs["group_test"] = json.dumps({"method": method, "n_permutations": int(n_permutations), "fdr_q": fdr_q,
                                          "var": var, "family": "targets (and lags) of each layer"})
    return out


def finish_scores(scores: xr.Dataset, encoding: Mapping[str, Any], *, seed: int = 0,
                  ceilings: xr.Dataset | None = None) -> xr.Dataset:
    """The statistics the encode rules add to the scores: repeat ceilings, then group-level maps.

    Parameters
    ----------
    scores
        Output of :func:`brainalign.encoding.encode_dataset` (or of the shards' gather).
    encoding
        The validated ``encoding`` config section (``group_test``, ``repeat_ceiling``).
    seed
        Seed of the random sign flips.
    ceilings
        Rule ``repeat_ceiling``'s output, or None (no repetitions).
    """
    separate = scores.attrs.get("subject_fits") == "separate"
    if ceilings is not None and encoding["repeat_ceiling"]:
        if separate:
            # subjects on their own channels: the ids in the scores are subject-qualified
            log.warning("repeat ceilings are not attached to scores of subjects fitted separately")
        else:
            scores = attach_repeat_ceiling(scores, ceilings)
    test = encoding["group_test"]
    if not separate and scores.sizes.get("subject", 0) >= 2 and test["method"] != "none":
        scores = group_maps(scores, method=test["method"], n_permutations=int(test["n_permutations"]),
                            fdr_q=float(test["fdr_q"]), seed=seed)
    return scores

