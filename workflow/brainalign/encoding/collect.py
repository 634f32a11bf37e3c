"""Phase 1 of the encode stage: every subject's targets, on each story's sample layout.

:func:`collect_targets` turns the Preprocessed recordings (``time x voxel|channel`` per subject and
story) into what the fits need and nothing of the features' layers: per subject and story the
target matrix (rows: fMRI volumes or MEG/EEG/iEEG words kept; columns: voxels, or channel x lag
flattened), the word onsets of each run (checked against the recording), the rows kept, and the
*layout key* that decides which subjects can share one design (:func:`brainalign.encoding.pipeline.
subject_groups`).  It also settles, before any fit, whether the subjects share one target axis:

``joint`` (fMRI always; MEG/EEG by default)
    Every subject has the same targets: the same voxels of one grid (positions compared, not only
    counts, so that a per-run EPI mask cannot pair different voxels silently) or the same channels
    (aligned by name, :func:`brainalign.encoding.targets.align_channels`).  Scores: one target
    axis, ``subject x layer x voxel`` / ``subject x layer x channel x lag``.
``separate`` (iEEG by default; MEG/EEG with ``encoding.subjects: separate``)
    Every subject has their own channels (a patient's electrodes).  They are still fitted in one
    solve with every subject whose design rows are the same (their columns are concatenated; the
    ridge solves each column on its own, so this only shares the decomposition of the design), and
    assembled on a pooled channel axis (:mod:`brainalign.encoding.assemble`).

See ``docs/architecture.md`` (Scores) for the contract.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np
import xarray as xr

from ..config_sections import require
from ..design.meeg import word_locked
from ..errors import InputError
from ..io.timings import check_same_words, normalize_word
from ..errors import ConfigError
from .settings import design_section, resolve_subject_fits, solver_keys
from .targets import align_channels, check_recording, drop_words_with_nan

FMRI = ("fmri",)
MEEG = ("meg", "eeg", "ieeg", "meeg", "ecog", "seeg")
#: Handling of word onsets outside a recording (config ``dataset.timings.on_beyond_end``); ``warn``
#: cannot keep a word the recording does not hold, so it leaves it out as ``drop`` does.
ON_BEYOND_END = ("error", "drop", "warn")
#: Voxel coordinates that say where a target is: equal across subjects in a joint fMRI fit.
POSITION_COORDS = ("x", "y", "z", "hemi", "vertex")

log = logging.getLogger(__name__)


@dataclass
class SubjectTargets:
    """One subject's targets, ready to be stacked with those of the subjects sharing its design.

    Attributes
    ----------
    subject : the subject label.
    stories : the stories this subject has recordings of, in the features' order.
    values : ``{story: (rows, n_columns) float32}``; columns are voxels, or channel x lag
        (channel-major) for MEG/EEG/iEEG.
    onsets : ``{story: word onsets}`` (s) of each run after the checks (NaN: left out).
    rows : ``{story: kept word indices}`` (MEG/EEG/iEEG word-locked rows; empty for fMRI).
    times, tr : ``{story: volume times}``, ``{story: TR}`` (fMRI; the design's TR grid).
    layout : the key of its sample layout; subjects with equal keys share one design.
    target_shape : ``(n_voxels,)`` or ``(n_channels, n_lags)``.
    coords : the recording's coordinates on the target dim (``{name: (dims, values)}``).
    attrs : attributes of the subject's first recording (grid, montage, sampling rate).
    block : ``(start, stop, n_total)`` when only a block of the subject's targets (voxels or
        channels, :func:`target_block`) was collected (a shard of a sharded run); else None.
    """

    subject: str
    stories: list[str]
    values: dict[str, np.ndarray]
    onsets: dict[str, np.ndarray]
    rows: dict[str, np.ndarray]
    times: dict[str, np.ndarray]
    tr: dict[str, float | None]
    layout: tuple
    target_shape: tuple[int, ...]
    coords: dict[str, tuple]
    attrs: dict[str, Any]
    block: tuple[int, int, int] | None = None

    @property
    def n_columns(self) -> int:
        """Number of target columns (voxels, or channels x lags)."""
        return int(np.prod(self.target_shape))


@dataclass
class EncodingTargets:
    """What :func:`collect_targets` hands to the fits and to the assembly of the scores.

    Attributes
    ----------
    modality : ``fmri``, ``meg``, ``eeg``, ``ieeg`` ...
    target_dim : ``voxel`` or ``channel``.
    subject_fits : ``joint`` (one target axis) or ``separate`` (each subject's own channels).
    stories : stories with both features and recordings, in the features' order.
    layers : the layers to fit; ``depth`` their relative depths.
    design, encoding : the checked design and encoding settings.
    subjects : ``{subject: SubjectTargets}`` in the recordings' order.
    lags : lag values (s) of word-locked designs, else None.
    attrs : attributes for the scores (channel policy, words left out, onsets outside recordings ...).
    """

    modality: str
    target_dim: str
    subject_fits: str
    stories: list[str]
    layers: list[int]
    depth: np.ndarray
    design: dict
    encoding: dict
    subjects: dict[str, SubjectTargets]
    lags: np.ndarray | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def subject_names(self) -> list[str]:
        return list(self.subjects)

    def metadata(self) -> "EncodingTargets":
        """A copy without the target arrays: what :func:`~brainalign.encoding.assemble.assemble_scores`
        needs to place fits made elsewhere (a gather job of a sharded run reads no recording)."""
        light = {s: replace(t, values={}) for s, t in self.subjects.items()}
        return replace(self, subjects=light)


def target_block(n_targets: int, block: tuple[int, int] | None) -> slice:
    """The targets of block ``k`` of ``K`` (``block=(k, K)``): ``[k n // K, (k + 1) n // K)``.

    Blocks are fractions of the subject's own count, so a plan made from headers (before
    preprocessing fixes the exact voxel or channel count) names the same blocks as the shards see.
    ``None``: every target.

    Raises
    ------
    ValueError
        ``k`` outside ``[0, K)``, or a block with no target (more blocks than targets).
    """
    if block is None:
        return slice(0, n_targets)
    k, n_blocks = (int(v) for v in block)
    if not 0 <= k < n_blocks:
        raise ValueError(f"target block {k} of {n_blocks}: expected 0 <= block < {n_blocks}")
    start, stop = k * n_targets // n_blocks, (k + 1) * n_targets // n_blocks
    if stop <= start:
        raise ValueError(f"target block {k} of {n_blocks} holds no target ({n_targets} targets): plan fewer blocks")
    return slice(start, stop)


def design_params(modality: str, design: Mapping[str, Any]) -> dict:
    """Checked design settings (fMRI: hrf/fir delays; MEG/EEG/iEEG: word-locked lags).

    ``design`` is the complete ``design.fmri`` / ``design.meeg`` section (the workflow's validated
    config, or :func:`brainalign.encoding.settings.design_settings`); a missing or unknown key is a
    :class:`~brainalign.errors.ConfigError` naming it: the schema is the only place of the defaults.
    """
    section = design_section(modality)
    design = require(design, section)
    if modality in FMRI:
        out = {"method": design.pop("method"), "delays": [int(d) for d in design.pop("delays")],
               "hrf_model": design.pop("hrf_model")}
    else:
        out = {"method": design.pop("method"), "tmin": float(design.pop("tmin")), "tmax": float(design.pop("tmax"))}
        if out["method"] != "word_locked":
            raise ValueError(f"design.method={out['method']!r} for {modality}: only 'word_locked' is wired into "
                             "encode_dataset")
    return out


def encoding_params(encoding: Mapping[str, Any], modality: str) -> dict:
    """Checked encoding settings; ``subjects`` resolved for ``modality`` (joint/separate).

    ``encoding`` is the complete solver dict of :func:`brainalign.encoding.settings.encoding_settings`
    (``alphas`` as a list, ``seed``), or of :func:`~brainalign.encoding.settings.solver_settings`
    outside Snakemake; a missing or unknown key is a :class:`~brainalign.errors.ConfigError` naming it.
    """
    if not isinstance(encoding, Mapping):
        raise ConfigError("encoding", f"{encoding!r} is not a mapping", expected="the solver settings")
    keys = solver_keys()
    for key in keys:
        if key not in encoding:
            raise ConfigError(key if key == "seed" else f"encoding.{key}", "missing",
                              expected="complete solver settings (encoding_settings of the validated section)",
                              hint="outside Snakemake, build them with brainalign.encoding.settings.solver_settings")
    unknown = sorted(set(encoding) - set(keys))
    if unknown:
        raise ConfigError(f"encoding.{unknown[0]}", "unknown key", expected=f"one of {keys}")
    encoding = dict(encoding)
    out = {
        "alphas": np.asarray(encoding["alphas"], dtype=np.float64),
        "inner_folds": int(encoding["inner_folds"]),
        "outer_folds": encoding["outer_folds"],
        "backend": encoding["backend"],
        "chunk_size": encoding["chunk_size"],
        "n_permutations": int(encoding["n_permutations"]),
        "fdr_q": float(encoding["fdr_q"]),
        "ceiling": encoding["ceiling"],
        "seed": int(encoding["seed"]),
        "channels_across_runs": encoding["channels_across_runs"],
        "subjects": resolve_subject_fits(encoding["subjects"], modality),
    }
    if out["ceiling"] not in ("intersubject", "none", None):
        raise ValueError(f"encoding.ceiling={out['ceiling']!r}: expected 'intersubject' or 'none'")
    return out


def target_coords(da: xr.DataArray, dims: Iterable[str]) -> dict:
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


def _same_lags(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b))


def _source(rec: xr.DataArray, subject: str, story: str) -> str:
    return str(rec.attrs.get("source_file") or f"recording of subject {subject}, story {story}")


def check_shared_targets(recordings: Mapping[str, Mapping[str, xr.DataArray]], stories: list[str],
                         target_dim: str) -> None:
    """Joint fits: every run of every subject has the reference run's targets (count and positions).

    The reference is the first subject's first run.  Counts are compared first; for voxels also
    their positions (``x, y, z``, ``hemi``, ``vertex`` where both runs have them), so that runs
    masked differently (a per-run EPI mask) never put different voxels in one column.

    Raises
    ------
    InputError
        Naming the run's file, the subject and story, the counts or the first differing target, and
        the settings that make subjects share a target space.
    """
    subjects = list(recordings)
    ref_subject = subjects[0]
    ref_story = next(s for s in stories if s in recordings[ref_subject])
    ref = recordings[ref_subject][ref_story]
    if target_dim not in ref.dims:
        raise ValueError(f"recordings must have dims (time, {target_dim}), got {ref.dims} (subject {ref_subject})")
    n_ref = ref.sizes[target_dim]
    hint = ("preprocess every subject onto one grid (preprocess.fmri.mask: mni152 or a mask image, or an atlas; an "
            "'epi' mask is computed per run)" if target_dim == "voxel" else
            "set encoding.subjects: separate to fit each subject on its own channels")
    for subject in subjects:
        for story in stories:
            rec = recordings[subject].get(story)
            if rec is None or (subject == ref_subject and story == ref_story):
                continue
            where = f"subject {subject}, story {story}"
            n = rec.sizes.get(target_dim)
            if n != n_ref:
                raise InputError(_source(rec, subject, story),
                                 f"{where}: {n} {target_dim}s but subject {ref_subject} has {n_ref}; subjects must "
                                 "share the target space (e.g. MNI voxels, a parcellation)",
                                 expected=f"the {n_ref} {target_dim}s of subject {ref_subject}, story {ref_story}",
                                 hint=hint)
            if target_dim != "voxel":
                continue
            for name in POSITION_COORDS:
                if name not in ref.coords or name not in rec.coords:
                    continue
                a, b = np.asarray(ref[name].values), np.asarray(rec[name].values)
                if a.dtype.kind in "fiu" and b.dtype.kind in "fiu":
                    differ = ~np.isclose(a, b, rtol=0.0, atol=1e-4, equal_nan=True)
                else:  # labels (hemisphere): compared as text
                    differ = np.array([str(u) for u in a]) != np.array([str(v) for v in b])
                if differ.any():
                    i = int(np.flatnonzero(differ)[0])
                    raise InputError(_source(rec, subject, story),
                                     f"{where}: voxel {i} is at {name}={b[i]} but at {name}={a[i]} for subject "
                                     f"{ref_subject}, story {ref_story}; subjects must share the target space "
                                     "(the same voxels in the same order)", field=f"coordinate {name!r}",
                                     expected="the voxel positions of the first run", hint=hint)


def _collect_subject(
    subject: str,
    recs: Mapping[str, xr.DataArray],
    features: dict,
    stories: list[str],
    *,
    modality: str,
    target_dim: str,
    dpar: dict,
    onsets: Mapping | None,
    word_sources: Mapping[str, str] | None,
    on_beyond_end: str,
    outside: dict,
    words_left_out: dict,
    block: tuple[int, int] | None = None,
) -> tuple[SubjectTargets, np.ndarray | None]:
    """One subject's targets per story (see :class:`SubjectTargets`) and its lags (word-locked).

    ``block``: only that block of the targets (:func:`target_block`).  fMRI reads only the block's
    voxels (a lazy store reads only their chunks); word-locked modalities read every channel, since
    a word is left out when any channel is NaN in its window (``BAD`` segments), and keep the block's
    channels once the words are settled, so the rows are those of the unsharded fit.
    """
    values, rows, run_onsets, times_of, tr_of = {}, {}, {}, {}, {}
    key, own_stories, lags, first_rec, sl = [], [], None, None, None
    for story in stories:
        if story not in recs:
            continue
        rec = recs[story]
        where = f"subject {subject}, story {story}"
        if target_dim not in rec.dims:
            raise ValueError(f"{modality} recordings must have dims (time, {target_dim}), got {rec.dims} ({where})")
        if sl is None:
            n_total = rec.sizes[target_dim]
            sl = target_block(n_total, block)
        first_rec = rec.isel({target_dim: sl}) if first_rec is None else first_rec
        if modality in FMRI:
            rec = rec.isel({target_dim: sl})
        data = np.asarray(rec.transpose("time", target_dim).values, dtype=np.float32)
        check_recording(data, allow_nan=modality not in FMRI, name=f"recording of {where}")
        word_onsets = _run_onsets(onsets, features, subject, story)
        word_onsets, n_out = _onsets_inside_recording(
            word_onsets, rec, features[story]["text"].values if "text" in features[story].coords else None,
            subject=subject, story=story, source=_onsets_source(onsets, word_sources, subject, story),
            on_beyond_end=on_beyond_end)
        if n_out:
            outside.setdefault(subject, {})[story] = n_out
        run_onsets[story] = word_onsets
        own_stories.append(story)
        if modality in FMRI:
            times = np.asarray(rec.time.values, dtype=np.float64)
            values[story] = data
            times_of[story] = rec.time.values  # as the design's operator has always read them
            tr_of[story] = rec.attrs.get("tr")
            # The onsets place the words on the TR grid: a design is shared only by equal onsets.
            key.append((story, float(rec.attrs.get("tr", np.nan)), times.tobytes(), word_onsets.tobytes()))
        else:
            # Word-locked: the design rows are the words, so only which words are kept matters.
            ep = word_locked(rec, word_onsets, dpar["tmin"], dpar["tmax"])
            ep, n_nan = drop_words_with_nan(ep, where)  # BAD segments (NaN) never reach the fit
            ep = ep.isel({target_dim: sl})
            if n_nan:
                words_left_out.setdefault(subject, {})[story] = n_nan
            if ep.sizes["word"] == 0:
                raise ValueError(f"{where}: no word has a complete [{dpar['tmin']}, {dpar['tmax']}] s window")
            run_lags = np.asarray(ep.lag.values)
            if lags is not None and not _same_lags(run_lags, lags):
                raise InputError(_source(rec, subject, story),
                                 f"{where}: the word-locked lags ({run_lags.size} at {rec.attrs.get('sfreq')} Hz) "
                                 f"differ from those of the subject's other runs ({lags.size})",
                                 expected="one sampling rate for every run", hint="preprocess with one `resample` rate")
            lags = run_lags
            values[story] = ep.transpose("word", target_dim, "lag").values.reshape(ep.sizes["word"], -1)
            rows[story] = ep.word.values
            key.append((story, ep.word.values.tobytes()))
    if not key:
        raise ValueError(f"subject {subject}: no recordings")
    n_targets = first_rec.sizes[target_dim]
    shape = (n_targets,) if modality in FMRI else (n_targets, len(lags))
    return SubjectTargets(subject=subject, stories=own_stories, values=values, onsets=run_onsets, rows=rows,
                          times=times_of, tr=tr_of, layout=tuple(key), target_shape=shape,
                          coords=target_coords(first_rec, (target_dim,)), attrs=dict(first_rec.attrs),
                          block=None if block is None else (sl.start, sl.stop, n_total)), lags


def collect_targets(
    features: dict[str, xr.Dataset],
    recordings: dict[str, dict[str, xr.DataArray]],
    *,
    modality: str,
    design: dict,
    encoding: dict,
    layers: list[int] | None = None,
    onsets: Mapping[str, Mapping[str, np.ndarray | xr.DataArray]] | None = None,
    on_beyond_end: str = "error",
    word_sources: Mapping[str, str] | None = None,
    block: tuple[int, int] | None = None,
) -> EncodingTargets:
    """Check the inputs and collect every subject's targets (phase 1 of :func:`encode_dataset`).

    Parameters are those of :func:`brainalign.encoding.encode_dataset`; ``encoding["subjects"]``
    (``auto``/``joint``/``separate``, or ``{modality: ...}``) decides whether subjects share one
    target axis (module docstring).  ``block=(k, K)``: only target block ``k`` of ``K`` of every
    subject (:func:`target_block`; a shard of a sharded run, :mod:`brainalign.encoding.shards`):
    the checks across subjects still see every target, the values are read for the block only.

    Returns
    -------
    EncodingTargets

    Raises
    ------
    InputError
        Joint subjects whose targets differ (counts, voxel positions, channel names), runs with
        different lags, word onsets outside a recording (``on_beyond_end="error"``).
    ValueError
        Unknown modality, keys or layers, stories without features, NaN/inf data (see
        :func:`encode_dataset`).
    """
    modality = modality.lower()
    if modality not in FMRI + MEEG:
        raise ValueError(f"modality={modality!r}: expected 'fmri' or one of {MEEG}")
    if on_beyond_end not in ON_BEYOND_END:
        raise ValueError(f"on_beyond_end={on_beyond_end!r}: expected one of {ON_BEYOND_END}")
    dpar = design_params(modality, design)
    enc = encoding_params(encoding, modality)
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
    separate = enc["subjects"] == "separate"
    # one channel set per subject (channels bad in some runs only), then (joint) checked across subjects
    recordings, attrs = align_channels(recordings, policy=enc["channels_across_runs"], dim="channel",
                                       across_subjects=not separate)
    if not separate:  # before any run is read: a mismatch stops the job at once
        check_shared_targets(recordings, stories, target_dim)

    outside: dict[str, dict[str, int]] = {}
    words_left_out: dict[str, dict[str, int]] = {}
    collected: dict[str, SubjectTargets] = {}
    lags, lags_of = None, None
    for subject in subjects:
        collected[subject], sub_lags = _collect_subject(
            subject, recordings[subject], features, stories, modality=modality, target_dim=target_dim, dpar=dpar,
            onsets=onsets, word_sources=word_sources, on_beyond_end=on_beyond_end, outside=outside,
            words_left_out=words_left_out, block=block)
        if sub_lags is None:
            continue
        if lags is not None and not _same_lags(sub_lags, lags):
            rec = next(iter(recordings[subject].values()))
            raise InputError(_source(rec, subject, collected[subject].stories[0]),
                             f"subject {subject}: {sub_lags.size} word-locked lags at {rec.attrs.get('sfreq')} Hz but "
                             f"subject {lags_of} has {lags.size}; scores share one lag axis",
                             expected="one sampling rate for every subject", hint="preprocess with one `resample` rate")
        lags, lags_of = sub_lags, lags_of or subject

    attrs["subject_fits"] = enc["subjects"]
    if words_left_out:
        attrs["words_left_out_bad_samples"] = words_left_out
    attrs["on_beyond_end"] = on_beyond_end
    if outside:
        attrs["words_outside_recording"] = outside
    if "relative_depth" not in first.coords:
        attrs["relative_depth_note"] = "computed as layer / max(layer): features had no relative_depth coord"
    return EncodingTargets(modality=modality, target_dim=target_dim, subject_fits=enc["subjects"], stories=stories,
                           layers=layers, depth=np.asarray(depth, float), design=dpar, encoding=enc,
                           subjects=collected, lags=lags, attrs=attrs)
