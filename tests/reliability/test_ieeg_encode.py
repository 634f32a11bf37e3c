"""Bad inputs of the encoder's subject handling (issue 14): subjects that must share targets and do
not, settings that cannot work, caught at plan time where the plan already knows."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from brainalign.encoding import encode_dataset
from brainalign.encoding.electrodes import electrode_table
from brainalign.encoding.settings import check_shared_grid, design_settings, resolve_subject_fits, solver_settings
from reliability_helpers import assert_input_error

ENC = solver_settings(alphas=[0.1, 10.0, 1000.0], inner_folds=3, ceiling="none")
MEEG = design_settings("ieeg", tmin=0.0, tmax=0.2)
TR = 1.5


def _features(n_words=120, stories=("s1", "s2")):
    rng = np.random.default_rng(0)
    out = {}
    for s in stories:
        onset = np.cumsum(rng.uniform(0.3, 0.5, n_words)) + 2.0
        out[s] = xr.Dataset({"hidden": (("word", "layer", "feature"), rng.standard_normal((n_words, 2, 4)))},
                            coords={"word": np.arange(n_words), "onset": ("word", onset), "layer": [0, 1],
                                    "relative_depth": ("layer", [0.0, 1.0])})
    return out


def _channels(feats, names, sfreq=50.0, subject="01"):
    rng = np.random.default_rng(len(names))
    recs = {}
    for s, f in feats.items():
        n = int((f.onset.values[-1] + 2) * sfreq)
        recs[s] = xr.DataArray(rng.standard_normal((n, len(names))).astype(np.float32), dims=("time", "channel"),
                               coords={"time": np.arange(n) / sfreq, "channel": names},
                               attrs={"sfreq": sfreq,
                                      "source_file": f"sub-{subject}/ieeg/sub-{subject}_task-{s}_ieeg.edf"})
    return recs


def _voxels(feats, x, subject="01"):
    rng = np.random.default_rng(0)
    recs = {}
    for s, f in feats.items():
        times = (np.arange(int(f.onset.values[-1] / TR) + 8) + 0.5) * TR
        recs[s] = xr.DataArray(rng.standard_normal((times.size, len(x))).astype(np.float32), dims=("time", "voxel"),
                               coords={"time": times, "x": ("voxel", np.asarray(x, float)),
                                       "y": ("voxel", np.zeros(len(x))), "z": ("voxel", np.zeros(len(x)))},
                               attrs={"tr": TR,
                                      "source_file": f"sub-{subject}/func/sub-{subject}_task-{s}_bold.nii.gz"})
    return recs


def test_joint_subjects_with_different_channels():
    """iEEG patients fitted jointly (encoding.subjects: joint), 5 vs 4 channels: InputError naming the
    recording, the channels and encoding.subjects: separate."""
    feats = _features()
    recs = {"01": _channels(feats, ["A1", "A2", "A3", "A4", "A5"]),
            "02": _channels(feats, ["A1", "A2", "B1", "B2"], subject="02")}
    with pytest.raises(Exception) as excinfo:
        encode_dataset(feats, recs, modality="ieeg", design=MEEG, encoding=dict(ENC, subjects="joint"))
    assert_input_error(excinfo, "sub-02_task-s1_ieeg.edf", r"subject 02 lacks \['A3', 'A4', 'A5'\]",
                       r"encoding\.subjects: separate")


def test_joint_fmri_voxel_counts_differ():
    """fMRI subjects with 6 and 5 voxels: InputError naming the second subject's BOLD file and the counts."""
    feats = _features()
    recs = {"01": _voxels(feats, np.arange(6)), "02": _voxels(feats, np.arange(5), subject="02")}
    with pytest.raises(Exception) as excinfo:
        encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri", method="fir", delays=[1, 2]), encoding=ENC)
    assert_input_error(excinfo, "sub-02_task-s1_bold.nii.gz", r"5 voxels but subject 01 has 6",
                       r"share the target space", r"preprocess\.fmri\.mask")


