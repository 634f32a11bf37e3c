"""The left-out repetitions of a story (brainalign.io.repeats) on the real Narratives layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from brainalign.io.bids import plan_runs
from brainalign.io.repeats import REPEAT_COLUMNS, plan_repeats, run_label
#: The real Narratives metadata (shared/): pieman run-1/run-2 for 001-003, one pieman run for 017
META = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "narratives-metadata"
SUBJECTS = ["001", "002", "003", "017"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """The subjects' real pieman and tunnel events and sidecars, with placeholder raw BOLD files."""
    if not META.is_dir():
        pytest.skip(f"{META} not present")
    root = tmp_path_factory.mktemp("ds002345")
    shutil.copy(META / "dataset_description.json", root / "dataset_description.json")
    for sub in SUBJECTS:
        func = root / f"sub-{sub}" / "func"
        func.mkdir(parents=True)
        for f in (META / f"sub-{sub}" / "func").glob("*task-[pt][iu]*"):
            shutil.copy(f, func / f.name)
            if f.name.endswith("_events.tsv"):
                (func / f.name.replace("_events.tsv", "_bold.nii.gz")).write_bytes(b"placeholder")
    return root


def _spec(root):
    return {"modality": "fmri", "use_derivatives": False}


def profile_dataset(**overrides) -> dict:
    from brainalign.config_sections import with_defaults

    return with_defaults("dataset", {"missing_run": "drop", **overrides})  # as the workflow's validation fills it


@pytest.mark.parametrize("choice, encoded, left_out", [("first", "1", "run-2"), ("last", "2", "run-1")])
def test_the_other_repetition_of_each_repeated_subject_is_planned(tree, choice, encoded, left_out):
    ds = profile_dataset(repeated_runs=choice)
    subjects = sorted(p.name[4:] for p in tree.glob("sub-*"))
    chosen = plan_runs(tree, ds, spec=_spec(tree), subjects=subjects, stories=["pieman"])
    reps = plan_repeats(tree, ds, spec=_spec(tree), chosen=chosen)
    assert tuple(reps.columns) == REPEAT_COLUMNS
    repeated = sorted(chosen.loc[chosen["repeats"] != "", "subject"])
    assert repeated and sorted(reps["subject"]) == repeated
    assert (reps["repeat"] == left_out).all() and (reps["run"] == left_out[4:]).all()
    assert (chosen.loc[chosen["repeats"] != "", "run"] == encoded).all()
    for row in reps.itertuples():
        bold = [f for f in row.files if str(f).endswith("_bold.nii.gz")]
        assert bold and all(f"_{left_out}_" in str(f) for f in bold), row.files


def test_nothing_repeated_plans_nothing(tree):
    ds = profile_dataset(repeated_runs="first")
    chosen = plan_runs(tree, ds, spec=_spec(tree), subjects=SUBJECTS, stories=["tunnel"])
    assert (chosen["repeats"] == "").all()
    assert plan_repeats(tree, ds, spec=_spec(tree), chosen=chosen).empty
    assert plan_repeats(tree, ds, spec=_spec(tree), chosen=pd.DataFrame(columns=["subject", "story"])).empty


def test_run_label_matches_the_plans_labels():
    assert run_label("2", "1") == "ses-2_run-1" and run_label(None, "2") == "run-2" and run_label(None, None) == "single"
