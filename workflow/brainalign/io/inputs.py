"""The input check (``rule check_inputs``): every run's metadata and timings, read once, before compute.

A user with 300 subjects should learn everything wrong with a dataset in seconds, not one problem
per failed job after hours of compute.  :func:`check_dataset` opens every run of every modality
*headers only* (NIfTI headers and the gzip trailer, M/EEG headers, sidecars, ``channels.tsv``,
``events.tsv``, the confounds' row count) and every story's word timings, collects every problem
(:class:`Problem`) instead of stopping at the first, and returns one row per subject x story x
modality: files, duration, sampling rate or TR, channels or voxels, words inside and outside the
recording, bad channels, problems.  :func:`raise_blocking` then stops with one
:class:`~brainalign.errors.InputError` that lists them all.

Functions
---------
inspect_run(row, ...)            one run (a row of brainalign.io.bids.find_runs): a table row, problems collected
story_words(...)                 a story's (or a subject's) word timings, read as rule ``words`` reads them
check_dataset(...)               every run of every modality -> the inputs table
raise_blocking(table, source)    one InputError listing every blocking problem (nothing when none)
select_dataset_runs(...)         the runs the workflow plans (same discovery as workflow/rules/common.smk)
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.config_sections import complete, defaults, require
from brainalign.errors import InputError

log = logging.getLogger(__name__)

#: Columns of ``results/{dataset}/inputs.tsv``, one row per subject x story x modality.
COLUMNS = ["subject", "story", "modality", "status", "duration_s", "sfreq_hz", "tr_s", "n_samples", "n_targets",
           "n_words", "words_inside", "words_outside", "first_word_outside", "last_event_s", "n_bad_channels",
           "bad_channels", "n_problems", "problems", "files"]


@dataclass
class Problem:
    """One finding about one run: ``blocking`` problems stop the run, the others are notes."""

    message: str
    blocking: bool = True

    @classmethod
    def from_error(cls, err: Exception, blocking: bool = True) -> "Problem":
        return cls(str(err).replace("\n", " "), blocking)


# ------------------------------------------------------------------------------ one run
def _count_rows(path: str) -> int:
    """Data rows of a TSV (lines after the header, blank trailing lines ignored), without parsing."""
    with open(path, "rb") as fh:
        lines = [line for line in fh.read().splitlines() if line.strip()]
    return max(len(lines) - 1, 0)


def _gifti_shape(path: str) -> tuple[int, int]:
    """(volumes, vertices) of a GIFTI func file without decoding its arrays: the number of
    ``<DataArray`` elements and the first one's ``Dim0`` (one array of vertex x time counts its ``Dim1``)."""
    import re

    n_arrays, dims = 0, None
    tail = b""
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            chunk = tail + block
            n_arrays += chunk.count(b"<DataArray") - tail.count(b"<DataArray")
            if dims is None:
                tag = re.search(rb"<DataArray\b[^>]*>", chunk)  # attributes in any order
                if tag:
                    attrs = dict(re.findall(rb"(\w+)=\"([^\"]*)\"", tag.group(0)))
                    dims = (int(attrs.get(b"Dimensionality", b"1")), int(attrs.get(b"Dim0", b"0")),
                            int(attrs.get(b"Dim1", b"0")))
            tail = chunk[-64:]
    if dims is None or dims[1] == 0:
        raise InputError(path, "no <DataArray> with Dim0 found", expected="a GIFTI functional file (.func.gii)")
    if dims[0] == 2 and n_arrays == 1:
        return dims[2], dims[1]
    return n_arrays, dims[1]


