"""The repetitions of a story that the plan left out, for the repeat-based noise ceiling.

:func:`brainalign.io.bids.plan_runs` keeps one run per subject and story (``dataset.repeated_runs``)
and lists the other repetitions in its ``repeats`` column (``ses-X_run-Y`` labels).  Those runs are
not encoded (a repeated hearing changes the responses), but their agreement with the encoded run is
the noise ceiling of the data (:mod:`brainalign.encoding.group`).  :func:`plan_repeats` finds their
files, so that each is preprocessed by the same job as the encoded run.
"""

from __future__ import annotations

import os
from typing import Mapping

import pandas as pd

from .bids import find_runs, split_story_runs, story_tasks

#: Columns of :func:`plan_repeats`: the run (as :func:`find_runs`) and its repetition label (``events``: its events.tsv or None).
REPEAT_COLUMNS = ("subject", "story", "repeat", "task", "session", "run", "events", "files")


def run_label(session: object, run: object) -> str:
    """``ses-X_run-Y`` of a run (``single`` with neither entity), as ``plan_runs``' ``repeats`` lists them."""
    parts = [f"{k}-{v}" for k, v in (("ses", session), ("run", run)) if isinstance(v, str) and v]
    return "_".join(parts) or "single"


def plan_repeats(bids_root: str | os.PathLike, dataset: Mapping, *, spec: Mapping,
                 chosen: pd.DataFrame) -> pd.DataFrame:
    """One row per left-out repetition of a chosen (subject, story) run.

    Parameters
    ----------
    bids_root, dataset, spec
        As for :func:`brainalign.io.bids.plan_runs` (the same discovery).
    chosen
        ``plan_runs``' output, with its ``repeats`` column.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REPEAT_COLUMNS` (``repeat``: the ``ses-X_run-Y`` label, ``files``: every file
        its preprocessing reads), sorted by subject, story, repeat; empty when nothing is repeated.
        Stories cut from a shared run (``dataset.story_runs``) count; versions selected by
        condition (``dataset.conditions.units``) are matched on their BIDS task.
    """
    wanted = chosen[chosen.get("repeats", pd.Series("", index=chosen.index)).fillna("").astype(str) != ""]
    if wanted.empty:
        return pd.DataFrame(columns=REPEAT_COLUMNS)
    story_runs = dict(dataset.get("story_runs") or {})
    runs = find_runs(bids_root, dict(spec, stories=story_tasks(sorted(set(wanted["task"])), {})))
    runs = split_story_runs(runs, {s: e for s, e in story_runs.items() if s in set(wanted["story"])})
    rows = []
    for pick in wanted.itertuples():
        labels = set(str(pick.repeats).split(";"))
        # condition units keep the BIDS task as the run's `story` in find_runs' rows
        same = runs[(runs["subject"] == pick.subject) & runs["story"].isin([pick.story, pick.task])
                    & (runs["task"] == pick.task)]
        for r in same.itertuples():
            label = run_label(r.session, r.run)
            if label in labels:
                labels.discard(label)
                rows.append({"subject": pick.subject, "story": pick.story, "repeat": label, "task": r.task,
                             "session": r.session if isinstance(r.session, str) else None,
                             "run": r.run if isinstance(r.run, str) else None,
                             "events": r.events if isinstance(r.events, str) else None, "files": list(r.files)})
    out = pd.DataFrame(rows, columns=REPEAT_COLUMNS)
    return out.sort_values(["subject", "story", "repeat"]).reset_index(drop=True)
