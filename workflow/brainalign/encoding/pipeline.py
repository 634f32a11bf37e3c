"""The encode stage: every layer of one model, all subjects of one modality, one job.

``encode_dataset`` turns the Features contract (``word x layer x feature`` per story) and the
Preprocessed contract (``time x voxel|channel`` per subject and story) into the Scores contract
(``subject x layer x voxel`` or ``subject x layer x channel x lag``), see ``docs/architecture.md``.

Per layer: the layer's word features are z-scored per feature over all words of all stories (LM
hidden-state scales differ by orders of magnitude between layers, and centring keeps a feature's
constant offset from turning into a word-rate regressor once words are summed or convolved; this
uses the stimulus only, never brain data), put on each story's time base by :mod:`brainalign.design`,
stacked over stories, and fitted with story-wise outer CV for all subjects at once: subjects that
share the stimulus (same stories, same retained samples) share the design, so their targets are
concatenated and one decomposition per fold serves them all.

Per-subject onsets (``onsets=``, e.g. MEG-MASC, where each subject's recording has its own word
onsets) replace the features' ``onset`` for that subject.  MEG/EEG designs are the word features
themselves (one row per word), so subjects with different onsets still share a design when the same
words keep a complete window; fMRI designs put the words on the TR grid through the onsets, so there
the onsets are part of the sharing key and each group's operators use its own onsets.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from ..design.fmri import apply_operator, fmri_operator
from ..design.meeg import word_locked
from ..errors import InputError
from .ceiling import intersubject_ceiling
from ..io.timings import check_same_words, normalize_word
from .cv import cross_validate
from .ridge import DEFAULT_ALPHAS
from .stats import circular_shift_null, fdr_bh
from .targets import align_channels, check_recording, drop_words_with_nan

FMRI = ("fmri",)
MEEG = ("meg", "eeg", "ieeg", "meeg", "ecog", "seeg")
#: Handling of word onsets outside a recording (config ``dataset.timings.on_beyond_end``); ``warn``
#: cannot keep a word the recording does not hold, so it leaves it out as ``drop`` does.
ON_BEYOND_END = ("error", "drop", "warn")

log = logging.getLogger(__name__)


def _design_params(modality: str, design: dict) -> dict:
    design = dict(design or {})
    if modality in FMRI:
        out = {"method": design.pop("method", "hrf"), "delays": [int(d) for d in design.pop("delays", [1, 2, 3, 4])],
               "hrf_model": design.pop("hrf_model", "spm")}
    else:
        out = {"method": design.pop("method", "word_locked"), "tmin": float(design.pop("tmin", 0.0)),
               "tmax": float(design.pop("tmax", 0.8))}
        if out["method"] != "word_locked":
            raise ValueError(f"design.method={out['method']!r} for {modality}: only 'word_locked' is wired into "
                             "encode_dataset (use brainalign.design.trf_design directly for a TRF)")
    if design:
        raise ValueError(f"unknown design keys for {modality}: {sorted(design)}")
    return out


def _encoding_params(encoding: dict) -> dict:
    encoding = dict(encoding or {})
    alphas = encoding.pop("alphas", None)
    out = {
        "alphas": np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64),
        "inner_folds": int(encoding.pop("inner_folds", 5)),
        "outer_folds": encoding.pop("outer_folds", None),
        "backend": encoding.pop("backend", "numpy"),
        "chunk_size": encoding.pop("chunk_size", None),
        "n_permutations": int(encoding.pop("n_permutations", 0)),
        "fdr_q": float(encoding.pop("fdr_q", 0.05)),
        "ceiling": encoding.pop("ceiling", "intersubject"),
        "seed": int(encoding.pop("seed", 0)),
        "channels_across_runs": encoding.pop("channels_across_runs", "drop"),
    }
    if out["ceiling"] not in ("intersubject", "none", None):
        raise ValueError(f"encoding.ceiling={out['ceiling']!r}: expected 'intersubject' or 'none'")
    if encoding:
        raise ValueError(f"unknown encoding keys: {sorted(encoding)}")
    return out


def _layer_words(features: dict[str, xr.Dataset], stories: list[str], layer: int) -> dict[str, xr.DataArray]:
    """One layer's ``word x feature`` features per story, z-scored per feature over all stories' words."""
    per_story = {s: features[s]["hidden"].sel(layer=layer).load() for s in stories}
    stacked = np.concatenate([per_story[s].values for s in stories], axis=0).astype(np.float64)
    if not np.all(np.isfinite(stacked)):
        bad = [s for s in stories if not np.all(np.isfinite(per_story[s].values))]
        raise ValueError(f"features of layer {layer} contain NaN/inf (stories {bad})")
    mu, sd = stacked.mean(0), stacked.std(0)
    sd[sd == 0] = 1.0
    return {s: ((per_story[s] - mu) / sd).astype(np.float32) for s in stories}


def _target_coords(da: xr.DataArray, dims: Iterable[str]) -> dict:
    """Coordinates of ``da`` that live on the target dims (x/y/z, region, channel positions, lag)."""
    dims = tuple(dims)
    return {name: (c.dims, c.values) for name, c in da.coords.items() if c.dims and set(c.dims) <= set(dims)}


def _check_stories(features: dict, recordings: dict) -> list[str]:
    if not features:
        raise ValueError("no features given")
    if not recordings:
        raise ValueError("no recordings given")
    stories = list(features)
    for subject, recs in recordings.items():
        missing = [s for s in recs if s not in features]
        if missing:
            raise ValueError(f"subject {subject}: recordings of stories {missing} have no features "
                             f"(features exist for {stories})")
    used = [s for s in stories if any(s in recs for recs in recordings.values())]
    if not used:
        raise ValueError("no story has both features and recordings")
    return used


def _check_onsets(onsets: Mapping | None, features: dict, recordings: dict) -> None:
    """Per-subject onsets must name known subjects and stories (a typo would silently fall back)."""
    if onsets is None:
        return
    unknown = [s for s in onsets if s not in recordings]
    if unknown:
        raise ValueError(f"onsets given for subjects {unknown} that have no recordings (subjects {list(recordings)})")
    for subject, per_story in onsets.items():
        missing = [s for s in per_story if s not in features]
        if missing:
            raise ValueError(f"subject {subject}: onsets given for stories {missing} that have no features "
                             f"(features exist for {list(features)})")


def _run_onsets(onsets: Mapping | None, features: dict, subject: str, story: str) -> np.ndarray:
    """The word onsets of one run: the subject's own when given (checked against the story's words),
    else the features' ``onset`` (every subject heard the story on the same clock)."""
    feats = features[story]
    given = None if onsets is None else onsets.get(subject, {}).get(story)
    if given is None:
        return np.asarray(feats["onset"].values, dtype=np.float64)
    source = given.attrs.get("source") if isinstance(given, xr.DataArray) else None
    values = np.asarray(given.values if isinstance(given, xr.DataArray) else given, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"subject {subject}, story {story}: onsets must be 1-D (one per word), got shape "
                         f"{values.shape}")
    has_norm = isinstance(given, xr.DataArray) and "norm" in given.coords
    if has_norm and "text" in feats.coords:
        # Same normalised words in order: the features are those of the story's word sequence.
        expected = [normalize_word(w) for w in feats["text"].values]
        check_same_words(expected, [str(w) for w in given["norm"].values], subject=subject, story=story,
                         source=source)
    elif values.size != feats.sizes["word"]:
        where, n_words = (f"{source}: " if source else ""), feats.sizes["word"]
        raise ValueError(f"{where}subject {subject}, story {story}: {values.size} onsets for the story's "
                         f"{n_words} words (first difference at word {min(values.size, n_words)})")
    return values