def _events_last(path: str, problems: list[Problem]) -> float | None:
    """Latest ``onset + duration`` of an events.tsv (None when it cannot be read; the reason is a problem)."""
    from brainalign.io.tsv import numeric_column, read_bids_tsv

    try:
        table = read_bids_tsv(path, what="events file", required=["onset"])
        onset = numeric_column(table, "onset", expected="seconds from the start of the recording")
        duration = (numeric_column(table, "duration", allow_missing=True, expected="seconds")
                    if "duration" in table.columns else np.zeros(len(onset)))
    except InputError as err:
        problems.append(Problem.from_error(err))
        return None
    if not len(onset):
        return None
    return float(np.nanmax(onset + np.nan_to_num(duration)))


def _fmri_header(row: Mapping, profile: Mapping, problems: list[Problem], out: dict) -> float | None:
    """Volumes, TR, voxels of an fMRI run; returns the duration (s) or None."""
    from brainalign.io.integrity import load_nifti

    path = row["path"]
    if path.endswith(".hf5"):
        import h5py

        hf5 = dict(profile.get("hf5") or {})  # optional block (no schema default); its keys are filled
        with h5py.File(path, "r") as f:
            name = hf5["dataset"]
            if name not in f:
                problems.append(Problem(f"{path}: no HDF5 dataset '{name}' (found {sorted(f.keys())})"))
                return None
            n, n_vox = f[name].shape[:2]
        out.update(n_samples=int(n), n_targets=int(n_vox), tr_s=hf5.get("tr"))
        if not hf5.get("tr"):
            problems.append(Problem("config key 'dataset.profile.hf5.tr': required with responses: hf5"))
            return None
        return float((n + int(hf5["first_volume"])) * float(hf5["tr"]))
    from brainalign.io.tr import header_tr, resolve_tr

    if path.endswith(".gii"):
        n_vol, n_vert = _gifti_shape(path)
        if isinstance(row.get("path_r"), str):
            n_vol_r, n_vert_r = _gifti_shape(row["path_r"])
            if n_vol_r != n_vol:
                problems.append(Problem(f"{row['path_r']}: {n_vol_r} volumes but the left hemisphere "
                                        f"({Path(path).name}) has {n_vol}"))
            n_vert += n_vert_r
        tr_in_header, targets = None, n_vert
    else:
        img = load_nifti(path, what="BOLD image")
        if len(img.shape) != 4:
            raise InputError(path, f"a {len(img.shape)}D image of shape {img.shape}", expected="a 4D BOLD run")
        n_vol, tr_in_header, targets = int(img.shape[3]), header_tr(img), int(math.prod(img.shape[:3]))
    out.update(n_samples=n_vol, n_targets=targets)
    sidecar = row.get("sidecar") if isinstance(row.get("sidecar"), str) else None
    tr = resolve_tr(Path(path), tr_in_header, None, sidecar)
    out["tr_s"] = tr
    confounds = row.get("confounds")
    if isinstance(confounds, str):
        n_rows = _count_rows(confounds)
        if n_rows != n_vol:
            problems.append(Problem(str(InputError(confounds, f"{n_rows} rows of confounds but {Path(path).name} has "
                                                              f"{n_vol} volumes", field="rows",
                                                   expected=f"one row per volume ({n_vol})"))))
    return n_vol * tr


