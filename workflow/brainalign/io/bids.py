"""Finding runs in a BIDS tree (raw + fMRIPrep-style derivatives) by globbing BIDS file names.

pybids indexes every file of a dataset before answering (minutes on Narratives' ~300 subjects);
the workflow only needs "which (subject, story) runs exist and where are their files", which a few
globs over BIDS names answer in milliseconds.  Stories are BIDS ``task`` labels.

Functions
---------
find_runs(root, spec)           one row per run found (subject, session, story, run, paths ...)
select_runs(runs, ...)          the (subject, story) grid the config asks for; missing -> error | drop;
                                repeated runs -> error | first | last | run-<label>
split_story_runs(runs, story_runs)  stories that share a run (dataset.story_runs) -> one row per story
read_conditions(path)           per-subject, per-task conditions of participants.tsv (Narratives' lists)
split_condition_units(...)      stories heard in several versions -> one unit per condition (dataset.conditions)
check_mixed_conditions(...)     a story whose selected subjects heard different versions -> error
plan_runs(root, dataset, ...)   all of the above: the runs one modality's jobs read (common.smk)
story_segment(entry, events)    a shared run's story: onset (s) and duration from the config or events.tsv
stimulus_onset(events, spec, ...)  where the story's audio starts in one run (dataset.stimulus_onset)
stimulus_onsets(runs, spec)     the same for every planned run (one table, for the input check)
locate_run(root, subject, story, modality, ...)   the files of one job (used by the rule scripts)
recording_duration(path)        length of a recording in seconds (to check word events against)
run_files(row, root)            every file a run's preprocessing job reads (column ``files`` of find_runs)
meeg_sidecars(bids_path)        the BIDS files mne_bids.read_raw_bids opens besides the recording
choose_electrodes(bids_path, space)  the electrodes.tsv/coordsystem.json of one space (iEEG: MNI and native)
recording_files(path)           a recording and its companions (.eeg/.vmrk, .fdt, FIF split parts, .ds folder)
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from brainalign.config_sections import complete, defaults, require
from brainalign.errors import ConfigError, InputError, MissingInputError
from brainalign.io.tsv import numeric_column, read_bids_tsv

log = logging.getLogger(__name__)

MEEG_EXTENSIONS = (".fif", ".con", ".sqd", ".ds", ".pdf", ".vhdr", ".edf", ".bdf", ".set", ".mefd", ".nwb",
                   ".EDF", ".BDF")
RUN_COLUMNS = ["subject", "session", "story", "run", "modality", "path", "path_r", "events", "confounds",
               "sidecar", "channels", "electrodes", "task", "files"]
_ENTITY = re.compile(r"(?:^|_)([a-zA-Z]+)-([a-zA-Z0-9]+)")


def parse_entities(name: str) -> dict[str, str]:
    """BIDS entities of a file name: ``sub-01_ses-2_task-x_bold.nii.gz`` -> {sub: 01, ses: 2, task: x}."""
    return {k: v for k, v in _ENTITY.findall(Path(name).name)}


def _prefix(ent: Mapping[str, str], keys=("sub", "ses", "task", "acq", "run")) -> str:
    return "_".join(f"{k}-{ent[k]}" for k in keys if k in ent)


def _first(paths: Iterable[str]) -> str | None:
    paths = sorted(paths)
    return paths[0] if paths else None


def _conflicts(name: str, ent: Mapping[str, str], keys=("sub", "ses", "task", "acq", "run")) -> bool:
    """Whether a file's entities contradict the run's (another task's or run's file)."""
    other = parse_entities(name)
    return any(k in other and k in ent and other[k] != ent[k] for k in keys)


def _names(directory: Path, listing: dict[str, list[str]] | None) -> list[str]:
    """The names in ``directory`` that a ``*`` pattern can match (not hidden; none if it cannot be read),
    listed once per ``listing`` (one run discovery: several sidecars of every run are looked up there)."""
    key = str(directory)
    if listing is not None and key in listing:
        return listing[key]
    try:
        names = [n for n in os.listdir(directory) if not n.startswith(".")]
    except OSError:
        names = []
    if listing is not None:
        listing[key] = names
    return names


def _sidecar_glob(directory: Path, ent: Mapping[str, str], suffix: str, keys=("sub", "ses", "task", "acq", "run"),
                  listing: dict[str, list[str]] | None = None) -> str | None:
    """The file ``<entities>*_<suffix>`` beside a run (exact entities first, then without run), never
    one whose entities contradict the run's (``sub-01*_events.tsv`` must not pick another task's events).
    ``listing``: directory listings shared by the lookups of one discovery (:func:`_names`)."""
    names = _names(directory, listing)
    for ks in (keys, tuple(k for k in keys if k != "run"), tuple(k for k in keys if k not in ("run", "task", "acq"))):
        pattern = f"{_prefix(ent, ks)}*_{suffix}"
        hit = _first(str(directory / n) for n in names if fnmatch.fnmatchcase(n, pattern) and not _conflicts(n, ent))
        if hit:
            return hit
    return None


def _spec_list(spec: Mapping, key: str) -> list[str] | None:
    value = spec.get(key)
    if value in (None, "all", []):
        return None
    return [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def find_runs(root: str | os.PathLike, spec: Mapping | None = None) -> pd.DataFrame:
    """Every run of one modality in a BIDS tree, with the files each job needs.

    Parameters
    ----------
    root
        BIDS root (raw data).
    spec
        ``modality`` (``fmri``, ``meg``, ``eeg``, ``ieeg``; default ``fmri``); ``subjects``,
        ``stories``, ``sessions`` (lists, default all); fMRI only: ``derivatives_root`` (default
        ``<root>/derivatives/fmriprep``), ``space`` (e.g. ``MNI152NLin2009cAsym``, or a surface
        space such as ``fsaverage6``: then ``path``/``path_r`` are the left/right GIFTI files),
        ``use_derivatives`` (left out: the schema's ``dataset.profile`` default, true: preprocessed BOLD when found, else raw BOLD),
        ``responses`` (``bold``, the schema's default, or ``hf5``: LeBel et al. 2023's preprocessed responses
        ``<hf5_root>/<subject>/<story>.hf5``, ``hf5_root`` default ``<root>/derivative/preprocessed_data``);
        iEEG only: ``electrodes_space`` (``preprocess.ieeg.electrodes_space``, default ``auto``: which
        electrodes.tsv column ``electrodes`` and ``files`` hold, :func:`choose_electrodes`).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, session, story, run, modality, path, path_r, events, confounds, sidecar,
        channels, electrodes, task, files`` (absent files: None; ``task`` is the BIDS task, equal to
        ``story`` until :func:`split_story_runs`; ``files`` the tuple of every file the run's
        preprocessing reads, :func:`run_files`), sorted by subject, story, session, run.
    """
    spec = dict(spec or {})
    root = Path(root)
    modality = spec.get("modality", "fmri")
    if modality not in ("fmri", "meg", "eeg", "ieeg"):
        raise ValueError(f"spec['modality']={modality!r}: expected fmri, meg, eeg or ieeg")
    subjects, stories, sessions = (_spec_list(spec, k) for k in ("subjects", "stories", "sessions"))
    # a query's left-out profile keys take the schema's dataset.profile defaults (no second copy here)
    if modality == "fmri" and spec.get("responses", defaults("dataset.profile.responses")) == "hf5":
        rows = _hf5_rows(root, spec)
    elif modality == "fmri":
        rows = _fmri_rows(root, spec)
    else:
        rows = _meeg_rows(root, modality)
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    df["task"] = df["story"]
    if subjects is not None:
        df = df[df["subject"].isin(subjects)]
    if stories is not None:
        df = df[df["story"].isin(stories)]
    if sessions is not None:
        df = df[df["session"].isin(sessions)]
    df = df.sort_values(["subject", "story", "session", "run"], na_position="first").reset_index(drop=True)
    # every file the run's preprocessing reads, so that the workflow can make each one a rule input
    electrodes_space = _electrodes_space(spec.get("electrodes_space")) if modality == "ieeg" else None
    df["files"] = [tuple(run_files(row, root, electrodes_space)) for row in df.to_dict("records")]
    if modality == "ieeg":  # the electrodes.tsv the reader uses: the one of electrodes_space
        df["electrodes"] = [meeg_sidecars(meeg_bids_path(p, root, modality), electrodes_space)["electrodes"]
                            for p in df["path"]]
    return df


def _hf5_rows(root: Path, spec: Mapping) -> list[dict]:
    """Runs of LeBel et al. 2023's preprocessed responses: ``<hf5_root>/<subject>/<story>.hf5``."""
    # no BIDS entities: the folder is the subject, the file name the story
    hf5_root = Path(spec.get("hf5_root") or root / "derivative" / "preprocessed_data")
    rows = []
    for p in glob.glob(str(hf5_root / "*" / "*.hf5")):
        sub = Path(p).parent.name
        sub = sub[4:] if sub.startswith("sub-") else sub
        rows.append(dict(subject=sub, session=None, story=Path(p).stem, run=None, modality="fmri", path=p,
                         path_r=None, events=None, confounds=None, sidecar=None, channels=None,
                         electrodes=None))
    return rows


def _fmri_bolds(root: Path, deriv: Path, space: str | None, surface: bool, use_deriv: bool) -> dict[str, dict]:
    """The BOLD files of every fMRI run, keyed by its entities: ``ent``, ``raw`` (raw BOLD, when found)
    and ``deriv`` (the fMRIPrep BOLD in ``space``, left hemisphere for a surface; the first by name)."""
    runs: dict[str, dict] = {}
    for p in glob.glob(str(root / "sub-*" / "**" / "func" / "*_bold.nii*"), recursive=True):
        ent = parse_entities(p)
        runs[_prefix(ent)] = {"ent": ent, "raw": p}
    if use_deriv:
        if surface:
            pattern = f"*_hemi-L_space-{space}*_bold.func.gii"
        else:
            pattern = f"*_space-{space}*_desc-preproc_bold.nii*" if space else "*_desc-preproc_bold.nii*"
        for p in glob.glob(str(deriv / "sub-*" / "**" / "func" / pattern), recursive=True):
            ent = parse_entities(p)
            entry = runs.setdefault(_prefix(ent), {"ent": ent})
            if "deriv" not in entry or Path(p).name < Path(entry["deriv"]).name:
                entry["deriv"] = p
    return runs


def _fmri_rows(root: Path, spec: Mapping) -> list[dict]:
    """One row per fMRI run: its BOLD (preprocessed when found, else raw) and the files beside it."""
    deriv = Path(spec.get("derivatives_root") or root / "derivatives" / "fmriprep")
    space = spec.get("space")
    surface = bool(space) and str(space).startswith("fs")
    use_deriv = spec.get("use_derivatives", defaults("dataset.profile.use_derivatives")) and deriv.exists()
    rows, listing = [], {}
    for entry in _fmri_bolds(root, deriv, space, surface, use_deriv).values():
        ent = entry["ent"]
        if "deriv" in entry:
            path = entry["deriv"]
        elif use_deriv and space:
            continue  # the requested space is missing for this run
        else:
            path = entry.get("raw")
        path_r = path.replace("hemi-L", "hemi-R") if surface else None
        d = Path(path).parent
        raw_dir = Path(entry["raw"]).parent if "raw" in entry else root / f"sub-{ent['sub']}" / (
            f"ses-{ent['ses']}" if "ses" in ent else "") / "func"
        # confounds beside the BOLD used, else in the fMRIPrep tree, else beside the raw BOLD
        deriv_dir = deriv / f"sub-{ent['sub']}" / (f"ses-{ent['ses']}" if "ses" in ent else "") / "func"
        confounds = next((hit for folder in (d, deriv_dir, raw_dir)
                          for suffix in ("desc-confounds_timeseries.tsv", "desc-confounds_regressors.tsv")
                          if (hit := _sidecar_glob(folder, ent, suffix, listing=listing))), None)
        sidecar = re.sub(r"(\.nii(\.gz)?|\.func\.gii)$", ".json", path)
        if not Path(sidecar).exists():
            sidecar = (_sidecar_glob(raw_dir, ent, "bold.json", listing=listing)
                       or _first(glob.glob(str(root / f"task-{ent.get('task')}_bold.json"))))
        rows.append(dict(subject=ent.get("sub"), session=ent.get("ses"), story=ent.get("task"), run=ent.get("run"),
                         modality="fmri", path=path, path_r=path_r,
                         events=_sidecar_glob(raw_dir, ent, "events.tsv", listing=listing), confounds=confounds,
                         sidecar=sidecar, channels=None, electrodes=None))
    return rows


def _meeg_rows(root: Path, modality: str) -> list[dict]:
    """One row per MEG/EEG/iEEG recording (the first part of a split FIF) and its sidecars."""
    rows = []
    for p in glob.glob(str(root / "sub-*" / "**" / modality / f"*_{modality}.*"), recursive=True):
        name = Path(p).name
        ext = name[name.index(f"_{modality}.") + len(modality) + 1:]
        if ext not in MEEG_EXTENSIONS:
            continue
        ent = parse_entities(p)
        if "split" in ent and ent["split"] not in ("01", "1"):
            continue  # split FIF: mne reads the later parts from the first
        d = Path(p).parent
        rows.append(dict(subject=ent.get("sub"), session=ent.get("ses"), story=ent.get("task"),
                         run=ent.get("run"), modality=modality, path=p, path_r=None,
                         events=_sidecar_glob(d, ent, "events.tsv"), confounds=None,
                         sidecar=_sidecar_glob(d, ent, f"{modality}.json"),
                         channels=_sidecar_glob(d, ent, "channels.tsv"),
                         electrodes=None))
    return rows


#: Values of ``dataset.repeated_runs`` (besides ``run-<label>``).
REPEATED_CHOICES = ("error", "first", "last")


def _run_label(row: Mapping) -> str:
    """``ses-X_run-Y`` of a run row (``single`` when it has neither entity)."""
    parts = [f"{k}-{row[c]}" for k, c in (("ses", "session"), ("run", "run"))
             if isinstance(row.get(c), str) and row.get(c)]
    return "_".join(parts) or "single"


def choose_repeat(hits: pd.DataFrame, subject: str, story: str, repeated: str = "error") -> tuple[pd.Series, list[str]]:
    """The run to use when a subject has several runs of one story (sessions or ``run-`` entities).

    Parameters
    ----------
    hits
        The subject's runs of the story (rows of :func:`find_runs`), two or more.
    subject, story
        Named in messages.
    repeated
        ``dataset.repeated_runs``: ``"error"`` stops, ``"first"`` / ``"last"`` take the first / last
        by (session, run), ``"run-<label>"`` takes the run with that BIDS ``run`` label (a subject
        without it is an error).

    Returns
    -------
    (pandas.Series, list of str)
        The chosen row and the labels (``ses-X_run-Y``) of the repetitions left out.

    Raises
    ------
    ConfigError
        ``repeated: error``, or no run with the requested label (naming the files found).
    """
    hits = hits.sort_values(["session", "run"], na_position="first")
    labels = [_run_label(r) for _, r in hits.iterrows()]
    files = ", ".join(Path(p).name for p in hits["path"])
    if repeated == "first":
        i = 0
    elif repeated == "last":
        i = len(hits) - 1
    elif repeated.startswith("run-"):
        matches = [j for j, r in enumerate(hits["run"].tolist()) if str(r) == repeated[4:]]
        if not matches:
            raise ConfigError("dataset.repeated_runs", f"'{repeated}' but sub-{subject} task-{story} has no such run "
                              f"(found {labels}: {files})", expected="a run label every repeated subject/story has",
                              hint="use first or last, or leave the subject out (dataset.subjects)")
        i = matches[0]
    elif repeated == "error":
        raise ConfigError("dataset.repeated_runs", f"sub-{subject} task-{story} has {len(hits)} runs ({labels}: "
                          f"{files})", expected="one run per subject and story",
                          hint="choose one with dataset.repeated_runs: first | last | run-<label> (a repeated "
                               "hearing changes the responses: the first is the usual choice), or restrict "
                               "sessions with dataset.profile.sessions")
    else:
        raise ValueError(f"repeated={repeated!r}: expected one of {REPEATED_CHOICES} or 'run-<label>'")
    return hits.iloc[i], [lab for j, lab in enumerate(labels) if j != i]


def select_runs(
    runs: pd.DataFrame,
    subjects: Iterable[str],
    stories: Iterable[str],
    *,
    missing: str = "error",
    root: str | os.PathLike = "",
    repeated: str = "error",
    excluded: Mapping[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """One run per (subject, story) of the requested grid.

    Parameters
    ----------
    runs
        Output of :func:`find_runs` (optionally through :func:`split_story_runs` /
        :func:`split_condition_units`).
    subjects, stories
        The grid the config asks for.
    missing
        A subject without a story: ``"error"`` raises naming every missing (subject, story);
        ``"drop"`` logs them and leaves them out.
    root
        Named in messages.
    repeated
        A subject with several runs of a story (a repeated hearing, e.g. Narratives' pieman
        ``run-1``/``run-2``, or a second session): ``"error"`` (default) stops naming them,
        ``"first"`` / ``"last"`` / ``"run-<label>"`` choose one (:func:`choose_repeat`); the choice is
        logged for every such subject and the others are listed in the ``repeats`` column.
    excluded
        ``{(subject, story): reason}`` of pairs that are not part of the grid (a subject who heard
        another version of the story, :func:`split_condition_units`): neither missing nor selected,
        counted in the log.

    Returns
    -------
    pandas.DataFrame
        The chosen run of each (subject, story) present, in grid order, with ``repeats`` (the
        repetitions left out, ``;``-separated ``ses-X_run-Y`` labels, empty if none).

    Raises
    ------
    FileNotFoundError
        ``missing="error"`` and a (subject, story) without a run.
    ConfigError
        Repeated runs with ``repeated="error"`` (see :func:`choose_repeat`).
    """
    if missing not in ("error", "drop"):
        raise ValueError(f"missing={missing!r}: expected 'error' or 'drop'")
    excluded = dict(excluded or {})
    # each (subject, story)'s rows, found in one pass: a boolean mask per pair costs subjects x stories
    # passes over the table (Narratives: 345 x 22 over ~900 rows, seconds of every plan)
    positions: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(runs["subject"], runs["story"])):
        positions.setdefault(key, []).append(i)
    chosen, absent, skipped, repeats = [], [], [], []
    for sub in subjects:
        for story in stories:
            found = positions.get((str(sub), str(story)))
            if not found:
                if (str(sub), str(story)) in excluded:
                    skipped.append((str(sub), str(story)))
                else:
                    absent.append((str(sub), str(story)))
                continue
            row, others = (runs.iloc[found[0]], []) if len(found) == 1 else choose_repeat(
                runs.iloc[found], str(sub), str(story), repeated)
            if others:
                repeats.append(f"sub-{sub} {story}: {_run_label(row)} (not {', '.join(others)})")
            row = row.copy()
            row["repeats"] = ";".join(others)
            chosen.append(row)
    if repeats:
        log.warning("%s: %d subject/story pair(s) with repeated runs, dataset.repeated_runs: %s -> %s", root,
                    len(repeats), repeated, "; ".join(repeats))
    if skipped:
        by_story: dict[str, list[str]] = {}
        for s, t in skipped:
            by_story.setdefault(t, []).append(f"sub-{s} ({excluded[(s, t)]})")
        for t, subs in by_story.items():
            log.info("%s: %d subject(s) not in story unit '%s': %s", root, len(subs), t, ", ".join(subs))
    if absent:
        listing = ", ".join(f"sub-{s}/task-{t}" for s, t in absent[:20]) + (" ..." if len(absent) > 20 else "")
        if missing == "error":
            raise MissingInputError(root, f"{len(absent)} subject/story run(s) not found: {listing}",
                                    expected="a run for every subject and story the config lists",
                                    hint="set dataset.missing_run: drop to leave them out")
        log.warning("%s: dropping %d missing subject/story run(s): %s", root, len(absent), listing)
    columns = list(runs.columns) + [c for c in ("repeats",) if c not in runs.columns]
    out = pd.DataFrame(chosen, columns=columns).reset_index(drop=True).astype(object)
    return out.where(out.notna(), None)  # absent entities and files stay None (not NaN)


def split_story_runs(runs: pd.DataFrame, story_runs: Mapping[str, Mapping] | None) -> pd.DataFrame:
    """Stories that share a run become rows of their own.

    Parameters
    ----------
    runs
        Output of :func:`find_runs` (``story`` = BIDS task).
    story_runs
        ``dataset.story_runs``: ``{story: {"task": <BIDS task of the run holding it>, ...}}``.

    Returns
    -------
    pandas.DataFrame
        ``runs`` plus, for each mapped story, a copy of its task's rows with ``story`` set to the
        story (``task`` keeps the BIDS task), so that :func:`select_runs` sees each story as a unit.
    """
    if not story_runs:
        return runs
    parts = [runs]
    for story, entry in story_runs.items():
        hits = runs[runs["task"] == str(entry["task"])].copy()
        hits["story"] = str(story)
        parts.append(hits)
    return pd.concat(parts, ignore_index=True)


def story_tasks(stories: Iterable[str], story_runs: Mapping[str, Mapping] | None) -> list[str]:
    """The BIDS tasks whose runs hold these stories (a story not in ``story_runs`` is its own task)."""
    story_runs = story_runs or {}
    return list(dict.fromkeys(str(story_runs.get(s, {}).get("task", s)) for s in stories))


def _entry_conditions(entry: Mapping) -> list[str]:
    value = entry.get("condition")
    return [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def read_conditions(path: str | os.PathLike, *, column: str = "condition") -> pd.DataFrame:
    """Each subject's condition per task, from a BIDS ``participants.tsv``.

    Narratives lists, per subject, the tasks heard and their conditions as comma-separated values in
    the same order (``task: pieman,prettymouth,milkyway``, ``condition: n/a,affair,vodka``); a
    file without a ``task`` column gives one condition per subject, for every task.

    Parameters
    ----------
    path
        The ``participants.tsv`` (read with :func:`brainalign.io.tsv.read_bids_tsv`).
    column
        The condition column (``dataset.conditions.column``).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject`` (without ``sub-``), ``task`` (None: every task), ``condition`` (None for
        ``n/a``); empty when the file has no such column.

    Raises
    ------
    InputError
        A row whose task and condition lists differ in length, or a subject listed twice for one task
        with different conditions (naming the file, line and columns).
    """
    table = read_bids_tsv(path, what="participants.tsv", required=["participant_id"])
    out = pd.DataFrame(columns=["subject", "task", "condition"])
    if column not in table.columns:
        log.info("%s: no column '%s': no per-subject conditions", path, column)
        return out
    rows, seen = [], {}
    for i, rec in enumerate(table.to_dict("records")):
        pid = str(rec["participant_id"])
        sub = pid[4:] if pid.startswith("sub-") else pid
        cond = rec[column]
        tasks = rec.get("task") if "task" in table.columns else None
        if tasks is None:
            rows.append((sub, None, None if cond in (None, "n/a", "") else str(cond).strip()))
            continue
        tasks = [t.strip() for t in str(tasks).split(",")]
        conds = [c.strip() for c in str(cond).split(",")] if cond is not None else [None] * len(tasks)
        if len(conds) != len(tasks):
            raise InputError(path, f"{pid} lists {len(tasks)} task(s) ({','.join(tasks)}) but {len(conds)} "
                             f"condition(s) ({cond})", field=f"line {i + 2}, columns 'task' and '{column}'",
                             expected="one condition per task, comma-separated in the same order (n/a where none)")
        for t, c in zip(tasks, conds):
            c = None if c in (None, "n/a", "") else c
            if (sub, t) in seen and seen[(sub, t)] != c:
                raise InputError(path, f"{pid} lists task {t} twice with conditions {seen[(sub, t)]} and {c}",
                                 field=f"line {i + 2}, column '{column}'", expected="one condition per subject and task")
            seen[(sub, t)] = c
            rows.append((sub, t, c))
    out = pd.DataFrame(rows, columns=["subject", "task", "condition"], dtype=object).drop_duplicates()
    return out.where(out.notna(), None).reset_index(drop=True)


class _Conditions:
    """Lookup of :func:`read_conditions`: (subject, task) -> condition (None = n/a), or KeyError."""

    def __init__(self, table: pd.DataFrame | None) -> None:
        self.exact: dict[tuple[str, str], str | None] = {}  # Narratives: per subject and task
        self.any: dict[str, str | None] = {}  # no task column: one condition per subject
        for sub, task, cond in ([] if table is None else table.itertuples(index=False)):
            if task is None:
                self.any[sub] = cond
            else:
                self.exact[(sub, task)] = cond

    def __call__(self, subject: str, task: str) -> str | None:
        if (subject, task) in self.exact:
            return self.exact[(subject, task)]
        return self.any[subject]


def split_condition_units(
    runs: pd.DataFrame,
    units: Mapping[str, Mapping] | None,
    conditions: pd.DataFrame | None,
    *,
    source: str | os.PathLike = "participants.tsv",
) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """Stories heard in several versions become one story unit per version (condition).

    Parameters
    ----------
    runs
        Rows of :func:`find_runs` (``task`` = BIDS task).
    units
        ``dataset.conditions.units``: ``{unit: {"task": <BIDS task>, "condition": <condition or list>}}``;
        a unit may have the task's own name (one condition selected) or its own (one unit per
        condition, e.g. ``milkywayoriginal``).
    conditions
        :func:`read_conditions` of the dataset's ``participants.tsv``.
    source
        The participants file, named in messages.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``runs`` with a ``condition`` column plus, per unit, a copy of its task's rows for the
        subjects whose condition is one of the unit's (``story`` = unit); and ``{(subject, unit):
        reason}`` for the subjects with a run of the task in another condition (for
        :func:`select_runs`' ``excluded``).

    Raises
    ------
    InputError
        A subject with a run of a unit's task but no condition for it in ``source``.
    """
    runs = runs.copy()
    if "condition" not in runs.columns:
        runs["condition"] = None
    runs["condition"] = runs["condition"].astype(object)
    if not units:
        return runs, {}
    lookup = _Conditions(conditions)
    parts, excluded = [runs], {}
    for unit, entry in units.items():
        task, wanted = str(entry["task"]), _entry_conditions(entry)
        hits = runs[(runs["task"] == task) & (runs["story"] == task)].copy()
        keep = []
        for i, row in hits.iterrows():
            try:
                cond = lookup(str(row["subject"]), task)
            except KeyError:
                raise InputError(source, f"sub-{row['subject']} has a run of task-{task} ({Path(row['path']).name}) "
                                 "but no condition for it", field=f"participant sub-{row['subject']}",
                                 expected=f"a row listing task {task} and its condition (dataset.conditions.units."
                                          f"{unit} selects condition {'/'.join(wanted)})",
                                 hint="add it, or leave the subject out (dataset.subjects)") from None
            if cond in wanted:
                keep.append(i)
                hits.loc[i, "condition"] = cond
            else:
                excluded[(str(row["subject"]), str(unit))] = f"condition {cond or 'n/a'}"
        unit_rows = hits.loc[keep].copy()
        unit_rows["story"] = str(unit)
        parts.append(unit_rows)
    out = pd.concat(parts, ignore_index=True)
    # a unit named like its task replaces the task's own rows (one condition selected)
    same = [u for u, e in units.items() if str(u) == str(e["task"])]
    if same:
        first = len(runs)
        drop = [i for i in range(first) if out.loc[i, "story"] in same]
        out = out.drop(index=drop).reset_index(drop=True)
    return out, excluded


def check_mixed_conditions(
    chosen: pd.DataFrame,
    conditions: pd.DataFrame | None,
    units: Mapping[str, Mapping] | None = None,
    *,
    source: str | os.PathLike = "participants.tsv",
) -> pd.DataFrame:
    """Stop when the subjects of one story unit heard different versions of it.

    A story listed as is (not a ``dataset.conditions.units`` entry) whose selected subjects have
    different conditions in ``participants.tsv`` (Narratives: milkyway original/vodka/synonyms,
    prettymouth affair/paranoia) would pool responses to different stimuli or contexts in one
    unit: an error naming the story, the conditions and their subject counts.

    Returns
    -------
    pandas.DataFrame
        ``chosen`` with its ``condition`` column filled (the one condition of each story, or the
        subject's for a unit).

    Raises
    ------
    ConfigError
        Key ``dataset.stories``, with the fix (one unit per condition in ``dataset.conditions.units``).
    """
    chosen = chosen.copy()
    chosen["condition"] = [None if pd.isna(c) else c for c in chosen["condition"]] if "condition" in chosen else None
    chosen["condition"] = chosen["condition"].astype(object)
    if conditions is None or conditions.empty or chosen.empty:
        return chosen
    units = units or {}
    lookup = _Conditions(conditions)
    for story, group in chosen.groupby("story", sort=False):
        if story in units:
            continue
        task = str(group["task"].iloc[0])
        found: dict[str | None, list[str]] = {}
        for i, sub in group["subject"].items():
            try:
                cond = lookup(str(sub), task)
            except KeyError:
                cond = None
            chosen.loc[i, "condition"] = cond
            found.setdefault(cond, []).append(str(sub))
        if len(found) > 1:
            counts = ", ".join(f"{c or 'n/a'}: {len(s)} subject(s)" for c, s in sorted(found.items(), key=lambda kv: str(kv[0])))
            example = next(c for c in found if c is not None)
            raise ConfigError("dataset.stories", f"'{story}' (task-{task}) would pool subjects who heard different "
                              f"versions of it ({counts}; conditions from {source})",
                              expected="one condition per story unit",
                              hint=f"define one unit per condition in dataset.conditions.units (e.g. "
                                   f"{story}{example}: {{task: {task}, condition: {example}}}) and list the units "
                                   "in dataset.stories, or one unit naming the conditions to pool on purpose")
    return chosen


def plan_runs(
    bids_root: str | os.PathLike,
    dataset: Mapping,
    *,
    spec: Mapping,
    subjects: Iterable[str],
    stories: Iterable[str],
) -> pd.DataFrame:
    """The runs one modality's jobs read: discovery, shared-run stories, condition units, the grid.

    Parameters
    ----------
    bids_root
        The BIDS root.
    dataset
        The ``dataset`` config block: ``story_runs``, ``conditions`` (``path``, ``column``,
        ``units``), ``missing_run``, ``repeated_runs``.
    spec
        :func:`find_runs` keys (modality, derivatives root, space, sessions ...); ``stories`` is
        replaced by the BIDS tasks holding the requested stories.
    subjects, stories
        The grid.

    Returns
    -------
    pandas.DataFrame
        :func:`select_runs` output with ``task`` (BIDS task), ``condition`` and ``repeats``.

    Raises
    ------
    ConfigError, InputError, FileNotFoundError
        Repeated runs without a choice, mixed conditions, a subject of a unit's task without a
        condition, missing runs with ``missing_run: error``; a story both in ``story_runs`` and in
        ``conditions.units``.
    """
    subjects, stories = [str(s) for s in subjects], [str(s) for s in stories]
    dataset = require(dataset, "dataset")
    story_runs, cond_cfg = dict(dataset["story_runs"]), dict(dataset["conditions"])
    units = {u: e for u, e in dict(cond_cfg["units"]).items() if u in stories}  # the units in use
    both = sorted(set(units) & set(story_runs))
    if both:
        raise ConfigError("dataset.conditions.units", f"{both} also in dataset.story_runs",
                          expected="a story in one of the two")
    spec = dict(spec, stories=story_tasks(stories, {**units, **story_runs}))
    runs = split_story_runs(find_runs(bids_root, spec), story_runs)
    ppath = str(cond_cfg["path"]).format(root=bids_root)
    conditions = None
    if Path(ppath).is_file():
        conditions = read_conditions(ppath, column=str(cond_cfg["column"]))
    elif units:
        raise MissingInputError(ppath, "participants.tsv not found, but dataset.conditions.units selects subjects "
                                "by condition", expected="each subject's condition per task (dataset.conditions.path)")
    runs, excluded = split_condition_units(runs, units, conditions, source=ppath)
    chosen = select_runs(runs, subjects, stories, missing=str(dataset["missing_run"]), root=bids_root,
                         repeated=str(dataset["repeated_runs"]), excluded=excluded)
    return check_mixed_conditions(chosen, conditions, units, source=ppath)


def story_segment(story: str, entry: Mapping, events: str | os.PathLike | None) -> tuple[float, float | None]:
    """Onset (s from the run start) and duration (s, or None) of a story inside a shared run.

    Parameters
    ----------
    story
        Named in messages.
    entry
        The story's ``dataset.story_runs`` entry: ``onset`` (seconds, or ``"events"``), optional
        ``duration`` (seconds), ``events_index`` (with ``onset: events``: which row, counted from 0,
        among the rows of the run's ``events.tsv`` whose ``trial_type`` is ``events_trial_type``,
        default ``story``).
    events
        The run's ``events.tsv`` (needed with ``onset: events``; read as BIDS defines it,
        :func:`brainalign.io.tsv.read_bids_tsv`).

    Raises
    ------
    MissingInputError, InputError
        Missing events file, column or row, naming the file and the story.
    """
    entry = require({story: entry}, "dataset.story_runs")[story]
    onset, duration = entry["onset"], entry.get("duration")  # duration: optional, no default
    if onset != "events":
        return float(onset), None if duration is None else float(duration)
    if events is None or not Path(events).exists():
        raise MissingInputError(f"dataset.story_runs.{story}", f"onset 'events' needs the run's events.tsv, "
                                f"none found ({events})", expected="the run's events.tsv beside its BOLD file")
    kind = str(entry["events_trial_type"])
    table = read_bids_tsv(events, what="events file", required=["onset", "duration", "trial_type"])
    rows = [i for i, t in enumerate(table["trial_type"].tolist()) if t is not None and str(t) == kind]
    index = int(entry["events_index"])
    if not 0 <= index < len(rows):
        raise InputError(events, f"dataset.story_runs.{story}.events_index={index} but the file has "
                         f"{len(rows)} row(s) with trial_type '{kind}'", field="column 'trial_type'",
                         expected=f"at least {index + 1} '{kind}' row(s)")
    i = rows[index]
    onsets = numeric_column(table, "onset", expected="seconds from the start of the run", allow_missing=True)
    durations = numeric_column(table, "duration", expected="seconds", allow_missing=True)
    if not np.isfinite(onsets[i]):
        raise InputError(events, "missing onset", field=f"column 'onset', line {i + 2}",
                         expected=f"the start (s) of story {story}")
    return float(onsets[i]), float(duration) if duration is not None else float(durations[i])


def stimulus_onset(
    events: str | os.PathLike | None,
    spec: Mapping | None,
    *,
    subject: str,
    story: str,
    task: str | None = None,
    condition: str | None = None,
    where: str = "",
) -> dict:
    """Where the story's stimulus starts in one run (s from the run's first volume).

    The word table of a story counts seconds from the start of its stimulus file (Gentle aligns
    the transcript to the audio file), so the run's clock must be moved to that file's start.
    ``events.tsv`` says when each stimulus file played: the onset is that of the **first row (by
    onset) whose ``stim_file`` is the story's audio** (``spec["stim_file"]``).  In Narratives the
    audio of e.g. pieman begins with 13 s of music: its ``music`` row (0.0 s) and its ``story`` row
    (15.0 s) both name ``pieman_audio.wav``, the file starts with the music, and its alignment's
    first word is ~15 s into it, so the audio's start is the music row's onset, not the story
    row's; a music file of its own (another ``stim_file``) is never taken.  Set ``trial_type`` to
    count only rows of one trial type instead (a word table timed from the story row).

    Parameters
    ----------
    events
        The run's ``events.tsv`` (read with :func:`brainalign.io.tsv.read_bids_tsv`).
    spec
        ``dataset.stimulus_onset``: ``source`` (``"events"``, ``"none"``: the story starts with the
        run, or a number of seconds for every run), ``stim_file`` (pattern of the story's audio,
        placeholders ``{story}``, ``{task}``, ``{condition}``, ``{subject}``; None: the run's only
        ``stim_file``), ``trial_type`` (None: any), ``runs`` (``{"<subject>/<story>": seconds}``:
        fixed onsets of single runs, e.g. where the events contradict themselves).
    subject, story, task, condition
        The run (``task`` defaults to ``story``), for the pattern, the override key and messages.
    where
        Named in messages (the run).

    Returns
    -------
    dict
        ``onset`` (s), ``source`` (``events``, ``config``, ``none`` or ``override``), and with
        ``events``: ``events`` (path), ``row`` (0-based data row), ``line`` (1-based line of the
        file), ``stim_file``, ``trial_type`` of the row.

    Raises
    ------
    MissingInputError
        No events file (``source: events``).
    InputError
        No row names the story's audio (listing the ``stim_file`` values found), several audio files
        without a ``stim_file`` pattern, an onset that is missing or negative, or rows of the audio
        file that overlap (one file cannot play two parts at once, so its start is ambiguous).
    """
    spec = require(spec, "dataset.stimulus_onset")
    task = task or story
    key = f"{subject}/{story}"
    configured = _configured_onset(spec, key)
    if configured is not None:
        return configured
    where = where or f"sub-{subject} {story}"
    hint = ("set dataset.stimulus_onset.source: none (the story starts with the run) or a number of seconds, or "
            f"dataset.stimulus_onset.runs['{key}'] for this run")
    trial_type = spec["trial_type"]
    table = _stimulus_events(events, trial_type, where, hint)
    expected, match = _audio_rows(table, events, spec["stim_file"], hint,
                                  story=story, task=task, condition=condition, subject=subject)
    onsets, ordered = _audio_parts_in_order(table, events, match, expected, hint)
    if trial_type:
        ordered = [i for i in ordered if str(table["trial_type"][i]) == str(trial_type)]
        if not ordered:
            raise InputError(events, f"no row with trial_type {trial_type!r} plays {expected!r}",
                             field="column 'trial_type'", expected=f"a {trial_type!r} row of {expected!r} "
                             "(dataset.stimulus_onset.trial_type)", hint=hint)
    i = ordered[0]
    return {"onset": float(onsets[i]), "source": "events", "events": str(events), "row": int(i), "line": int(i + 2),
            "stim_file": expected, "trial_type": str(table["trial_type"][i]) if "trial_type" in table.columns else ""}


def _stimulus_events(events: str | os.PathLike | None, trial_type: str | None, where: str, hint: str) -> pd.DataFrame:
    """The run's events table, with the columns that locate the story's audio (``onset``, ``stim_file``,
    and ``trial_type`` when the config selects one); MissingInputError / InputError otherwise."""
    if events is None or not Path(events).is_file():
        raise MissingInputError(f"{where}", f"no events.tsv ({events}) to read the stimulus onset from "
                                "(dataset.stimulus_onset.source: events)",
                                expected="the run's events.tsv with onset and stim_file columns", hint=hint)
    table = read_bids_tsv(events, what="events file")
    required = ["onset", "stim_file"] + (["trial_type"] if trial_type else [])
    lacking = [c for c in required if c not in table.columns]
    if lacking:
        raise InputError(events, f"events file lacks column(s) {lacking} to find the story's audio onset; it has "
                         f"{list(table.columns)}", field="header", expected=f"columns {required} "
                         "(dataset.stimulus_onset.source: events reads the row whose stim_file is the story's audio)",
                         hint=hint)
    return table


def _configured_onset(spec: Mapping, key: str) -> dict | None:
    """The onset the config fixes for run ``key`` (``<subject>/<story>``): a ``runs`` override, ``source:
    none`` (0 s) or a number of seconds; None when it is to be read from the events (``source: events``)."""
    runs = dict(spec["runs"])
    if key in runs:
        return {"onset": float(runs[key]), "source": "override"}
    source = spec["source"]
    if source == "none":
        return {"onset": 0.0, "source": "none"}
    if not isinstance(source, str):
        return {"onset": float(source), "source": "config"}
    if source != "events":
        raise ConfigError("dataset.stimulus_onset.source", f"{source!r}", expected="'events', 'none' or seconds")
    return None


def _audio_rows(table: pd.DataFrame, events: str | os.PathLike, pattern: str | None, hint: str, *,
                story: str, task: str, condition: str | None, subject: str) -> tuple[str, list[int]]:
    """The story's audio file (``pattern`` filled in, or the events' only ``stim_file``) and the 0-based
    rows of ``table`` that play it; InputError when none does or the audio is ambiguous."""
    files = [None if v is None else str(v) for v in table["stim_file"].tolist()]
    if pattern:
        try:
            expected = str(pattern).format(story=story, task=task, condition=condition or "", subject=subject)
        except KeyError as err:
            raise ConfigError("dataset.stimulus_onset.stim_file", f"{pattern!r} has an unknown placeholder {err}",
                              expected="placeholders {story}, {task}, {condition}, {subject}") from None
        # the pattern may name the file alone while events.tsv gives its path in the stimuli folder
        match = [i for i, f in enumerate(files) if f is not None and (f == expected or Path(f).name == expected)]
    else:
        distinct = sorted({f for f in files if f is not None})
        if len(distinct) != 1:
            raise InputError(events, f"{len(distinct)} stimulus files {distinct} and no dataset.stimulus_onset."
                             "stim_file to tell which is the story's", field="column 'stim_file'",
                             expected="one stim_file, or a stim_file pattern in the config", hint=hint)
        expected = distinct[0]
        match = [i for i, f in enumerate(files) if f == expected]
    found = sorted({f for f in files if f is not None})
    if not match:
        raise InputError(events, f"no row plays the story's audio {expected!r} (stim_file values: {found})",
                         field="column 'stim_file'", expected=f"a row whose stim_file is {expected!r} "
                         "(dataset.stimulus_onset.stim_file)",
                         hint="a subject who heard another version of the story belongs to another unit "
                              "(dataset.conditions.units); or " + hint)
    return expected, match


def _audio_parts_in_order(table: pd.DataFrame, events: str | os.PathLike, match: list[int], expected: str,
                          hint: str) -> tuple[np.ndarray, list[int]]:
    """The onsets column and the rows ``match`` of one audio file sorted by onset, after checking that
    each onset is a time >= 0 and that the parts do not overlap (so the file's start is unambiguous)."""
    onsets = numeric_column(table, "onset", expected="seconds from the start of the run", allow_missing=True)
    durations = (numeric_column(table, "duration", expected="seconds", allow_missing=True)
                 if "duration" in table.columns else np.full(len(table), np.nan))
    for i in match:
        if not np.isfinite(onsets[i]) or onsets[i] < 0:
            raise InputError(events, f"onset {table['onset'][i]!r} of the row playing {expected!r}",
                             field=f"column 'onset', line {i + 2}", expected="seconds >= 0 from the start of the run",
                             hint=hint)
    # The rows of one audio file are parts of it played in sequence: they must not overlap.
    ordered = sorted(match, key=lambda i: onsets[i])
    for a, b in zip(ordered, ordered[1:]):
        if np.isfinite(durations[a]) and onsets[a] + durations[a] > onsets[b] + 1e-6:
            kind_a = table["trial_type"][a] if "trial_type" in table.columns else "row"
            kind_b = table["trial_type"][b] if "trial_type" in table.columns else "row"
            raise InputError(events, f"rows at lines {a + 2} ({kind_a}, {onsets[a]:g}-{onsets[a] + durations[a]:g} s) "
                             f"and {b + 2} ({kind_b}, from {onsets[b]:g} s) of {expected!r} overlap, so where the "
                             "file starts in the run is ambiguous", field="columns 'onset' and 'duration'",
                             expected="each part of one stimulus file to start after the previous part ends",
                             hint="check this run's timing; " + hint + ", or leave the subject out (dataset.subjects)")
    return onsets, ordered


def stimulus_spec(dataset: Mapping, story: str) -> dict:
    """The ``dataset.stimulus_onset`` settings of one story unit: a ``dataset.conditions.units``
    entry's own ``stim_file`` (e.g. milkyway's ``{task}{condition}_audio.wav``) replaces the pattern."""
    dataset = require(dataset, "dataset")
    spec = dict(dataset["stimulus_onset"])
    unit = dataset["conditions"]["units"].get(story) or {}  # a story of no unit: the dataset's pattern
    if unit.get("stim_file"):
        spec["stim_file"] = unit["stim_file"]
    return spec


def stimulus_onsets(runs: pd.DataFrame, dataset: Mapping) -> pd.DataFrame:
    """:func:`stimulus_onset` of every run of a plan (:func:`plan_runs`), problems collected, not raised.

    Parameters
    ----------
    runs
        :func:`plan_runs` output.
    dataset
        The ``dataset`` config block (``stimulus_onset``, ``conditions.units``).

    Returns
    -------
    pandas.DataFrame
        One row per run: ``subject, story, task, run, condition, events, onset, source, line,
        stim_file, trial_type, problem`` (``problem`` = the error message, empty when the onset is
        known; ``onset`` NaN then).
    """
    rows = []
    for rec in runs.to_dict("records"):
        base = {k: rec.get(k) for k in ("subject", "story", "task", "run", "condition", "events")}
        try:
            info = stimulus_onset(rec.get("events"), stimulus_spec(dataset, str(rec["story"])),
                                  subject=str(rec["subject"]), story=str(rec["story"]),
                                  task=str(rec.get("task") or rec["story"]), condition=rec.get("condition"))
            rows.append({**base, "onset": info["onset"], "source": info["source"], "line": info.get("line"),
                         "stim_file": info.get("stim_file"), "trial_type": info.get("trial_type"), "problem": ""})
        except InputError as err:
            rows.append({**base, "onset": np.nan, "source": "", "line": None, "stim_file": None, "trial_type": None,
                         "problem": str(err)})
    return pd.DataFrame(rows, columns=["subject", "story", "task", "run", "condition", "events", "onset", "source",
                                       "line", "stim_file", "trial_type", "problem"])


def locate_run(
    bids_root: str | os.PathLike,
    subject: str,
    story: str,
    modality: str,
    derivatives_root: str | os.PathLike | None = None,
    space: str | None = None,
    session: str | None = None,
    profile: Mapping | None = None,
    run: str | None = None,
    repeated: str = "error",
) -> dict:
    """The files of one (subject, story) run, for a preprocessing job.

    ``profile`` is the dataset profile's free-form block (``config["dataset"]["profile"]``); its
    ``space``, ``sessions`` (first one used), ``use_derivatives``, ``responses`` and ``hf5.root``
    (``{root}`` = ``bids_root``) apply unless given explicitly.  ``story`` is the BIDS task (for a
    story sharing a run, its ``dataset.story_runs`` task).  ``run`` (the BIDS ``run`` label the plan
    chose, :func:`plan_runs`) picks one of repeated runs; without it several runs are handled by
    ``repeated`` (:func:`choose_repeat`).

    Returns
    -------
    dict
        fMRI: ``bold`` (path, or ``[left, right]`` GIFTI for a surface space), ``confounds``,
        ``sidecar``, ``events`` (and ``confounds_searched``, the folders searched, when no confounds
        file was found); MEG/EEG/iEEG: ``bids_path`` (``mne_bids.BIDSPath``), ``raw``,
        ``events``, ``channels``, ``electrodes``.  Always ``subject``, ``story``, ``session``, ``run``.

    Raises
    ------
    FileNotFoundError
        Naming the subject, story and where it looked.
    """
    profile = complete(profile, "dataset.profile")  # None: the schema's default profile
    space = space or profile.get("space")  # optional entries (no schema default): space, sessions
    if session is None and profile.get("sessions"):
        session = str(list(profile["sessions"])[0])
    spec = {"modality": modality, "subjects": [subject], "stories": [story], "space": space,
            "derivatives_root": derivatives_root, "sessions": [session] if session else None,
            "use_derivatives": profile["use_derivatives"], **hf5_spec(profile, bids_root)}
    runs = find_runs(bids_root, spec)
    if runs.empty:
        where = Path(derivatives_root or Path(bids_root) / "derivatives" / "fmriprep") if modality == "fmri" else bids_root
        raise FileNotFoundError(f"{bids_root}: no {modality} run for sub-{subject} task-{story}"
                                f"{f' ses-{session}' if session else ''} (looked in {bids_root}"
                                f"{f' and {where}' if modality == 'fmri' else ''})")
    if run is not None:
        runs = runs[runs["run"].astype(str) == str(run)]
        if runs.empty:
            raise FileNotFoundError(f"{bids_root}: no {modality} run-{run} for sub-{subject} task-{story}")
    row = select_runs(runs, [subject], [story], root=bids_root, repeated=repeated).iloc[0]
    out = {k: (v if isinstance(v, (tuple, list)) or not pd.isna(v) else None) for k, v in row.items()}
    if modality == "fmri":
        out["bold"] = [out["path"], out["path_r"]] if out["path_r"] else out["path"]
        if out.get("confounds") is None and not str(out["path"]).endswith(".hf5"):
            out["confounds_searched"] = confounds_search_folders(out["path"], bids_root, derivatives_root)
    else:
        import mne_bids
        ent = parse_entities(row["path"])
        out["raw"] = row["path"]
        out["bids_path"] = mne_bids.BIDSPath(subject=ent.get("sub"), session=ent.get("ses"), task=ent.get("task"),
                                             acquisition=ent.get("acq"), run=ent.get("run"), datatype=modality,
                                             suffix=modality, extension=Path(row["path"]).suffix,
                                             root=bids_root)
    return out


def confounds_search_folders(bold: str | os.PathLike, bids_root: str | os.PathLike,
                             derivatives_root: str | os.PathLike | None = None) -> list[str]:
    """The folders :func:`find_runs` searches for a BOLD run's fMRIPrep confounds file, in order:
    the BOLD file's own folder, the run's ``func`` folder in the fMRIPrep derivatives, and the raw
    BIDS ``func`` folder (named in the error for a missing confounds file)."""
    ent = parse_entities(str(bold))
    sub_ses = Path(f"sub-{ent.get('sub')}") / (f"ses-{ent['ses']}" if "ses" in ent else "") / "func"
    deriv = Path(derivatives_root or Path(bids_root) / "derivatives" / "fmriprep")
    folders = [Path(bold).parent, deriv / sub_ses, Path(bids_root) / sub_ses]
    return list(dict.fromkeys(str(f) for f in folders))


def hf5_spec(profile: Mapping | None, bids_root: str | os.PathLike) -> dict:
    """The ``find_runs`` keys of a profile's ``responses`` / ``hf5.root`` (``{root}`` = BIDS root)."""
    profile = complete(profile, "dataset.profile")
    root = (profile.get("hf5") or {}).get("root")  # hf5 and its root: optional (no schema default)
    return {"responses": profile["responses"],
            "hf5_root": str(root).format(root=bids_root) if root else None}


def recording_duration(path: str | os.PathLike) -> float:
    """Length (s) of a BOLD run (volumes x TR) or an M/EEG recording (header only).

    The file is checked first (:mod:`brainalign.io.integrity`): a truncated ``.nii.gz``, a ``.vhdr``
    whose data file is missing, an EDF with fewer records than its header declares ... stop with an
    :class:`~brainalign.errors.InputError` naming the file rather than giving a wrong length.
    """
    from brainalign.io.integrity import load_nifti, read_meeg_header

    path = Path(path)
    name = path.name
    if name.endswith((".nii", ".nii.gz")):
        from brainalign.io.tr import header_tr, resolve_tr
        img = load_nifti(path, what="BOLD image")
        return float(img.shape[3] * resolve_tr(path, header_tr(img)))
    raw = read_meeg_header(path)
    return float(raw.n_times / raw.info["sfreq"])


# ------------------------------------------------------------------ files each job reads
def recording_files(path: str | os.PathLike) -> list[str]:
    """A recording file and the companions its reader opens.

    BrainVision ``.vhdr``: the ``DataFile`` and ``MarkerFile`` the header names (as written there;
    the BIDS names ``.eeg``/``.vmrk`` when the header cannot be read); EEGLAB ``.set``: the ``.fdt``
    of the same name when present; FIF: the further parts of a split recording; a folder (CTF
    ``.ds``, BTi, ``.mefd``): every file inside it.  Only files that exist are listed (a missing
    companion is reported by :func:`brainalign.io.integrity.check_recording_file`).
    """
    from brainalign.errors import InputError
    from brainalign.io.integrity import brainvision_files, fif_parts

    path = Path(path)
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*") if p.is_file())
    files = [path]
    suffix = path.suffix.lower()
    if suffix == ".vhdr":
        try:
            named = [p for p in brainvision_files(path).values() if p is not None]
        except (InputError, OSError):
            named = [path.with_suffix(".eeg"), path.with_suffix(".vmrk")]
        files += named
    elif suffix == ".set":
        files.append(path.with_suffix(".fdt"))
    elif suffix == ".fif":
        files = fif_parts(path)
    return [str(p) for p in dict.fromkeys(files) if p.is_file()]


#: ``preprocess.ieeg.electrodes_space`` values besides a BIDS space label.
ELECTRODES_SPACE_CHOICES = ("auto", "none")


def _coordinate_system(coordsystem: str | None, datatype: str) -> str | None:
    """The ``<Datatype>CoordinateSystem`` of a coordsystem.json (None when absent or unreadable here:
    the file is checked, with errors naming it, when it is read for real)."""
    if not coordsystem:
        return None
    import json

    key = {"ieeg": "iEEG", "eeg": "EEG", "meg": "MEG"}.get(datatype, datatype)
    try:
        with open(coordsystem, encoding="utf-8") as f:
            value = json.load(f).get(f"{key}CoordinateSystem")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def electrode_spaces(bids_path) -> list[dict]:
    """Every ``electrodes.tsv`` of a recording, one per space, with its ``coordsystem.json``.

    The files are searched where mne-bids searches them (the subject's folder, its datatype folder and
    its session folders); files whose entities (session, task, acquisition, run) contradict the
    recording's are not its own.  mne-bids reads positions only when exactly one pair is found, so a
    dataset with an MNI and a native-space table (the Podcast ECoG layout) gets none from it: this
    list is what :func:`choose_electrodes` chooses from.

    Returns
    -------
    list of dict
        ``electrodes``, ``coordsystem`` (the matching file, or None), ``space`` (the ``space`` entity
        of the file name, else the coordsystem's ``<Datatype>CoordinateSystem``, else ``""``), sorted
        by file name.
    """
    from mne_bids import get_entities_from_fname

    subj = Path(bids_path.root) / f"sub-{bids_path.subject}"
    datatype = bids_path.datatype
    ses = f"ses-{bids_path.session}" if bids_path.session else "ses-*"
    folders = [subj, subj / datatype, subj / ses, subj / ses / datatype]
    own = {k: v for k, v in bids_path.entities.items() if v is not None and k not in ("space", "suffix")}

    def mine(fname: str) -> bool:
        ent = get_entities_from_fname(fname, on_error="ignore")
        return all(ent.get(k) in (None, v) for k, v in own.items())

    def found(suffix: str) -> list[str]:
        hits = {p for folder in folders for p in glob.glob(str(folder / f"sub-{bids_path.subject}*_{suffix}"))}
        return sorted((p for p in hits if mine(p)), key=lambda p: (Path(p).name, p))

    coordsystems = found("coordsystem.json")
    out = []
    for tsv in found("electrodes.tsv"):
        space = parse_entities(Path(tsv).name).get("space")
        twin = tsv[: -len("electrodes.tsv")] + "coordsystem.json"
        if twin in coordsystems:
            coordsystem = twin
        else:  # a coordsystem.json of the same space (BIDS allows it to drop entities the table has)
            same = [c for c in coordsystems if parse_entities(Path(c).name).get("space") == space]
            coordsystem = same[0] if len(same) == 1 else None
        out.append({"electrodes": tsv, "coordsystem": coordsystem,
                    "space": space or _coordinate_system(coordsystem, datatype) or ""})
    return out


def is_mni_space(space: str) -> bool:
    """An MNI template space label (``MNI152NLin2009aSym``, ``MNI305``, ``MNIColin27`` ...)."""
    return str(space).upper().startswith("MNI")


def choose_electrodes(bids_path, space: str | None, *,
                      key: str = "preprocess.ieeg.electrodes_space") -> dict | None:
    """The ``electrodes.tsv`` (and ``coordsystem.json``) whose positions a recording's channels get.

    Parameters
    ----------
    bids_path
        The recording's ``mne_bids.BIDSPath`` (root set).
    space
        ``"auto"``: the MNI-space table (``space-MNI*``) when there is one, else the only table;
        a BIDS space label (``MNI152NLin2009aSym``, ``Other`` ...): that table; ``None`` or
        ``"none"``: no positions (returns None).
    key
        The config key named in messages.

    Returns
    -------
    dict or None
        ``electrodes``, ``coordsystem``, ``space`` and ``found`` (every electrodes.tsv of the
        recording).

    Raises
    ------
    MissingInputError
        No electrodes.tsv at all (with ``auto``: set ``none`` to run without positions), or none in
        the requested space (naming the files found and their spaces).
    InputError
        Several candidates ``auto`` cannot choose between, or the chosen table without its
        coordsystem.json (BIDS requires one; the units and the frame are read from it).
    """
    if space is None or str(space).lower() == "none":
        return None
    candidates = electrode_spaces(bids_path)
    found = [c["electrodes"] for c in candidates]
    listing = ", ".join(f"{Path(c['electrodes']).name} (space {c['space'] or '?'})" for c in candidates)
    where = Path(bids_path.root) / f"sub-{bids_path.subject}"
    if not candidates:
        raise MissingInputError(where, f"no *_electrodes.tsv for {bids_path.basename}, so its channels have no "
                                f"positions", field=key, expected="an electrodes.tsv with its coordsystem.json",
                                hint=f"set {key}: none to preprocess without electrode positions")
    if space == "auto":
        mni = [c for c in candidates if is_mni_space(c["space"])]
        chosen = candidates if len(candidates) == 1 else mni
        if len(chosen) != 1:
            raise InputError(where, f"{len(candidates)} electrodes.tsv for {bids_path.basename} and "
                             f"{'several' if mni else 'none'} in an MNI space: {listing}", field=key,
                             expected="one space-MNI* table, or a single table",
                             hint=f"set {key} to one of {sorted({c['space'] for c in candidates})}")
    else:
        chosen = [c for c in candidates if c["space"] == str(space)] or \
            [c for c in candidates if c["space"].lower() == str(space).lower()]
        if len(chosen) != 1:
            raise MissingInputError(where, f"{'no' if not chosen else 'several'} electrodes.tsv in space "
                                    f"{space!r} for {bids_path.basename}; found: {listing}", field=key,
                                    expected=f"one of the spaces {sorted({c['space'] for c in candidates})}, or auto")
    pick = dict(chosen[0], found=found)
    if pick["coordsystem"] is None:
        raise MissingInputError(pick["electrodes"], "no coordsystem.json of the same space beside it",
                                expected=f"{Path(pick['electrodes']).name[:-len('electrodes.tsv')]}coordsystem.json "
                                "(BIDS requires it: the coordinate system and units are read from it)")
    return pick


def meeg_sidecars(bids_path, electrodes_space: str | None = None, *, strict: bool = False) -> dict[str, str | None]:
    """The BIDS files ``mne_bids.read_raw_bids`` opens besides the recording, found the way it finds them.

    Uses mne-bids' own sidecar search (inheritance principle included), so the list matches what
    the reader opens: the ``<datatype>.json`` sidecar, ``events.tsv`` (and ``events.json``),
    ``channels.tsv``, ``electrodes.tsv`` with ``coordsystem.json`` (read only as a pair), the
    subject's ``scans.tsv`` and the dataset's ``participants.tsv``.

    Parameters
    ----------
    bids_path
        The recording's ``mne_bids.BIDSPath``.
    electrodes_space
        None: the electrodes pair mne-bids finds (MEG/EEG).  Otherwise (iEEG,
        ``preprocess.ieeg.electrodes_space``) the pair :func:`choose_electrodes` chooses, which the
        iEEG reader then reads itself (``"none"``: no pair).
    strict
        Raise the choice's :class:`InputError` (the reader); otherwise (listing a job's files, the
        input check) a failed choice gives no pair and the job reports it.

    Returns
    -------
    dict
        Keys ``sidecar, events, events_json, channels, electrodes, coordsystem, scans, participants``;
        None where the reader finds no file.
    """
    import mne_bids
    from mne_bids.path import _find_matching_sidecar

    def find(suffix: str, extension: str) -> str | None:
        hit = _find_matching_sidecar(bids_path, suffix=suffix, extension=extension, on_error="ignore")
        return str(hit) if hit is not None else None

    datatype = bids_path.datatype
    events = find("events", ".tsv")
    if electrodes_space is None:
        electrodes, coordsystem = find("electrodes", ".tsv"), find("coordsystem", ".json")
    else:
        try:
            chosen = choose_electrodes(bids_path, electrodes_space)
        except InputError:
            if strict:
                raise
            chosen = None
        electrodes, coordsystem = (chosen["electrodes"], chosen["coordsystem"]) if chosen else (None, None)
    pair = electrodes is not None and coordsystem is not None
    scans = mne_bids.BIDSPath(subject=bids_path.subject, session=bids_path.session, suffix="scans",
                              extension=".tsv", root=bids_path.root).fpath
    participants = Path(bids_path.root) / "participants.tsv"
    return {"sidecar": find(datatype, ".json"), "events": events,
            "events_json": find("events", ".json") if events else None,
            "channels": find("channels", ".tsv"),
            "electrodes": electrodes if pair else None, "coordsystem": coordsystem if pair else None,
            "scans": str(scans) if scans.is_file() else None,
            "participants": str(participants) if participants.is_file() else None}


def meeg_bids_path(path: str | os.PathLike, root: str | os.PathLike, modality: str):
    """The ``mne_bids.BIDSPath`` of a BIDS-named M/EEG recording under ``root``."""
    import mne_bids

    ent = parse_entities(str(path))
    return mne_bids.BIDSPath(subject=ent.get("sub"), session=ent.get("ses"), task=ent.get("task"),
                             acquisition=ent.get("acq"), run=ent.get("run"), datatype=modality,
                             suffix=modality, extension=Path(path).suffix, root=root)


def _electrodes_space(space: str | None) -> str:
    """``space``, or for None (a query that does not set it) the schema's ``preprocess.ieeg.electrodes_space``."""
    return defaults("preprocess.ieeg.electrodes_space") if space is None else space


def run_files(row: Mapping, root: str | os.PathLike, electrodes_space: str | None = None) -> list[str]:
    """Every file the preprocessing job of one run (a row of :func:`find_runs`) reads, in a fixed order.

    fMRI: the BOLD file(s), the confounds table and the JSON sidecar the TR is read from (the one
    found beside the BOLD or inherited, as :func:`brainalign.io.tr.resolve_tr` reads it);
    ``.hf5`` responses: the file.  MEG/EEG/iEEG: the recording and its companions
    (:func:`recording_files`) and every sidecar mne-bids opens (:func:`meeg_sidecars`).  Files the
    config names (masks, atlases, channel groups) and the events of a story cut from a shared run
    are added by the workflow (``workflow/rules/common.smk``).  iEEG: the electrodes.tsv and
    coordsystem.json of ``electrodes_space`` (``preprocess.ieeg.electrodes_space``, default
    ``auto``); when no table can be chosen, every candidate, so that the job (which then stops
    naming them) reruns once one is added or fixed.
    """
    from brainalign.io.integrity import bold_sidecar

    path = row.get("path")
    if not isinstance(path, str):
        return []
    if row.get("modality", "fmri") == "fmri":
        files = [p for p in (path, row.get("path_r"), row.get("confounds")) if isinstance(p, str)]
        if not path.endswith(".hf5"):
            sidecar = row.get("sidecar") if isinstance(row.get("sidecar"), str) else str(bold_sidecar(path))
            if Path(sidecar).is_file():
                files.append(sidecar)
        return list(dict.fromkeys(files))
    files = recording_files(path)
    bids_path = meeg_bids_path(path, root, row["modality"])
    space = _electrodes_space(electrodes_space) if row["modality"] == "ieeg" else None
    sidecars = meeg_sidecars(bids_path, space)
    files += [p for p in sidecars.values() if p]
    if space is not None and sidecars["electrodes"] is None and str(space).lower() != "none":
        files += [p for c in electrode_spaces(bids_path) for p in (c["electrodes"], c["coordsystem"]) if p]
    return list(dict.fromkeys(files))