def recording_span(rec: xr.DataArray) -> tuple[float, float]:
    """The time span ``[start, end)`` (s, on the clock of ``rec.time``) that a recording covers.

    The Preprocessed contract counts ``time`` from the start of the run (fMRI: from volume 0, so
    that dropped initial volumes keep the alignment), so a recording starts at 0 at the latest;
    earlier when its clock was moved (``time`` below 0).  fMRI: volume ``k`` is stamped
    ``(k + time_reference) x TR`` and covers ``[k TR, (k + 1) TR)``; volumes dropped at the start
    (``drop_initial_trs``) or trimmed at the end (``trim_end_trs``) were recorded too (words heard
    then are inside the recording; only their volumes are not modelled).  MEG/EEG/iEEG: up to one
    sample period after the last sample.
    """
    t = np.asarray(rec["time"].values, dtype=np.float64)
    if t.size == 0:
        raise ValueError("recording has no samples")
    attrs = rec.attrs
    if attrs.get("tr"):
        tr = float(attrs["tr"])
        ref = float(attrs.get("time_reference", 0.5))
        start = t[0] - (ref + int(attrs.get("drop_initial_trs", 0) or 0)) * tr
        end = t[-1] + (1.0 - ref + int(attrs.get("trim_end_trs", 0) or 0)) * tr
    else:
        dt = 1.0 / float(attrs["sfreq"]) if attrs.get("sfreq") else (
            float(np.median(np.diff(t))) if t.size > 1 else 0.0)
        start, end = t[0], t[-1] + dt
    return float(min(0.0, start)), float(end)


