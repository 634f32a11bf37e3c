"""Per-run fMRI QC against known answers: tSNR, framewise displacement, the run the encoder uses
(brainalign.qc.fmri)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign.config_sections import with_defaults
from brainalign.qc.fmri import MOTION_COLUMNS, fmri_qc, framewise_displacement, tsnr
from tests.qc_runs import bold_run


# ------------------------------------------------------------------------------------------ tSNR
def test_tsnr_of_a_known_signal():
    # mean c and standard deviation a exactly: c + a * (+1, -1, +1, -1, ...)
    t = np.arange(200)
    signs = np.where(t % 2 == 0, 1.0, -1.0)
    data = np.stack([100 + 4 * signs, 50 + 10 * signs, np.full(200, 7.0)], axis=1)
    np.testing.assert_allclose(tsnr(data), [25.0, 5.0, 0.0])  # constant series: 0, not inf
    np.testing.assert_allclose(tsnr(data.T, axis=-1), [25.0, 5.0, 0.0])


def test_tsnr_of_gaussian_noise_approaches_mean_over_sd():
    rng = np.random.default_rng(0)
    data = 1000 + 20 * rng.standard_normal((20000, 4))
    np.testing.assert_allclose(tsnr(data), 50.0, rtol=0.02)


# ------------------------------------------------------------------------------------------- FD
def test_framewise_displacement_power_2012():
    motion = np.zeros((4, 6))
    motion[1] = [0.1, 0.0, 0.0, 0.0, 0.0, 0.002]       # 0.1 mm + 0.002 rad * 50 mm = 0.2 mm
    motion[2] = [0.1, -0.3, 0.0, 0.001, 0.0, 0.0]      # 0.3 + 0.001*50 + 0.002*50 = 0.45 mm
    motion[3] = [0.1, -0.3, 0.0, 0.001, 0.0, 0.0]      # no change: 0
    np.testing.assert_allclose(framewise_displacement(motion), [0.0, 0.2, 0.45, 0.0])
    # another radius scales the rotations only
    np.testing.assert_allclose(framewise_displacement(motion, radius=80.0), [0.0, 0.26, 0.54, 0.0])


def test_framewise_displacement_reads_fmriprep_columns_in_any_order():
    rng = np.random.default_rng(1)
    values = rng.normal(0, 0.05, (30, 6))
    table = pd.DataFrame(values, columns=MOTION_COLUMNS)[list(reversed(MOTION_COLUMNS))]
    table["csf"] = 1.0
    expected = np.r_[0, (np.abs(np.diff(values[:, :3], axis=0)).sum(1)
                         + 50 * np.abs(np.diff(values[:, 3:], axis=0)).sum(1))]
    np.testing.assert_allclose(framewise_displacement(table), expected)
    with pytest.raises(ValueError, match="rot_z"):
        framewise_displacement(table.drop(columns="rot_z"))


# --------------------------------------------------------------------------------- fMRI run QC
def test_fmri_qc_measures_the_run_the_encoder_uses(tmp_path):
    run, motion, preproc, drop = bold_run(tmp_path)
    strategy = {"motion": "basic", "wm_csf": "basic", "high_pass": False}
    qc = fmri_qc(run, with_defaults("preprocess.fmri", {"drop_initial_trs": drop, "strategy": strategy}), preproc)
    # retained volumes 3..39: an odd count, so the +-1 pattern is no longer exactly balanced
    kept = np.where(np.arange(drop, 40) % 2 == 0, 1.0, -1.0)
    expected = [(101 + 3 * kept).mean() / (101 + 3 * kept).std(), (101 + 3 * kept).mean() / (101 + 3 * kept).std(),
                (104 + 6 * kept).mean() / (104 + 6 * kept).std()]
    np.testing.assert_allclose(qc.tsnr_values, expected, rtol=1e-5)
    assert qc.tsnr_map.shape == (6, 6, 4) and qc.tsnr_map[5].max() == 0  # no signal: 0
    np.testing.assert_allclose(qc.fd, framewise_displacement(motion))
    assert list(qc.kept) == list(range(drop, 40))
    # the strategy's columns, exactly (global_signal not asked for)
    assert list(qc.confounds.columns) == [*MOTION_COLUMNS, "white_matter", "csf"]
    assert len(qc.confounds) == 40 - drop
    assert qc.carpet.shape == (3, 40 - drop)
    np.testing.assert_allclose(qc.carpet.std(axis=1), 1.0, rtol=1e-5)
    row = qc.summary()
    assert row["n_volumes"] == 37 and row["n_confounds"] == 8
    assert row["fd_max_mm"] == pytest.approx(qc.fd[drop:].max(), abs=1e-4)


def test_fmri_qc_without_confounds_says_so(tmp_path):
    run, _, preproc, drop = bold_run(tmp_path)
    qc = fmri_qc({"bold": run["bold"], "confounds": None}, with_defaults("preprocess.fmri", {"drop_initial_trs": drop, "strategy": {}}), preproc)
    assert qc.fd is None and qc.confounds.shape[1] == 0
    assert any("no confounds file" in n for n in qc.notes)
    assert np.isnan(qc.summary()["fd_mean_mm"])


def test_fmri_qc_of_surface_runs_and_preprocessed_responses(tmp_path):
    from brainalign.plotting.qc import plot_carpet, plot_tsnr

    n_vol, n_vert = 20, 30
    signs = np.where(np.arange(n_vol) % 2 == 0, 1.0, -1.0)
    paths = []
    for hemi, mean in (("L", 200.0), ("R", 100.0)):
        img = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(np.full(n_vert, mean + 2 * s, np.float32))
                                            for s in signs])
        paths.append(tmp_path / f"sub-01_task-x_hemi-{hemi}_space-fsaverage5_bold.func.gii")
        nib.save(img, paths[-1])
    preproc = xr.DataArray(np.zeros((n_vol, 2 * n_vert)), dims=("time", "voxel"), attrs={"tr": 1.5})
    qc = fmri_qc({"bold": paths, "confounds": None}, with_defaults("preprocess.fmri", {"strategy": {}}), preproc)
    assert qc.tsnr_map is None and qc.tsnr_values.shape == (2 * n_vert,)
    np.testing.assert_allclose(qc.tsnr_values, np.r_[np.full(n_vert, 100.0), np.full(n_vert, 50.0)], rtol=1e-6)
    assert any("surface" in n for n in qc.notes)
    plot_tsnr(qc, tmp_path / "surface_tsnr.png")  # a histogram, no volume map
    # preprocessed responses (LeBel et al. 2023 .hf5): no raw BOLD, so no tSNR, and the figures say so
    hf5 = fmri_qc({"bold": tmp_path / "UTS01_story.hf5", "confounds": None}, with_defaults("preprocess.fmri", {"strategy": {}}),
                  preproc + np.random.default_rng(0).standard_normal(preproc.shape))
    assert hf5.tsnr_values.size == 0 and any("no raw BOLD" in n for n in hf5.notes)
    assert np.isnan(hf5.summary()["tsnr_median"])
    assert plot_tsnr(hf5, tmp_path / "hf5_tsnr.png").exists() and plot_carpet(hf5, tmp_path / "hf5_carpet.png").exists()


def test_fmri_qc_without_motion_columns_and_with_atlas_targets(tmp_path):
    run, _, preproc, drop = bold_run(tmp_path)
    table = pd.read_csv(run["confounds"], sep="\t").drop(columns=list(MOTION_COLUMNS))
    table.to_csv(run["confounds"], sep="\t", index=False)
    parcels = preproc.assign_coords(region=("voxel", ["a", "b", "c"]))  # atlas targets: parcel means
    qc = fmri_qc(run, with_defaults("preprocess.fmri", {"drop_initial_trs": drop, "strategy": {"wm_csf": "basic"}}), parcels)
    assert qc.fd is None and any("no motion parameters" in n for n in qc.notes)
    assert list(qc.confounds.columns) == ["white_matter", "csf"]
    # every voxel with signal (x < 5: 5 * 6 * 4 voxels) stands in for the parcels
    assert qc.tsnr_values.shape == (120,) and any("atlas" in n for n in qc.notes)
    # a strategy that needs the missing columns fails as preprocessing does, naming the file
    with pytest.raises(ValueError, match=r"desc-confounds_timeseries\.tsv: confound column 'trans_x'"):
        fmri_qc(run, with_defaults("preprocess.fmri", {"drop_initial_trs": drop, "strategy": {"motion": "basic"}}), preproc)
