"""The input check's pieces: which timing file a run reads, problems grouped by what blocks them, the table's
columns, GIfTI shapes without decoding (brainalign.io.inputs)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainalign.config_sections import with_defaults
from brainalign.errors import InputError
from brainalign.io.inputs import check_dataset, raise_blocking, select_dataset_runs, timing_source
from tests import synthetic_bids as synth


def test_timing_source_mirrors_the_words_rule():
    assert timing_source("a", "01", kind="demo", root="R", timings={}) == (
        "R/sub-01/func/sub-01_task-a_events.tsv", {"fmt": "bids_events"})
    path, options = timing_source("s", "02", kind="bids", root="R", timings=with_defaults("dataset.timings", {
        "format": "gentle", "path": "{root}/g/{story}/align.json", "per_subject": False, "on_beyond_end": "error"}),
        story_run={"task": "t", "timings_path": "{root}/g/t/align.json", "timings_offset": -3.0,
                   "timings_window": [0.0, 100.0]})
    assert path == "R/g/t/align.json"
    assert options == {"fmt": "gentle", "on_overlap": "error", "shift": -3.0, "window": [0.0, 100.0],
                       "window_field": "dataset.story_runs.s.timings_window", "on_beyond_end": "warn",
                       "duration": None}


def test_raise_blocking_groups_a_shared_problem():
    """One problem seen by many runs (a shared timing file) is listed once with the runs it affects."""
    from brainalign.io.inputs import Problem

    table = pd.DataFrame({"subject": ["01", "02", "03", "04"]})
    table.attrs["problems"] = ([(s, "a", "fmri", Problem("timings.tsv: broken")) for s in ("01", "02", "03", "04")]
                               + [("01", "a", "fmri", Problem("note only", blocking=False))])
    with pytest.raises(InputError) as exc:
        raise_blocking(table, "inputs.tsv")
    message = str(exc.value)
    assert "1 blocking problem(s) in 4 of 4 run(s)" in message
    assert "[sub-01 a fmri, sub-02 a fmri, sub-03 a fmri and 1 more] timings.tsv: broken" in message
    assert "note only" not in message


def test_inputs_table_columns(tmp_path):
    """One row per subject x story x modality with the documented columns."""
    from brainalign.io.inputs import COLUMNS

    root = synth.make_dataset(tmp_path / "bids", subjects=("01",), stories=("a", "b"))
    runs = select_dataset_runs(root, {"fmri": {"modality": "fmri"}, "eeg": {"modality": "eeg"}}, ["01"], ["a", "b"])
    table = check_dataset(runs, root=root, kind="bids", timings=with_defaults("dataset.timings", synth.bids_config(root, subjects=("01",))["dataset"]["timings"]))
    raise_blocking(table, "inputs.tsv")
    assert list(table.columns) == COLUMNS and len(table) == 4
    eeg = table[table.modality == "eeg"].iloc[0]
    assert (eeg.duration_s, eeg.sfreq_hz, eeg.n_samples, eeg.n_targets) == (80.0, 100.0, 8000, 8)
    fmri = table[table.modality == "fmri"].iloc[0]
    assert (fmri.duration_s, fmri.tr_s, fmri.n_samples, fmri.n_targets, fmri.words_inside) == (80.0, 2.0, 40, 64, 20)


def test_gifti_shape_without_decoding(tmp_path):
    """Volumes and vertices of GIFTI func files, one array per volume (fMRIPrep) or one vertex x time array."""
    from brainalign.io.inputs import _gifti_shape

    per_volume = [nib.gifti.GiftiDataArray(np.zeros(50, np.float32), intent="NIFTI_INTENT_TIME_SERIES")
                  for _ in range(7)]
    nib.save(nib.gifti.GiftiImage(darrays=per_volume), tmp_path / "a.func.gii")
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(np.zeros((50, 7), np.float32))]),
             tmp_path / "b.func.gii")
    assert _gifti_shape(str(tmp_path / "a.func.gii")) == (7, 50) == _gifti_shape(str(tmp_path / "b.func.gii"))