def _onsets_inside_recording(
    onsets: np.ndarray,
    rec: xr.DataArray,
    words: np.ndarray | None,
    *,
    subject: str,
    story: str,
    source: str | None,
    on_beyond_end: str,
) -> tuple[np.ndarray, int]:
    """Word onsets checked against the recording's time span (:func:`recording_span`).

    Onsets outside it (a timing file on another clock, a truncated recording) would silently drop
    out of the design and lower the scores.  ``error``: an :class:`InputError` naming the word file,
    the recording, the subject, story, count and first such word; ``drop``/``warn``: those onsets
    become NaN (left out of the design: no FIR bin, no HRF weight, no epoch), logged.  Onsets inside
    the recording whose lag window or FIR delays run past its end are not counted here.

    Returns
    -------
    onsets, n_outside
    """
    start, end = recording_span(rec)
    timed = np.isfinite(onsets)
    outside = timed & ((onsets < start - 1e-6) | (onsets >= end))
    n = int(outside.sum())
    if not n:
        return onsets, 0
    i = int(np.flatnonzero(outside)[0])
    word = f" ({str(words[i])!r})" if words is not None and i < len(words) else ""
    recording = rec.attrs.get("source_file")
    problem = (f"subject {subject}, story {story}: {n} of {onsets.size} word onsets lie outside the recording "
               f"({start:.3f} to {end:.3f} s{', ' + str(recording) if recording else ''}); first: word {i}{word} "
               f"at {onsets[i]:.3f} s")
    if on_beyond_end == "error":
        raise InputError(source or recording or "word onsets", problem,
                         expected="word onsets within the recording, in seconds from its start",
                         hint="check the timings' clock (dataset.timings.shift, the story's onset in the run) and "
                              "the recording's length, or set dataset.timings.on_beyond_end: drop to leave them out")
    log.warning("%s: %s; left out of the design (dataset.timings.on_beyond_end: %s)", source or recording, problem,
                on_beyond_end)
    return np.where(outside, np.nan, onsets), n


def _onsets_source(onsets: Mapping | None, word_sources: Mapping[str, str] | None, subject: str,
                   story: str) -> str | None:
    """The file a run's word onsets came from: the subject's own table, else the story's."""
    given = None if onsets is None else onsets.get(subject, {}).get(story)
    if isinstance(given, xr.DataArray) and given.attrs.get("source"):
        return str(given.attrs["source"])
    return None if word_sources is None or story not in word_sources else str(word_sources[story])


def _subject_groups(keys: dict[str, tuple]) -> list[list[str]]:
    """Subjects with identical sample layouts (same stories, same retained samples) share a design.

    The key is whatever makes the design differ: for fMRI the story, TR, volume times and word
    onsets; for MEG/EEG the story and the words kept (a complete window), not the onsets.
    """
    groups: dict[tuple, list[str]] = {}
    for subject, key in keys.items():
        groups.setdefault(key, []).append(subject)
    return list(groups.values())