def _meeg_header(row: Mapping, root: str, problems: list[Problem], out: dict,
                 electrodes_space: str | None = None) -> float | None:
    """Samples, rate, channels, bad channels of an M/EEG run; returns the duration (s) or None.
    iEEG: the electrodes.tsv of ``electrodes_space`` must be choosable (as the job will choose it)."""
    from brainalign.io.bids import choose_electrodes, meeg_bids_path, meeg_sidecars
    from brainalign.io.integrity import check_recording_length, read_json, read_meeg_header
    from brainalign.io.tsv import read_bids_tsv

    path = row["path"]
    bids_path = meeg_bids_path(path, root, row["modality"])
    # None: a caller without the ieeg section; the schema's default, not a second literal
    space = ((defaults("preprocess.ieeg.electrodes_space") if electrodes_space is None else electrodes_space)
             if row["modality"] == "ieeg" else None)
    if space is not None:
        try:
            choose_electrodes(bids_path, space)
        except InputError as err:
            problems.append(Problem.from_error(err))
    sidecars = meeg_sidecars(bids_path, space)
    meta = None
    for key in ("sidecar", "coordsystem", "events_json"):
        if sidecars[key]:
            try:
                value = read_json(sidecars[key], what=f"{key.replace('_json', '')} JSON")
                meta = value if key == "sidecar" else meta
            except InputError as err:
                problems.append(Problem.from_error(err))
    raw = read_meeg_header(path)
    n_times, sfreq = int(raw.n_times), float(raw.info["sfreq"])
    out.update(n_samples=n_times, sfreq_hz=sfreq, n_targets=len(raw.ch_names))
    for note in check_recording_length(path, n_times, sfreq, meta, sidecars["sidecar"]):
        problems.append(Problem(note, blocking=False))
    if sidecars["channels"]:
        try:
            table = read_bids_tsv(sidecars["channels"], what="channels.tsv", required=["name"])
        except InputError as err:
            problems.append(Problem.from_error(err))
        else:
            names = [str(n) for n in table["name"]]
            if names != list(raw.ch_names):
                only_tsv = [n for n in names if n not in raw.ch_names]
                only_raw = [n for n in raw.ch_names if n not in names]
                what = (f"{len(names)} channels listed, the recording has {len(raw.ch_names)}"
                        + (f"; not in the recording: {only_tsv[:5]}" if only_tsv else "")
                        + (f"; not listed: {only_raw[:5]}" if only_raw else "")
                        + ("; same names in another order" if not only_tsv and not only_raw else ""))
                problems.append(Problem(str(InputError(sidecars["channels"], what, field="column 'name'",
                                                       expected=f"the channels of {Path(path).name}, in its order"))))
            if "status" in table.columns:
                bads = [n for n, s in zip(names, table["status"]) if str(s).strip().lower() == "bad"]
                out.update(n_bad_channels=len(bads), bad_channels=";".join(bads))
    if sidecars["electrodes"]:
        try:
            read_bids_tsv(sidecars["electrodes"], what="electrodes.tsv", required=["name", "x", "y", "z"])
        except InputError as err:
            problems.append(Problem.from_error(err))
    return n_times / sfreq


