"""Per-run QC (brainalign.qc) against known answers, and its figures (brainalign.plotting.qc)."""

from __future__ import annotations

import json

import mne
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign.errors import InputError
from brainalign.preprocess.ieeg import preprocess_ieeg
from brainalign.preprocess.meeg import preprocess_meeg
from brainalign.qc.fmri import MOTION_COLUMNS, fmri_qc, framewise_displacement, tsnr
from brainalign.qc.meeg import bad_segments, meeg_qc, psd, removed_components
from brainalign.qc.tables import read_table, write_table_html


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
def _bold_run(tmp_path, n_vol=40):
    """A 6x6x4 BOLD run: voxel (i, j, k) has mean 100 + i and SD 1 + j (exactly), zero outside x<5."""
    rng = np.random.default_rng(2)
    signs = np.where(np.arange(n_vol) % 2 == 0, 1.0, -1.0)
    data = np.zeros((6, 6, 4, n_vol), np.float32)
    for i in range(5):
        for j in range(6):
            data[i, j, :, :] = 100 + i + (1 + j) * signs
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = [-9, -9, -6]
    path = tmp_path / "sub-01_task-x_bold.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    motion = rng.normal(0, 0.02, (n_vol, 6))
    conf = pd.DataFrame(motion, columns=MOTION_COLUMNS)
    conf["white_matter"] = rng.normal(size=n_vol)
    conf["csf"] = rng.normal(size=n_vol)
    conf["global_signal"] = rng.normal(size=n_vol)
    conf_path = tmp_path / "sub-01_task-x_desc-confounds_timeseries.tsv"
    conf.to_csv(conf_path, sep="\t", index=False)
    # the encoder's targets: voxels (1, 2, k) and (4, 5, k)
    ijk = np.array([[1, 2, 0], [1, 2, 3], [4, 5, 1]])
    xyz = nib.affines.apply_affine(affine, ijk)
    drop = 3
    preproc = xr.DataArray(np.zeros((n_vol - drop, 3), np.float32), dims=("time", "voxel"),
                           coords={"x": ("voxel", xyz[:, 0]), "y": ("voxel", xyz[:, 1]), "z": ("voxel", xyz[:, 2])},
                           attrs={"tr": 2.0})
    return {"bold": path, "confounds": conf_path}, motion, preproc, drop


def test_fmri_qc_measures_the_run_the_encoder_uses(tmp_path):
    run, motion, preproc, drop = _bold_run(tmp_path)
    strategy = {"motion": "basic", "wm_csf": "basic", "high_pass": False}
    qc = fmri_qc(run, {"drop_initial_trs": drop, "strategy": strategy}, preproc)
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
    run, _, preproc, drop = _bold_run(tmp_path)
    qc = fmri_qc({"bold": run["bold"], "confounds": None}, {"drop_initial_trs": drop, "strategy": {}}, preproc)
    assert qc.fd is None and qc.confounds.shape[1] == 0
    assert any("no confounds file" in n for n in qc.notes)
    assert np.isnan(qc.summary()["fd_mean_mm"])


# ------------------------------------------------------------------------------------ MEG/EEG QC
SFREQ = 500.0


