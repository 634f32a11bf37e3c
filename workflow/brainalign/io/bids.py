"""Finding runs in a BIDS tree (raw + fMRIPrep-style derivatives) by globbing BIDS file names.

pybids indexes every file of a dataset before answering (minutes on Narratives' ~300 subjects);
the workflow only needs "which (subject, story) runs exist and where are their files", which a few
globs over BIDS names answer in milliseconds.  Stories are BIDS ``task`` labels.

Functions
---------
find_runs(root, spec)           one row per run found (subject, session, story, run, paths ...)
select_runs(runs, ...)          the (subject, story) grid the config asks for; missing -> error | drop
split_story_runs(runs, story_runs)  stories that share a run (dataset.story_runs) -> one row per story
story_segment(entry, events)    a shared run's story: onset (s) and duration from the config or events.tsv
locate_run(root, subject, story, modality, ...)   the files of one job (used by the rule scripts)
recording_duration(path)        length of a recording in seconds (to check word events against)
"""

from __future__ import annotations

import glob
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

log = logging.getLogger(__name__)

MEEG_EXTENSIONS = (".fif", ".con", ".sqd", ".ds", ".pdf", ".vhdr", ".edf", ".bdf", ".set", ".mefd", ".nwb",
                   ".EDF", ".BDF")
RUN_COLUMNS = ["subject", "session", "story", "run", "modality", "path", "path_r", "events", "confounds",
               "sidecar", "channels", "electrodes", "task"]
_ENTITY = re.compile(r"(?:^|_)([a-zA-Z]+)-([a-zA-Z0-9]+)")


def parse_entities(name: str) -> dict[str, str]:
    """BIDS entities of a file name: ``sub-01_ses-2_task-x_bold.nii.gz`` -> {sub: 01, ses: 2, task: x}."""
    return {k: v for k, v in _ENTITY.findall(Path(name).name)}


def _prefix(ent: Mapping[str, str], keys=("sub", "ses", "task", "acq", "run")) -> str:
    return "_".join(f"{k}-{ent[k]}" for k in keys if k in ent)


def _first(paths: Iterable[str]) -> str | None:
    paths = sorted(paths)
    return paths[0] if paths else None