def _fit_layers(
    design_of_layer,
    Y: np.ndarray,
    rows_story: np.ndarray,
    layers: list[int],
    enc: dict,
    progress: bool,
) -> dict[str, np.ndarray]:
    """Cross-validate every layer against the shared targets ``Y``; arrays are ``layer x target``."""
    n_t = Y.shape[1]
    out = {k: np.full((len(layers), n_t), np.nan, dtype=np.float32) for k in ("r", "r2", "alpha")}
    if enc["n_permutations"]:
        out["p"] = np.full((len(layers), n_t), np.nan, dtype=np.float32)
    iterator = enumerate(layers)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(list(iterator), desc="layers", unit="layer")
    for i, layer in iterator:
        X = design_of_layer(layer)
        res = cross_validate(X, Y, rows_story, alphas=enc["alphas"], inner_folds=enc["inner_folds"],
                             outer_folds=enc["outer_folds"], backend=enc["backend"], chunk_size=enc["chunk_size"],
                             return_predictions=bool(enc["n_permutations"]))
        out["r"][i], out["r2"][i], out["alpha"][i] = res.r, res.r2, res.alpha
        if enc["n_permutations"]:
            # Shift within each held-out story; r averaged over stories (as the scores are).
            _, _, p = circular_shift_null(Y, res.predictions, rows_story, n_permutations=enc["n_permutations"],
                                          seed=enc["seed"])
            out["p"][i] = p
    return out