def inspect_run(
    row: Mapping,
    *,
    root: str | os.PathLike,
    profile: Mapping | None = None,
    words: pd.DataFrame | None = None,
    words_source: str | None = None,
    word_offset: float = 0.0,
    on_beyond_end: str = "error",
    electrodes_space: str | None = None,
) -> dict:
    """Check one run from its headers and metadata; problems are collected, never raised.

    Parameters
    ----------
    row
        A row of :func:`brainalign.io.bids.find_runs` (``subject, story, modality, path, ...,
        files``).
    root
        BIDS root (mne-bids finds the M/EEG sidecars from it).
    profile
        ``dataset.profile`` (``hf5`` settings).
    words, words_source
        The word table the encoders will align with this recording (onsets in seconds from the
        story start) and the file it came from; None: not checked.
    word_offset
        Seconds from the recording's start to the story's (a story cut out of a shared run).
    on_beyond_end
        ``dataset.timings.on_beyond_end``: words (or events) after the recording's end are a blocking
        problem with ``error``, a note otherwise.
    electrodes_space
        iEEG: ``preprocess.ieeg.electrodes_space`` (None: the schema's default); a table the preprocessing
        could not choose (none, none in that space, several) is a blocking problem.

    Returns
    -------
    dict
        One row of :data:`COLUMNS`, plus ``_problems`` (the :class:`Problem` list).
    """
    problems: list[Problem] = []
    out: dict = {c: None for c in COLUMNS}
    events = row.get("events") if isinstance(row.get("events"), str) else None
    listed = list(dict.fromkeys([*(row.get("files") or ()), *([events] if events else [])]))
    out.update(subject=row["subject"], story=row["story"], modality=row["modality"],
               files=";".join(listed), n_bad_channels=0, bad_channels="")
    duration = None
    for path in row.get("files") or ():
        if not Path(path).exists():
            problems.append(Problem(f"{path}: file not found"))
    try:
        if row["modality"] == "fmri":
            duration = _fmri_header(row, complete(profile, "dataset.profile"), problems, out)
        else:
            duration = _meeg_header(row, str(root), problems, out, electrodes_space)
    except (InputError, ValueError, FileNotFoundError, OSError) as err:
        problems.append(Problem.from_error(err))
    out["duration_s"] = duration
    late = on_beyond_end == "error"
    if events and Path(events).exists():
        last = _events_last(events, problems)
        out["last_event_s"] = last
        if last is not None and duration is not None:
            sfreq = out["sfreq_hz"] or (1.0 / out["tr_s"] if out["tr_s"] else 1.0)
            if last > duration + 2.0 / sfreq + 1e-3:
                problems.append(Problem(str(InputError(
                    events, f"events run until {last:.3f} s but {Path(row['path']).name} lasts {duration:.3f} s",
                    field="onset + duration", expected=f"events within the recording (<= {duration:.3f} s)",
                    hint="a truncated recording, or events on another clock")), blocking=late))
    if words is not None:
        onsets = words["onset"].to_numpy(float) + float(word_offset)
        out["n_words"] = int(len(onsets))
        if duration is not None:
            outside = (onsets < 0) | (onsets >= duration)
            out.update(words_inside=int((~outside).sum()), words_outside=int(outside.sum()))
            if outside.any():
                i = int(np.flatnonzero(outside)[0])
                first = f"{words['word'].iloc[i]!r} at {onsets[i]:.3f} s"
                out["first_word_outside"] = first
                # the message names no run (the table row and the error's run list do), so that one timing
                # file outside every recording of its story is listed once
                problems.append(Problem(str(InputError(
                    words_source or "word timings", f"{int(outside.sum())} of {len(onsets)} word onsets lie outside "
                    f"the recording (0 to {duration:.3f} s); first: word {i} {first}", field="onset",
                    expected="onsets within the recording",
                    hint="dataset.timings.on_beyond_end: drop (or warn) accepts them")), blocking=late))
    out["_problems"] = problems
    blocking = [p for p in problems if p.blocking]
    out["status"] = "error" if blocking else ("note" if problems else "ok")
    out["n_problems"] = len(problems)
    out["problems"] = " | ".join(("" if p.blocking else "note: ") + p.message for p in problems)
    return out


# --------------------------------------------------------------------------- word timings
def timing_source(story: str, subject: str, *, kind: str, root: str | os.PathLike, timings: Mapping,
                  story_run: Mapping | None = None) -> tuple[str, dict]:
    """The timing file and :func:`brainalign.io.timings.read_timings` options of a story (or, with
    ``dataset.timings.per_subject``, of one subject), as ``workflow/scripts/words.py`` reads them."""
    if kind == "demo":
        return (f"{root}/sub-{subject}/func/sub-{subject}_task-{story}_events.tsv",
                {"fmt": "bids_events"})
    options = require(timings, "dataset.timings")
    options.pop("per_subject")
    path = str(options.pop("path", "")).format(root=root, story=story, subject=subject)
    entry = story_run or {}
    if entry.get("timings_path"):
        # A dataset.story_runs entry comes with timings_offset/timings_window filled; a
        # dataset.conditions.units entry has neither (an alignment of the unit's own audio: no shift, no cut).
        path = entry["timings_path"].format(root=root, story=story, subject=subject)
        options.update(shift=float(entry.get("timings_offset", 0.0)), window=entry.get("timings_window", [0.0, None]),
                       window_field=f"dataset.story_runs.{story}.timings_window")
    options["fmt"] = options.pop("format")
    # beyond-the-end is judged here against each recording, not against a configured duration
    options.update(on_beyond_end="warn", duration=None)
    return path, options