def test_joint_fmri_voxel_positions_differ():
    """Same voxel count, other positions (per-run EPI masks): InputError naming the file, voxel and coordinate."""
    feats = _features()
    recs = {"01": _voxels(feats, np.arange(6)), "02": _voxels(feats, np.arange(6) + [0, 0, 0, 4, 4, 4], "02")}
    with pytest.raises(Exception) as excinfo:
        encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri", method="fir", delays=[1, 2]), encoding=ENC)
    assert_input_error(excinfo, "sub-02_task-s1_bold.nii.gz", r"coordinate 'x'", r"voxel 3 is at x=7\.0 but at x=3\.0")


def test_lags_differ_between_subjects():
    """Two patients preprocessed at 50 and 100 Hz (other word-locked lags): InputError naming both rates."""
    feats = _features()
    recs = {"01": _channels(feats, ["A1", "A2"]), "02": _channels(feats, ["B1"], sfreq=100.0, subject="02")}
    with pytest.raises(Exception) as excinfo:
        encode_dataset(feats, recs, modality="ieeg", design=MEEG, encoding=ENC)
    assert_input_error(excinfo, "sub-02_task-s1_ieeg.edf", r"21 word-locked lags at 100\.0 Hz but subject 01 has 11",
                       r"resample")


def test_subjects_setting_unknown():
    """encoding.subjects: pooled: ConfigError naming the key and the choices."""
    with pytest.raises(Exception) as excinfo:
        resolve_subject_fits("pooled", "ieeg")
    assert_input_error(excinfo, "encoding.subjects", r"'pooled' is not a choice", r"auto.*joint.*separate")


def test_fmri_separate_by_name():
    """encoding.subjects: {fmri: separate}: ConfigError naming encoding.subjects.fmri (voxels share one grid)."""
    with pytest.raises(Exception) as excinfo:
        resolve_subject_fits({"fmri": "separate"}, "fmri")
    assert_input_error(excinfo, "encoding.subjects.fmri", r"one grid")


def test_epi_mask_for_several_runs():
    """Plan with an 'epi' mask and 3 volume runs: ConfigError naming preprocess.fmri.mask, before preprocessing."""
    runs = {("01", "a"): ["sub-01/func/a_bold.nii.gz"], ("01", "b"): ["sub-01/func/b_bold.nii.gz"],
            ("02", "a"): ["sub-02/func/a_bold.nii.gz"]}
    with pytest.raises(Exception) as excinfo:
        check_shared_grid(runs, {"mask": "epi", "atlas": None})
    assert_input_error(excinfo, "preprocess.fmri.mask", r"3 runs \(sub-01/a, sub-01/b, sub-02/a\)", r"mni152")
    check_shared_grid(runs, {"mask": "epi", "atlas": "atlas.nii.gz"})  # parcels are shared
    check_shared_grid(runs, {"mask": "mni152"})
    check_shared_grid({("01", "a"): ["sub-01/func/a_bold.nii.gz"]}, {"mask": "epi"})  # one run: nothing to share


def test_hf5_responses_of_several_subjects():
    """Plan with the authors' .hf5 responses of 2 subjects: ConfigError naming dataset.profile.responses."""
    runs = {("UTS01", "a"): ["d/UTS01/a.hf5"], ("UTS02", "a"): ["d/UTS02/a.hf5"]}
    with pytest.raises(Exception) as excinfo:
        check_shared_grid(runs, {"mask": "epi"})
    assert_input_error(excinfo, "dataset.profile.responses", r"\['UTS01', 'UTS02'\].*own cortical voxel space")
    check_shared_grid({("UTS01", "a"): ["d/UTS01/a.hf5"], ("UTS01", "b"): ["d/UTS01/b.hf5"]}, {"mask": "epi"})


def test_electrode_table_of_voxel_scores():
    """An electrode table asked of fMRI (voxel) scores: ValueError naming the dims."""
    ds = xr.Dataset({"r": (("subject", "layer", "voxel"), np.zeros((1, 2, 3)))},
                    coords={"subject": ["01"], "layer": [0, 1], "relative_depth": ("layer", [0.0, 1.0])})
    with pytest.raises(ValueError, match=r"needs channel scores \(dims \('subject', 'layer', 'voxel'\)\)"):
        electrode_table(ds)
