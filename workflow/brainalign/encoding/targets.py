"""Which targets (channels) the encoder fits, when runs or subjects did not keep the same ones.

MEG/EEG/iEEG preprocessing drops the channels marked bad in each run's ``channels.tsv`` (and the
channels left without usable samples, :mod:`brainalign.preprocess.nonfinite`).  A channel marked
bad in one story but not in another of the same subject is common in real data; stacking the
stories of that subject then needs one channel set.  Policy (``encoding.channels_across_runs``):

``drop`` (default)
    For each subject, keep only the channels present in every one of its runs (the intersection,
    in the order of the subject's first run); the others are dropped from all of its runs, logged
    with their names and recorded in the scores' attribute ``channels_dropped`` (JSON
    ``{subject: [channels]}``).
``error``
    Stop, naming the subject, each run (file) and the channels it lacks.

Subjects fitted jointly (``encoding.subjects: joint``, the default for MEG/EEG) share one target
axis: channel sets that still differ *between subjects* are an error naming the subjects, the
channels each lacks and ``encoding.subjects: separate``.  When subjects have the same channels in a
different order, each subject's recordings are put in the first subject's order by name, so a
target index always means the same channel.  Subjects fitted separately (iEEG patients, each with
their own electrodes) keep their own channels (``across_subjects=False``).

fMRI targets are voxel positions on a common grid (no names); their count is checked by the
encoder.  Word-locked MEG/EEG/iEEG designs leave out the words whose window touches a NaN sample
(``BAD`` segments, :func:`drop_words_with_nan`), as the Preprocessed contract says.
"""

from __future__ import annotations

import json
import logging
from typing import Mapping

import numpy as np
import xarray as xr

from brainalign.errors import InputError

log = logging.getLogger(__name__)

#: Values of ``encoding.channels_across_runs``.
POLICIES = ("drop", "error")


def _source(rec: xr.DataArray, subject: str, story: str) -> str:
    return str(rec.attrs.get("source_file") or f"recording of subject {subject}, story {story}")


def align_channels(
    recordings: Mapping[str, Mapping[str, xr.DataArray]],
    *,
    policy: str = "drop",
    dim: str = "channel",
    across_subjects: bool = True,
) -> tuple[dict[str, dict[str, xr.DataArray]], dict]:
    """One channel set and order for every run of every subject.

    Parameters
    ----------
    recordings
        ``{subject: {story: DataArray}}`` (Preprocessed contract, dims ``time x channel``).
    policy
        ``"drop"`` or ``"error"`` for runs of one subject with different channels (module docstring).
    dim
        The target dimension (``channel``); recordings without it are returned unchanged.
    across_subjects
        Also give every subject the first subject's channels, in its order (joint fits); ``False``:
        each subject keeps its own channels (separate fits).

    Returns
    -------
    recordings, attrs
        The aligned recordings and the attributes for the scores: ``channels_across_runs`` (the
        policy) and, when channels were dropped, ``channels_dropped`` (JSON ``{subject: [names]}``);
        no attributes for recordings without ``dim`` (fMRI).

    Raises
    ------
    InputError
        ``policy="error"`` and a subject's runs differ (naming the subject, the files and the
        channels each lacks); or, with ``across_subjects``, subjects differ after the per-subject
        step (naming the subjects, the channels each lacks and the options).
    """
    if policy not in POLICIES:
        raise InputError("config key 'encoding.channels_across_runs'", f"{policy!r} is not a policy",
                         expected=f"one of {list(POLICIES)}")
    first = next((rec for recs in recordings.values() for rec in recs.values()), None)
    if first is None or dim not in first.dims:
        return {s: dict(r) for s, r in recordings.items()}, {}
    attrs: dict = {"channels_across_runs": policy}

    out: dict[str, dict[str, xr.DataArray]] = {}
    dropped: dict[str, list[str]] = {}
    for subject, recs in recordings.items():
        out[subject], gone = _align_subject_runs(subject, recs, policy=policy, dim=dim)
        if gone:
            dropped[subject] = gone

    if dropped:
        attrs["channels_dropped"] = json.dumps(dropped)
    if not across_subjects:
        return out, attrs
    return _align_across_subjects(out, dim=dim), attrs