def _sidecar_glob(directory: Path, ent: Mapping[str, str], suffix: str, keys=("sub", "ses", "task", "acq", "run")) -> str | None:
    """The file ``<entities>*_<suffix>`` beside a run (exact entities first, then without run)."""
    for ks in (keys, tuple(k for k in keys if k != "run"), tuple(k for k in keys if k not in ("run", "task", "acq"))):
        hit = _first(glob.glob(str(directory / f"{_prefix(ent, ks)}*_{suffix}")))
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
        ``use_derivatives`` (default true: preprocessed BOLD when found, else raw BOLD),
        ``responses`` (``bold``, default, or ``hf5``: LeBel et al. 2023's preprocessed responses
        ``<hf5_root>/<subject>/<story>.hf5``, ``hf5_root`` default ``<root>/derivative/preprocessed_data``).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, session, story, run, modality, path, path_r, events, confounds, sidecar,
        channels, electrodes, task`` (absent files: None; ``task`` is the BIDS task, equal to ``story``
        until :func:`split_story_runs`), sorted by subject, story, session, run.
    """
    spec = dict(spec or {})
    root = Path(root)
    modality = spec.get("modality", "fmri")
    if modality not in ("fmri", "meg", "eeg", "ieeg"):
        raise ValueError(f"spec['modality']={modality!r}: expected fmri, meg, eeg or ieeg")
    subjects, stories, sessions = (_spec_list(spec, k) for k in ("subjects", "stories", "sessions"))
    rows = []
    if modality == "fmri" and spec.get("responses", "bold") == "hf5":
        # LeBel et al. 2023: derivative/preprocessed_data/<subject>/<story>.hf5 (no BIDS entities)
        hf5_root = Path(spec.get("hf5_root") or root / "derivative" / "preprocessed_data")
        for p in glob.glob(str(hf5_root / "*" / "*.hf5")):
            sub = Path(p).parent.name
            sub = sub[4:] if sub.startswith("sub-") else sub
            rows.append(dict(subject=sub, session=None, story=Path(p).stem, run=None, modality="fmri", path=p,
                             path_r=None, events=None, confounds=None, sidecar=None, channels=None,
                             electrodes=None))
    elif modality == "fmri":
        deriv = Path(spec.get("derivatives_root") or root / "derivatives" / "fmriprep")
        space = spec.get("space")
        surface = bool(space) and str(space).startswith("fs")
        raw_bolds = glob.glob(str(root / "sub-*" / "**" / "func" / "*_bold.nii*"), recursive=True)
        runs: dict[tuple, dict] = {}
        for p in raw_bolds:
            ent = parse_entities(p)
            runs[(_prefix(ent))] = {"ent": ent, "raw": p}
        use_deriv = spec.get("use_derivatives", True) and deriv.exists()
        if use_deriv:
            if surface:
                pattern = f"*_hemi-L_space-{space}*_bold.func.gii"
            else:
                pattern = f"*_space-{space}*_desc-preproc_bold.nii*" if space else "*_desc-preproc_bold.nii*"
            for p in glob.glob(str(deriv / "sub-*" / "**" / "func" / pattern), recursive=True):
                ent = parse_entities(p)
                key = _prefix(ent)
                entry = runs.setdefault(key, {"ent": ent})
                if "deriv" not in entry or Path(p).name < Path(entry["deriv"]).name:
                    entry["deriv"] = p
        for key, entry in runs.items():
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
                              if (hit := _sidecar_glob(folder, ent, suffix))), None)
            sidecar = re.sub(r"(\.nii(\.gz)?|\.func\.gii)$", ".json", path)
            if not Path(sidecar).exists():
                sidecar = _sidecar_glob(raw_dir, ent, "bold.json") or _first(glob.glob(str(root / f"task-{ent.get('task')}_bold.json")))
            rows.append(dict(subject=ent.get("sub"), session=ent.get("ses"), story=ent.get("task"), run=ent.get("run"),
                             modality="fmri", path=path, path_r=path_r,
                             events=_sidecar_glob(raw_dir, ent, "events.tsv"), confounds=confounds,
                             sidecar=sidecar, channels=None, electrodes=None))
    else:
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
                             electrodes=_first(glob.glob(str(d / f"sub-{ent.get('sub')}*_electrodes.tsv")))))
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    df["task"] = df["story"]
    if subjects is not None:
        df = df[df["subject"].isin(subjects)]
    if stories is not None:
        df = df[df["story"].isin(stories)]
    if sessions is not None:
        df = df[df["session"].isin(sessions)]
    return df.sort_values(["subject", "story", "session", "run"], na_position="first").reset_index(drop=True)


def select_runs(
    runs: pd.DataFrame,
    subjects: Iterable[str],
    stories: Iterable[str],
    *,
    missing: str = "error",
    root: str | os.PathLike = "",
) -> pd.DataFrame:
    """One run per (subject, story) of the requested grid.

    Parameters
    ----------
    runs
        Output of :func:`find_runs`.
    subjects, stories
        The grid the config asks for.
    missing
        A subject without a story: ``"error"`` raises naming every missing (subject, story);
        ``"drop"`` logs them and leaves them out.
    root
        Named in messages.

    Returns
    -------
    pandas.DataFrame
        The first run (by session, run) of each (subject, story) present, in grid order.  Further
        repetitions (e.g. MEG-MASC's second session) are logged; restrict with ``spec['sessions']``.
    """
    if missing not in ("error", "drop"):
        raise ValueError(f"missing={missing!r}: expected 'error' or 'drop'")
    chosen, absent = [], []
    for sub in subjects:
        for story in stories:
            hits = runs[(runs["subject"] == str(sub)) & (runs["story"] == str(story))]
            if hits.empty:
                absent.append((str(sub), str(story)))
                continue
            if len(hits) > 1:
                log.info("sub-%s %s: %d runs found, using %s", sub, story, len(hits), Path(hits["path"].iloc[0]).name)
            chosen.append(hits.iloc[0])
    if absent:
        listing = ", ".join(f"sub-{s}/task-{t}" for s, t in absent[:20]) + (" ..." if len(absent) > 20 else "")
        if missing == "error":
            raise FileNotFoundError(f"{root}: {len(absent)} subject/story run(s) not found: {listing} "
                                    "(set dataset.missing_run: drop to leave them out)")
        log.warning("%s: dropping %d missing subject/story run(s): %s", root, len(absent), listing)
    return pd.DataFrame(chosen, columns=runs.columns).reset_index(drop=True)


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
        The run's ``events.tsv`` (needed with ``onset: events``).

    Raises
    ------
    ValueError, FileNotFoundError
        Missing events file, column or row, naming the file and the story.
    """
    onset, duration = entry.get("onset", "events"), entry.get("duration")
    if onset != "events":
        return float(onset), None if duration is None else float(duration)
    if events is None or not Path(events).exists():
        raise FileNotFoundError(f"dataset.story_runs.{story}: onset 'events' needs the run's events.tsv, "
                                f"none found ({events})")
    table = pd.read_csv(events, sep="\t", na_values=["n/a"])
    kind = str(entry.get("events_trial_type", "story"))
    for col in ("onset", "duration", "trial_type"):
        if col not in table.columns:
            raise ValueError(f"{events}: no column '{col}' (dataset.story_runs.{story} reads the "
                             f"'{kind}' rows' onset and duration); columns: {list(table.columns)}")
    rows = table[table["trial_type"].astype(str) == kind].reset_index(drop=True)
    index = int(entry.get("events_index", 0))
    if not 0 <= index < len(rows):
        raise ValueError(f"{events}: dataset.story_runs.{story}.events_index={index} but the file has "
                         f"{len(rows)} row(s) with trial_type '{kind}'")
    row = rows.iloc[index]
    return float(row["onset"]), float(duration) if duration is not None else float(row["duration"])


def locate_run(
    bids_root: str | os.PathLike,
    subject: str,
    story: str,
    modality: str,
    derivatives_root: str | os.PathLike | None = None,
    space: str | None = None,
    session: str | None = None,
    profile: Mapping | None = None,
) -> dict:
    """The files of one (subject, story) run, for a preprocessing job.

    ``profile`` is the dataset profile's free-form block (``config["dataset"]["profile"]``); its
    ``space``, ``sessions`` (first one used), ``use_derivatives``, ``responses`` and ``hf5.root``
    (``{root}`` = ``bids_root``) apply unless given explicitly.  ``story`` is the BIDS task (for a
    story sharing a run, its ``dataset.story_runs`` task).

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
    profile = dict(profile or {})
    space = space or profile.get("space")
    if session is None and profile.get("sessions"):
        session = str(list(profile["sessions"])[0])
    spec = {"modality": modality, "subjects": [subject], "stories": [story], "space": space,
            "derivatives_root": derivatives_root, "sessions": [session] if session else None,
            "use_derivatives": profile.get("use_derivatives", True), **hf5_spec(profile, bids_root)}
    runs = find_runs(bids_root, spec)
    if runs.empty:
        where = Path(derivatives_root or Path(bids_root) / "derivatives" / "fmriprep") if modality == "fmri" else bids_root
        raise FileNotFoundError(f"{bids_root}: no {modality} run for sub-{subject} task-{story}"
                                f"{f' ses-{session}' if session else ''} (looked in {bids_root}"
                                f"{f' and {where}' if modality == 'fmri' else ''})")
    row = select_runs(runs, [subject], [story], root=bids_root).iloc[0]
    out = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    if modality == "fmri":
        out["bold"] = [row["path"], row["path_r"]] if row["path_r"] else row["path"]
        if out.get("confounds") is None and not str(row["path"]).endswith(".hf5"):
            out["confounds_searched"] = confounds_search_folders(row["path"], bids_root, derivatives_root)
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
    profile = dict(profile or {})
    root = (profile.get("hf5") or {}).get("root")
    return {"responses": profile.get("responses", "bold"),
            "hf5_root": str(root).format(root=bids_root) if root else None}


def recording_duration(path: str | os.PathLike) -> float:
    """Length (s) of a BOLD run (volumes x TR) or an M/EEG recording (header only)."""
    path = Path(path)
    name = path.name
    if name.endswith((".nii", ".nii.gz")):
        import nibabel as nib
        from brainalign.preprocess.fmri import _header_tr, resolve_tr
        img = nib.load(str(path))
        return float(img.shape[3] * resolve_tr(path, _header_tr(img)))
    import mne
    raw = mne.io.read_raw(path, preload=False, verbose="error")
    return float(raw.n_times / raw.info["sfreq"])