def _eeg_raw(duration=30.0, line=True, bads=(), annotations=()):
    """EEG with a 6 Hz and a 30 Hz sine on every channel (+ 50 Hz line noise), standard positions."""
    names = ["Fz", "Cz", "Pz", "C3", "C4", "Oz"]
    t = np.arange(int(duration * SFREQ)) / SFREQ
    rng = np.random.default_rng(3)
    signal = np.sin(2 * np.pi * 6 * t) + np.sin(2 * np.pi * 30 * t) + (2 * np.sin(2 * np.pi * 50 * t) if line else 0)
    data = 1e-5 * (signal + 0.05 * rng.standard_normal((len(names), t.size)))
    info = mne.create_info(names, SFREQ, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_montage("standard_1020", verbose="error")
    with raw.info._unlock():
        raw.info["line_freq"] = 50.0
    raw.info["bads"] = list(bads)
    for onset, dur in annotations:
        raw.annotations.append(onset, dur, "BAD_muscle")
    return raw


def _power_at(freqs, power, f):
    return float(power.mean(axis=0)[np.argmin(np.abs(freqs - f))])


def test_psd_shows_the_notch():
    raw = _eeg_raw()
    options = {"l_freq": 1.0, "h_freq": None, "notch": "auto", "resample": None, "reference": None}
    out = preprocess_meeg(raw.copy(), **options)
    qc = meeg_qc(raw, out, options, "eeg")
    assert 50.0 in qc.marks["notch"]
    before = _power_at(qc.freqs_before, qc.psd_before, 50) / _power_at(qc.freqs_before, qc.psd_before, 6)
    after = _power_at(qc.freqs_after, qc.psd_after, 50) / _power_at(qc.freqs_after, qc.psd_after, 6)
    assert 10 * np.log10(before) > 0  # line noise stronger than the 6 Hz signal as recorded
    assert 10 * np.log10(before / after) > 20  # the notch took > 20 dB off it
    # the 30 Hz component, in the pass band and away from the notch, keeps its power relative to 6 Hz
    r30 = [_power_at(f, p, 30) / _power_at(f, p, 6) for f, p in ((qc.freqs_before, qc.psd_before),
                                                               (qc.freqs_after, qc.psd_after))]
    assert abs(10 * np.log10(r30[0] / r30[1])) < 1.0


def test_psd_shows_the_low_pass_and_resampling():
    raw = _eeg_raw(line=False)
    options = {"l_freq": 0.5, "h_freq": 15.0, "notch": "auto", "resample": 100.0, "reference": "average"}
    out = preprocess_meeg(raw.copy(), **options)
    qc = meeg_qc(raw, out, options, "eeg")
    assert qc.freqs_after[-1] == pytest.approx(50.0)  # Nyquist of the 100 Hz output
    assert qc.marks["notch"] == []  # 50 Hz lies above the low-pass: the band-pass removes it
    before = _power_at(qc.freqs_before, qc.psd_before, 30) / _power_at(qc.freqs_before, qc.psd_before, 6)
    after = _power_at(qc.freqs_after, qc.psd_after, 30) / _power_at(qc.freqs_after, qc.psd_after, 6)
    assert 10 * np.log10(before / after) > 30


def test_bad_channels_segments_and_components():
    raw = _eeg_raw(bads=["Oz"], annotations=[(5.0, 2.0), (20.0, 0.5)])
    options = {"l_freq": 1.0, "h_freq": 20.0, "notch": "auto", "resample": 100.0, "reference": "average"}
    out = preprocess_meeg(raw.copy(), **options)
    qc = meeg_qc(raw, out, options, "eeg")
    assert qc.bads == ["Oz"] and "Oz" not in qc.channels_after and "Oz" not in qc.channels_before
    assert list(qc.segments["duration"]) == [2.0, 0.5]
    assert qc.n_bad_samples > 0
    row = qc.summary()
    assert row["bad_channels"] == "Oz" and row["n_bad_segments"] == 2 and row["bad_seconds"] == 2.5
    assert row["n_channels_recorded"] == 5 and row["n_channels_kept"] == 5
    assert row["ica_removed"] == ""


def test_removed_components_from_steps():
    steps = ["reference:average", "ssp_eog:2", "ica:[0, 3]", "filter:0.1-20.0"]
    assert removed_components(steps) == {"ssp_eog": [2], "ica": [0, 3]}
    assert removed_components(["ica:[]"]) == {"ica": []}
    assert removed_components([]) == {}


def test_bad_segments_only_bad_annotations():
    ann = mne.Annotations([1.0, 2.0, 3.0], [0.5, 1.0, 0.2], ["BAD_jump", "word", "bad_blink"])
    table = bad_segments(ann)
    assert list(table["description"]) == ["BAD_jump", "bad_blink"]


def test_psd_ignores_nan_samples():
    t = np.arange(5000) / 100.0
    x = np.sin(2 * np.pi * 10 * t)[None, :].repeat(2, axis=0)
    x[:, 1000:1200] = np.nan
    freqs, power = psd(x, 100.0)
    assert np.isfinite(power).all() and freqs[np.argmax(power[0])] == pytest.approx(10.0, abs=0.3)
    with pytest.raises(ValueError, match="too few"):
        psd(np.full((1, 100), np.nan), 100.0)


def test_ieeg_qc_marks_the_high_gamma_band():
    names = [f"G{i}" for i in range(1, 5)]
    sfreq = 1000.0
    t = np.arange(int(20 * sfreq)) / sfreq
    rng = np.random.default_rng(4)
    data = 1e-5 * (rng.standard_normal((4, t.size)) + np.sin(2 * np.pi * 60 * t))
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "ecog"), verbose="error")
    with raw.info._unlock():
        raw.info["line_freq"] = 60.0
    options = {"reference": None, "band": [70.0, 150.0], "notch": "auto", "resample": 50.0}
    out = preprocess_ieeg(raw.copy(), **options)
    qc = meeg_qc(raw, out, options, "ieeg")
    assert qc.marks["band"] == [70.0, 150.0]
    assert qc.marks["notch"] == [120.0]  # only the harmonics inside the band (+-5 Hz) are notched
    assert qc.marks["l_freq"] is None and qc.marks["h_freq"] is None
    assert qc.freqs_after[-1] == pytest.approx(25.0)