def encode_dataset(
    features: dict[str, xr.Dataset],
    recordings: dict[str, dict[str, xr.DataArray]],
    *,
    modality: str,
    design: dict,
    encoding: dict,
    layers: list[int] | None = None,
    progress: bool = False,
    onsets: Mapping[str, Mapping[str, np.ndarray | xr.DataArray]] | None = None,
    on_beyond_end: str = "error",
    word_sources: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Cross-validated encoding scores of every layer for every subject.

    Parameters
    ----------
    features
        ``{story: Dataset}`` following the Features contract (``hidden``: word x layer x feature,
        coords ``onset``, ``layer``, ``relative_depth``).
    recordings
        ``{subject: {story: DataArray}}`` following the Preprocessed contract (``time x voxel`` for
        fMRI, ``time x channel`` for MEG/EEG/iEEG).
    modality
        ``"fmri"``, or ``"meg"``, ``"eeg"``, ``"ieeg"``.
    design
        fMRI: ``{"method": "hrf"|"fir", "delays": [1, 2, 3, 4], "hrf_model": "spm"|"glover"}``
        (default hrf/spm).  MEG/EEG: ``{"tmin": 0.0, "tmax": 0.8}`` (s, word-locked lags).
    encoding
        ``{"alphas": [...], "inner_folds": 5, "outer_folds": None (leave one story out),
        "backend": "numpy"|"torch"|..., "chunk_size": None, "n_permutations": 0 (circular-shift
        p-values if > 0), "fdr_q": 0.05, "ceiling": "intersubject"|"none", "seed": 0,
        "channels_across_runs": "drop"|"error"}`` (MEG/EEG/iEEG runs of one subject with different
        channels, :func:`brainalign.encoding.targets.align_channels`).
    layers
        Subset of layers (default all).
    progress
        Show progress bars.
    onsets
        Per-subject word onsets ``{subject: {story: onsets}}`` (s, on the clock of that subject's
        recording), replacing the features' ``onset`` for those runs; runs not listed use the
        features' onsets.  Each entry is a 1-D array (one onset per word of the story) or a
        DataArray with dim ``word`` (:func:`brainalign.encoding.onsets.subject_onsets`); when it has
        a ``norm`` coord and the features a ``text`` coord, the normalised words must match the
        story's in order.  MEG/EEG subjects with different onsets are still fitted jointly when
        they keep the same words; fMRI subjects are grouped only with subjects sharing their onsets
        (no inter-subject ceiling for a subject alone in its group).
    on_beyond_end
        Word onsets outside a run's recording (:func:`recording_span`; config
        ``dataset.timings.on_beyond_end``): ``"error"`` (default) raises; ``"drop"`` (or ``"warn"``)
        leaves them out of that run's design, logs them and records the counts in the attribute
        ``words_outside_recording`` (JSON ``{subject: {story: n}}``).
    word_sources
        ``{story: word table path}``, named in those errors (per-subject onsets name their own
        ``source``).

    Returns
    -------
    xr.Dataset
        ``r``, ``r2``, ``alpha`` with dims ``subject x layer x voxel`` (fMRI) or
        ``subject x layer x channel x lag`` (MEG/EEG); target coords carried through,
        ``relative_depth`` on ``layer``.  With ``ceiling="intersubject"`` and >= 2 subjects:
        ``ceiling`` (subject x target) and ``r_normalized`` (``r / ceiling``, NaN where the ceiling
        is below 0.05).  With ``n_permutations > 0``: ``p`` (circular-shift, one-sided) and
        ``significant`` (BH-FDR at ``fdr_q`` across targets, per subject and layer).  Attrs
        ``channels_across_runs`` and, when used, ``channels_dropped`` (JSON ``{subject: [channels]}``)
        and ``words_left_out_bad_samples`` (JSON ``{subject: {story: n}}``: MEG/EEG/iEEG words whose
        window touches a NaN sample of a ``BAD`` segment, left out of that subject's fit).

    Raises
    ------
    InputError
        Word onsets outside a recording (``on_beyond_end="error"``), naming the word file, the
        recording, the subject, story, count and first such word.
    ValueError
        Unknown modality or keys, missing stories, mismatched target spaces (channel sets differing
        between subjects: an :class:`~brainalign.errors.InputError` naming them), NaN/inf data
        (fMRI; inf for MEG/EEG/iEEG, whose NaN marks ``BAD`` samples);
        onsets of unknown subjects or stories, or whose words differ from the story's (naming the
        file when the onsets carry a ``source`` attribute, the subject, story, first differing word
        index and both words).
    """
    modality = modality.lower()
    if modality not in FMRI + MEEG:
        raise ValueError(f"modality={modality!r}: expected 'fmri' or one of {MEEG}")
    if on_beyond_end not in ON_BEYOND_END:
        raise ValueError(f"on_beyond_end={on_beyond_end!r}: expected one of {ON_BEYOND_END}")
    dpar = _design_params(modality, design)
    enc = _encoding_params(encoding)
    stories = _check_stories(features, recordings)
    _check_onsets(onsets, features, recordings)
    subjects = list(recordings)
    first = features[stories[0]]
    all_layers = [int(v) for v in first["layer"].values]
    layers = all_layers if layers is None else [int(v) for v in layers]
    bad = [v for v in layers if v not in all_layers]
    if bad:
        raise ValueError(f"layers {bad} not in the features (layers present: {all_layers})")
    depth = (first["relative_depth"].sel(layer=layers).values if "relative_depth" in first.coords
             else np.asarray(layers, float) / max(all_layers))
    target_dim = "voxel" if modality in FMRI else "channel"
    # one channel set per subject (channels bad in some runs only), then checked across subjects
    recordings, target_attrs = align_channels(recordings, policy=enc["channels_across_runs"], dim="channel")
    words_left_out: dict[str, dict[str, int]] = {}

    # ---- targets per subject, on each story's sample layout ---------------------------------------
    ref_rec = recordings[subjects[0]][next(s for s in stories if s in recordings[subjects[0]])]
    if target_dim not in ref_rec.dims:
        raise ValueError(f"{modality} recordings must have dims (time, {target_dim}), got {ref_rec.dims} "
                         f"(subject {subjects[0]})")
    n_targets = ref_rec.sizes[target_dim]
    layouts: dict[str, tuple] = {}
    targets: dict[str, dict[str, np.ndarray]] = {}
    word_rows: dict[str, dict[str, np.ndarray]] = {}
    run_onsets: dict[str, dict[str, np.ndarray]] = {}
    outside: dict[str, dict[str, int]] = {}
    lag_values = None
    for subject in subjects:
        targets[subject], word_rows[subject], run_onsets[subject] = {}, {}, {}
        key = []
        for story in stories:
            if story not in recordings[subject]:
                continue
            rec = recordings[subject][story]
            where = f"subject {subject}, story {story}"
            if rec.sizes.get(target_dim) != n_targets:
                raise ValueError(f"{where}: {rec.sizes.get(target_dim)} {target_dim}s but subject {subjects[0]} has "
                                 f"{n_targets}; subjects must share the target space (e.g. MNI voxels, a parcellation)")
            values = np.asarray(rec.transpose("time", target_dim).values, dtype=np.float32)
            check_recording(values, allow_nan=modality not in FMRI, name=f"recording of {where}")
            word_onsets = _run_onsets(onsets, features, subject, story)
            word_onsets, n_out = _onsets_inside_recording(
                word_onsets, rec, features[story]["text"].values if "text" in features[story].coords else None,
                subject=subject, story=story, source=_onsets_source(onsets, word_sources, subject, story),
                on_beyond_end=on_beyond_end)
            if n_out:
                outside.setdefault(subject, {})[story] = n_out
            run_onsets[subject][story] = word_onsets
            if modality in FMRI:
                times = np.asarray(rec.time.values, dtype=np.float64)
                targets[subject][story] = values
                # The onsets place the words on the TR grid: a design is shared only by equal onsets.
                key.append((story, float(rec.attrs.get("tr", np.nan)), times.tobytes(), word_onsets.tobytes()))
            else:
                # Word-locked: the design rows are the words, so only which words are kept matters.
                ep = word_locked(rec, word_onsets, dpar["tmin"], dpar["tmax"])
                ep, n_out = drop_words_with_nan(ep, where)  # BAD segments (NaN) never reach the fit
                if n_out:
                    words_left_out.setdefault(subject, {})[story] = n_out
                if ep.sizes["word"] == 0:
                    raise ValueError(f"{where}: no word has a complete [{dpar['tmin']}, {dpar['tmax']}] s window")
                lag_values = ep.lag.values
                targets[subject][story] = ep.transpose("word", target_dim, "lag").values.reshape(ep.sizes["word"], -1)
                word_rows[subject][story] = ep.word.values
                key.append((story, ep.word.values.tobytes()))
        if not key:
            raise ValueError(f"subject {subject}: no recordings")
        layouts[subject] = tuple(key)

    tgt_shape = (n_targets,) if modality in FMRI else (n_targets, len(lag_values))
    n_flat = int(np.prod(tgt_shape))
    result = {k: np.full((len(subjects), len(layers), n_flat), np.nan, dtype=np.float32) for k in ("r", "r2", "alpha")}
    if enc["n_permutations"]:
        result["p"] = np.full((len(subjects), len(layers), n_flat), np.nan, dtype=np.float32)
    ceiling = np.full((len(subjects), n_flat), np.nan, dtype=np.float32)

    for group in _subject_groups(layouts):
        g_stories = [s for s in stories if s in targets[group[0]]]
        rows_story = np.concatenate([np.full(targets[group[0]][s].shape[0], s, dtype=object) for s in g_stories])
        Y = np.concatenate([np.concatenate([targets[sub][s] for sub in group], axis=1) for s in g_stories], axis=0)
        if modality in FMRI:
            rec0 = {s: recordings[group[0]][s] for s in g_stories}
            ops = {}
            for s in g_stories:
                tr = rec0[s].attrs.get("tr")
                if tr is None:
                    raise ValueError(f"subject {group[0]}, story {s}: fMRI recording has no 'tr' attribute")
                ops[s] = fmri_operator(run_onsets[group[0]][s], rec0[s].time.values, float(tr),
                                       dpar["method"], dpar["delays"], dpar["hrf_model"])

            def design_of_layer(layer, ops=ops, g_stories=g_stories):
                words = _layer_words(features, g_stories, layer)
                return np.concatenate([apply_operator(ops[s], words[s]).values for s in g_stories], axis=0)
        else:
            kept = {s: word_rows[group[0]][s] for s in g_stories}

            def design_of_layer(layer, kept=kept, g_stories=g_stories):
                words = _layer_words(features, g_stories, layer)
                return np.concatenate([words[s].values[kept[s]] for s in g_stories], axis=0)

        fitted = _fit_layers(design_of_layer, Y, rows_story, layers, enc, progress)
        for j, sub in enumerate(group):
            i = subjects.index(sub)
            cols = slice(j * n_flat, (j + 1) * n_flat)
            for k in result:
                result[k][i] = fitted[k][:, cols]
        if enc["ceiling"] == "intersubject" and len(group) >= 2:
            per_story = []
            for s in g_stories:
                stack = np.stack([targets[sub][s] for sub in group])
                per_story.append(intersubject_ceiling(stack))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                isc = np.nanmean(np.stack(per_story), axis=0)
            for j, sub in enumerate(group):
                ceiling[subjects.index(sub)] = isc[j]

    # ---- assemble the Scores contract --------------------------------------------------------------
    dims = ("subject", "layer", target_dim) + (() if modality in FMRI else ("lag",))
    shape = (len(subjects), len(layers)) + tgt_shape
    coords = {"subject": subjects, "layer": layers, "relative_depth": ("layer", np.asarray(depth, float))}
    coords.update(_target_coords(ref_rec, (target_dim,)))
    if modality not in FMRI:
        coords["lag"] = lag_values
    data_vars = {k: (dims, v.reshape(shape)) for k, v in result.items()}
    if "p" in result:
        sig = np.zeros(result["p"].shape, bool)
        for i in range(len(subjects)):
            for j in range(len(layers)):
                sig[i, j] = fdr_bh(result["p"][i, j], enc["fdr_q"])[0]
        data_vars["significant"] = (dims, sig.reshape(shape))
    if enc["ceiling"] == "intersubject" and np.isfinite(ceiling).any():
        data_vars["ceiling"] = ((dims[0],) + dims[2:], ceiling.reshape((len(subjects),) + tgt_shape))
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = result["r"] / ceiling[:, None, :]
        norm[~(np.broadcast_to(ceiling[:, None, :], norm.shape) >= 0.05)] = np.nan
        data_vars["r_normalized"] = (dims, norm.reshape(shape).astype(np.float32))
    ds = xr.Dataset(data_vars, coords=coords)
    ds["r"].attrs["description"] = "held-out Pearson r, mean over story-wise outer folds"
    ds["r2"].attrs["description"] = "held-out R^2 (1 - SSE/SS_tot about the test mean), mean over outer folds"
    ds["alpha"].attrs["description"] = "ridge alpha chosen by inner K-fold CV, geometric mean over outer folds"
    if "lag" in ds.coords:
        ds["lag"].attrs["units"] = "s"
    ds.attrs.update({
        "modality": modality,
        "design": json.dumps(dpar),
        "encoding": json.dumps({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in enc.items()}),
        "stories": json.dumps(stories),
        "score_aggregation": "mean over story-wise outer folds (leave one story out unless outer_folds is set)",
        "feature_standardization": "per layer, per feature z-score over all words; design re-standardised on "
                                   "training folds only",
        "ceiling_method": "leave-one-subject-out correlation with the mean of the other subjects, per story, "
                          "averaged" if "ceiling" in data_vars else "none",
    })
    ds.attrs.update(target_attrs)
    if words_left_out:
        ds.attrs["words_left_out_bad_samples"] = json.dumps(words_left_out)
    # What maps and topomaps need to place the targets (grid, montage) travels with the scores.
    for key in ("affine", "mask_shape", "tr", "montage", "sfreq", "space"):
        if key in ref_rec.attrs:
            ds.attrs[key] = ref_rec.attrs[key]
    ds.attrs["on_beyond_end"] = on_beyond_end
    if outside:
        ds.attrs["words_outside_recording"] = json.dumps(outside, sort_keys=True)
    if "relative_depth" not in first.coords:
        ds.attrs["relative_depth_note"] = "computed as layer / max(layer): features had no relative_depth coord"
    return ds


def scores_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Tidy long form of a Scores dataset for the CSV.

    Columns: ``subject, layer, relative_depth, target, [lag,] r, r2, alpha`` followed by any of
    ``ceiling, r_normalized, p, significant`` present, then target coords (e.g. ``region``, ``x``).
    ``target`` is the voxel index or the channel name.
    """
    target_dim = "voxel" if "voxel" in ds.dims else "channel"
    names = [v for v in ("r", "r2", "alpha", "r_normalized", "p", "significant") if v in ds]
    df = ds[names].to_dataframe().reset_index()
    if "ceiling" in ds:
        cdf = ds["ceiling"].to_dataframe().reset_index()
        keep = [c for c in cdf.columns if c in ("subject", target_dim, "lag", "ceiling")]
        df = df.merge(cdf[keep], on=[c for c in keep if c != "ceiling"], how="left")
    df = df.rename(columns={target_dim: "target"})
    extra_target = [c for c in ds.coords if ds[c].dims == (target_dim,) and c != target_dim]
    if extra_target:
        tcoords = ds[extra_target].to_dataframe().reset_index().rename(columns={target_dim: "target"})
        df = df.drop(columns=[c for c in extra_target if c in df.columns]).merge(tcoords, on="target", how="left")
    front = ["subject", "layer", "relative_depth", "target"] + (["lag"] if "lag" in df.columns else [])
    values = ["r", "r2", "alpha"] + [c for c in ("ceiling", "r_normalized", "p", "significant") if c in df.columns]
    rest = [c for c in df.columns if c not in front + values]
    return df[front + values + rest]