def _align_subject_runs(
    subject: str, recs: Mapping[str, xr.DataArray], *, policy: str, dim: str,
) -> tuple[dict[str, xr.DataArray], list[str]]:
    """One subject's runs reduced to the channels present in all of them, in the order of its first run.

    Returns the aligned runs and the channels dropped (sorted; empty when the runs already agree).
    Raises InputError with ``policy="error"`` when the runs differ, and when no channel is common.
    """
    names = {story: [str(c) for c in rec[dim].values] for story, rec in recs.items()}
    if not names:
        return {}, []
    order = next(iter(names.values()))
    common = set.intersection(*(set(n) for n in names.values()))
    union = set().union(*(set(n) for n in names.values()))
    gone: list[str] = []
    if common != union:
        lacking = {story: sorted(union - set(n)) for story, n in names.items() if union - set(n)}
        listing = "; ".join(f"story {story} ({_source(recs[story], subject, story)}) lacks {chans}"
                            for story, chans in lacking.items())
        if policy == "error":
            story0 = next(iter(lacking))
            raise InputError(_source(recs[story0], subject, story0),
                             f"subject {subject}'s runs kept different channels (marked bad in some runs only?): "
                             f"{listing}", expected="the same channels in every run of a subject",
                             hint="set encoding.channels_across_runs: drop to keep, for this subject, only the "
                                  "channels present in all of its runs")
        gone = [c for c in sorted(union) if c not in common]
        log.warning("subject %s: channel(s) %s are absent from some of its runs (%s); dropped from all of its "
                    "runs (encoding.channels_across_runs: drop)", subject, gone, listing)
    keep = [c for c in order if c in common]
    aligned = {story: rec.sel({dim: keep}) if names[story] != keep else rec for story, rec in recs.items()}
    if not keep:
        story0 = next(iter(recs))
        raise InputError(_source(recs[story0], subject, story0),
                         f"subject {subject}: no channel is present in every one of its runs",
                         expected="at least one channel kept in all runs of the subject")
    return aligned, gone


def _align_across_subjects(
    out: dict[str, dict[str, xr.DataArray]], *, dim: str,
) -> dict[str, dict[str, xr.DataArray]]:
    """Every subject put in the first subject's channel order (by name); differing channel sets are an
    InputError naming the subjects, the channels each lacks and the options.  Updates ``out`` in place."""
    subjects = [s for s in out if out[s]]
    ref = subjects[0]
    ref_order = [str(c) for c in next(iter(out[ref].values()))[dim].values]
    differing = []
    for subject in subjects[1:]:
        order = [str(c) for c in next(iter(out[subject].values()))[dim].values]
        if set(order) != set(ref_order):
            differing.append((subject, sorted(set(ref_order) - set(order)), sorted(set(order) - set(ref_order))))
        elif order != ref_order:
            out[subject] = {story: rec.sel({dim: ref_order}) for story, rec in out[subject].items()}
    if differing:
        listing = "; ".join(f"subject {s} " + " and ".join(
            ([f"lacks {lack}"] if lack else []) + ([f"has {extra} that subject {ref} lacks"] if extra else []))
            for s, lack, extra in differing)
        subject = differing[0][0]
        story = next(iter(out[subject]))
        raise InputError(_source(out[subject][story], subject, story),
                         f"subjects keep different channels ({len(ref_order)} for subject {ref}): {listing}",
                         expected="the same channels for every subject of one joint encoding (subjects are fitted "
                                  "jointly on one target axis)",
                         hint="set encoding.subjects: separate to fit each subject on its own channels (scores on a "
                              "pooled channel axis), or mark the channels bad for every subject (channels.tsv), or "
                              "use preprocess.meeg.bad_channels: interpolate (EEG with positions) or keep")
    return out


def check_recording(values: np.ndarray, *, allow_nan: bool, name: str) -> None:
    """Raise on non-finite recording values: any for fMRI; only inf where NaN marks ``BAD`` samples.

    Raises
    ------
    ValueError
        Naming ``name``, the count and the first offending sample and target.
    """
    bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if bad.any():
        rows, cols = np.nonzero(bad)
        what = "inf" if allow_nan else "NaN/inf"
        raise ValueError(f"{name} contain {rows.size} {what} values (first at row {rows[0]}, target {cols[0]}); "
                         "remove or interpolate them before encoding (preprocess.*.nonfinite)")


def drop_words_with_nan(epochs: xr.DataArray, where: str) -> tuple[xr.DataArray, int]:
    """Leave out the words whose ``channel x lag`` window holds a NaN sample (a ``BAD`` segment).

    Returns the kept epochs (the ``word`` coordinate keeps the original word indices) and how many
    were left out (logged).
    """
    values = epochs.transpose("word", ...).values
    bad = np.isnan(values.reshape(values.shape[0], -1)).any(axis=1)
    if not bad.any():
        return epochs, 0
    log.info("%s: %d of %d words left out: their window touches samples marked BAD (NaN)", where,
             int(bad.sum()), bad.size)
    return epochs.isel(word=np.flatnonzero(~bad)), int(bad.sum())