def story_words(story: str, subject: str, *, kind: str, root: str | os.PathLike, timings: Mapping,
                story_run: Mapping | None = None) -> tuple[pd.DataFrame, str]:
    """The word table (:func:`brainalign.io.timings.read_timings`) and its file."""
    from brainalign.io.timings import read_timings

    path, options = timing_source(story, subject, kind=kind, root=root, timings=timings, story_run=story_run)
    if not path:
        raise InputError("config key 'dataset.timings.path'", "not set", expected="a path pattern with {story}")
    fmt = options.pop("fmt")
    return read_timings(path, fmt=fmt, story=story, **options), path


def word_offset(row: Mapping, story_run: Mapping | None, dataset: Mapping | None = None) -> float:
    """Seconds from the recording's start to the clock of the story's word table, as preprocessing
    sets it (:func:`brainalign.preprocess.fmri.preprocess_run`).

    A BIDS fMRI run whose ``dataset.stimulus_onset`` is read from its events counts from the story's
    audio onset in the run (:func:`brainalign.io.bids.stimulus_onset`); a story cut out of a shared run
    (``dataset.story_runs``) from its onset in the run (:func:`brainalign.io.bids.story_segment`), or,
    with a shared alignment, from the audio onset moved by ``timings_offset``; any other run from the
    recording's start.
    """
    from brainalign.io.bids import stimulus_onset, stimulus_spec, story_segment

    story, dataset = str(row["story"]), dict(dataset or {})
    onset = None
    if dataset and row.get("modality", "fmri") == "fmri" and not str(row.get("path", "")).endswith(".hf5"):
        spec = stimulus_spec(dataset, story)
        if spec is not None:
            info = stimulus_onset(row.get("events"), spec, subject=str(row["subject"]), story=story,
                                  task=str(row.get("task") or (story_run or {}).get("task") or story),
                                  condition=row.get("condition"))
            onset = None if info is None else float(info["onset"])
    if not story_run:
        return 0.0 if onset is None else onset
    seg_onset = float(story_segment(story, story_run, row.get("events"))[0])
    if onset is not None and story_run.get("timings_path"):
        return onset - float(require({story: story_run}, "dataset.story_runs")[story]["timings_offset"])
    return seg_onset