# ---------------------------------------------------------------------------------------- tables
def test_tables_render_tsv_and_json(tmp_path):
    tsv = tmp_path / "best_layers.tsv"
    pd.DataFrame({"region": ["middle", "early"], "layer": [15, 3], "score": [0.2345678, np.nan]}).to_csv(
        tsv, sep="\t", index=False, na_rep="n/a")
    blank = tmp_path / "blank.tsv"
    blank.write_text("subject\tregion\tlayer\n01\tmiddle\t16\n02\tnoise\t\n")  # a missing value left blank
    blank_table = read_table([blank])
    assert list(blank_table["subject"]) == ["01", "02"]  # labels stay labels
    assert blank_table["layer"].dtype.kind == "f" and np.isnan(blank_table["layer"][1])
    out = write_table_html([tsv], tmp_path / "t.html", "Best layers")
    text = out.read_text()
    assert "<th class=\"text\">region</th>" in text and "0.2346" in text and "n/a" in text and "2 rows" in text
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"model": "tiny", "accuracy": 0.61, "isolated": {"n": 3, "accuracy": 0.5}, "items": [1, 2],
                                   "calibration": {"spearman_rho": 0.25, "pointbiserial_r": 0.3}}))
    table = read_table([summary, summary], labels=[{"model": "a"}, {"model": "b"}])
    assert list(table.columns) == ["model", "accuracy", "isolated.n", "isolated.accuracy", "calibration.spearman_rho",
                                   "calibration.pointbiserial_r"]
    assert list(table["model"]) == ["a", "b"]  # the label, not the file's own `model` field
    out = write_table_html([summary], tmp_path / "s.html", "BB", labels=[{"model": "a"}],
                           prefer=["accuracy", "nothing_here", "calibration."])
    assert "isolated.n" not in out.read_text() and "0.61" in out.read_text()
    assert "calibration.spearman_rho" in out.read_text() and "calibration.pointbiserial_r" in out.read_text()
    with pytest.raises(InputError, match="nothing_here"):
        write_table_html([tsv], tmp_path / "x.html", "x", columns=["region", "nothing_here"])


# ----------------------------------------------------------------------------------- figures
def test_qc_figures_are_drawn(tmp_path):
    from brainalign.plotting.qc import plot_bads, plot_carpet, plot_motion_confounds, plot_psd, plot_tsnr

    run, _, preproc, drop = _bold_run(tmp_path)
    qc = fmri_qc(run, {"drop_initial_trs": drop, "strategy": {"motion": "basic", "wm_csf": "basic"}}, preproc)
    bare = fmri_qc({"bold": run["bold"], "confounds": None}, {"strategy": {}}, preproc)
    raw = _eeg_raw(bads=["Oz"], annotations=[(5.0, 2.0)])
    options = {"l_freq": 1.0, "h_freq": 20.0, "resample": 100.0}
    mqc = meeg_qc(raw, preprocess_meeg(raw.copy(), **options), options, "eeg")
    paths = [plot_tsnr(qc, tmp_path / "tsnr.png"), plot_motion_confounds(qc, tmp_path / "motion.png"),
             plot_carpet(qc, tmp_path / "carpet.png"), plot_motion_confounds(bare, tmp_path / "bare.png"),
             plot_carpet(bare, tmp_path / "bare_carpet.svg"), plot_psd(mqc, tmp_path / "psd.png"),
             plot_bads(mqc, tmp_path / "bads.png")]
    for path in paths:
        assert path.exists() and path.stat().st_size > 5000, path


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
    qc = fmri_qc({"bold": paths, "confounds": None}, {"strategy": {}}, preproc)
    assert qc.tsnr_map is None and qc.tsnr_values.shape == (2 * n_vert,)
    np.testing.assert_allclose(qc.tsnr_values, np.r_[np.full(n_vert, 100.0), np.full(n_vert, 50.0)], rtol=1e-6)
    assert any("surface" in n for n in qc.notes)
    plot_tsnr(qc, tmp_path / "surface_tsnr.png")  # a histogram, no volume map
    # preprocessed responses (LeBel et al. 2023 .hf5): no raw BOLD, so no tSNR, and the figures say so
    hf5 = fmri_qc({"bold": tmp_path / "UTS01_story.hf5", "confounds": None}, {"strategy": {}},
                  preproc + np.random.default_rng(0).standard_normal(preproc.shape))
    assert hf5.tsnr_values.size == 0 and any("no raw BOLD" in n for n in hf5.notes)
    assert np.isnan(hf5.summary()["tsnr_median"])
    assert plot_tsnr(hf5, tmp_path / "hf5_tsnr.png").exists() and plot_carpet(hf5, tmp_path / "hf5_carpet.png").exists()


def test_fmri_qc_without_motion_columns_and_with_atlas_targets(tmp_path):
    run, _, preproc, drop = _bold_run(tmp_path)
    table = pd.read_csv(run["confounds"], sep="\t").drop(columns=list(MOTION_COLUMNS))
    table.to_csv(run["confounds"], sep="\t", index=False)
    parcels = preproc.assign_coords(region=("voxel", ["a", "b", "c"]))  # atlas targets: parcel means
    qc = fmri_qc(run, {"drop_initial_trs": drop, "strategy": {"wm_csf": "basic"}}, parcels)
    assert qc.fd is None and any("no motion parameters" in n for n in qc.notes)
    assert list(qc.confounds.columns) == ["white_matter", "csf"]
    # every voxel with signal (x < 5: 5 * 6 * 4 voxels) stands in for the parcels
    assert qc.tsnr_values.shape == (120,) and any("atlas" in n for n in qc.notes)
    # a strategy that needs the missing columns fails as preprocessing does, naming the file
    with pytest.raises(ValueError, match=r"desc-confounds_timeseries\.tsv: confound column 'trans_x'"):
        fmri_qc(run, {"drop_initial_trs": drop, "strategy": {"motion": "basic"}}, preproc)