# ----------------------------------------------------------------------------- the dataset
def check_dataset(
    runs: Mapping[str, pd.DataFrame],
    *,
    root: str | os.PathLike,
    kind: str = "bids",
    timings: Mapping | None = None,
    story_runs: Mapping[str, Mapping] | None = None,
    profile: Mapping | None = None,
    first_subject: Mapping[str, str] | None = None,
    dataset: Mapping | None = None,
    electrodes_space: str | None = None,
) -> pd.DataFrame:
    """Inspect every run of every modality; every problem is collected.

    Parameters
    ----------
    runs
        Modality -> the selected runs (:func:`brainalign.io.bids.select_runs`).
    root, kind, timings, story_runs, profile
        ``dataset.bids_root`` (the generated tree for the demo), ``dataset.kind``,
        ``dataset.timings``, ``dataset.story_runs``, ``dataset.profile``.
    first_subject
        Story -> the subject whose timing file holds the story's words (rule ``words`` reads the
        first subject that has the story); default the first subject with a run of it.
    dataset
        The whole ``dataset`` config block (``stimulus_onset``, ``conditions.units``), for the clock
        of each run's words (:func:`word_offset`) and the timing file of a condition unit.
    electrodes_space
        ``preprocess.ieeg.electrodes_space`` (:func:`inspect_run`).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per subject x story x modality, with the :class:`Problem` lists in
        ``table.attrs["problems"]`` (``[(subject, story, modality, Problem), ...]``).
    """
    timings = complete(timings, "dataset.timings")
    story_runs = complete(story_runs, "dataset.story_runs")
    units = dict(require(dataset, "dataset")["conditions"]["units"]) if dataset else {}  # no block: no units
    per_subject = kind != "demo" and bool(timings["per_subject"])
    on_beyond_end = str(timings["on_beyond_end"])
    first = dict(first_subject or {})
    for table in runs.values():
        for row in table.itertuples():
            first.setdefault(str(row.story), str(row.subject))
    cache: dict[tuple[str, str], tuple[pd.DataFrame | None, str | None, Problem | None]] = {}

    def words_of(story: str, subject: str):
        key = (story, subject if per_subject else first[story])
        if key not in cache:
            try:
                cache[key] = (*story_words(story, key[1], kind=kind, root=root, timings=timings,
                                           story_run=story_runs.get(story) or units.get(story)), None)
            except (InputError, ValueError, FileNotFoundError, OSError) as err:
                cache[key] = (None, None, Problem.from_error(err))
        return cache[key]

    rows, problems = [], []
    for modality, table in runs.items():
        for row in table.to_dict("records"):
            story, subject = str(row["story"]), str(row["subject"])
            words, source, word_problem = words_of(story, subject)
            offset, extra = 0.0, []
            try:
                offset = word_offset(row, story_runs.get(story), dataset)
            except (InputError, ValueError, FileNotFoundError) as err:
                extra.append(Problem.from_error(err))
            out = inspect_run(row, root=root, profile=profile, words=words, words_source=source,
                              word_offset=offset, on_beyond_end=on_beyond_end, electrodes_space=electrodes_space)
            found = out.pop("_problems") + extra + ([word_problem] if word_problem else [])
            if extra or word_problem:
                out["n_problems"] = len(found)
                out["problems"] = " | ".join(("" if p.blocking else "note: ") + p.message for p in found)
                out["status"] = "error" if any(p.blocking for p in found) else out["status"]
            rows.append(out)
            problems += [(subject, story, modality, p) for p in found]
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs["problems"] = problems
    return out


def raise_blocking(table: pd.DataFrame, source: str | os.PathLike, *, shown: int = 200) -> None:
    """Stop with one :class:`InputError` listing every blocking problem of ``table`` (from
    :func:`check_dataset`); return quietly when there is none.

    The same problem in many runs (a timing file shared by every subject) is listed once, with the
    runs it affects.
    """
    grouped: dict[str, list[str]] = {}
    for subject, story, modality, problem in table.attrs.get("problems", []):
        if problem.blocking:
            grouped.setdefault(problem.message, []).append(f"sub-{subject} {story} {modality}")
    if not grouped:
        return
    runs = {r for affected in grouped.values() for r in affected}
    lines = []
    for message, affected in list(grouped.items())[:shown]:
        where = ", ".join(affected[:3]) + (f" and {len(affected) - 3} more" if len(affected) > 3 else "")
        lines.append(f"  [{where}] {message}")
    if len(grouped) > shown:
        lines.append(f"  ... and {len(grouped) - shown} more")
    raise InputError(source, f"{len(grouped)} blocking problem(s) in {len(runs)} of {len(table)} run(s); "
                             "nothing was computed:\n" + "\n".join(lines),
                     hint="fix the files named above (every run's row is in the rule's log)")


def select_dataset_runs(root: str | os.PathLike, specs: Mapping[str, Mapping], subjects: Sequence[str],
                        stories: Sequence[str], *, dataset: Mapping | None = None) -> dict[str, pd.DataFrame]:
    """The runs the workflow plans, per modality: the same plan as ``workflow/rules/common.smk``
    (:func:`~brainalign.io.bids.plan_runs` with each modality's spec and the ``dataset`` block)."""
    from brainalign.io.bids import plan_runs

    dataset = complete(dataset, "dataset")  # None: the schema's defaults (a plain BIDS dataset)
    return {mod: plan_runs(root, dataset, spec=spec, subjects=subjects, stories=stories)
            for mod, spec in specs.items()}
