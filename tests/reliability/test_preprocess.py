"""Reliability of preprocessing: confounds, non-finite samples, preprocessing options, channel sets.

Each test builds one kind of damaged input (small synthetic BIDS fMRI runs written with nibabel, the
real BioSemi recording of ``../shared/data/recordings`` written into BIDS with mne-bids, or
BrainVision files exported with pybv) and asserts the outcome: an error naming the file (or config
key) and what was expected, or a documented correction, logged and recorded in the output's attrs.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError, InputError, MissingInputError
from brainalign.io.bids import locate_run
from brainalign.io.tsv import write_bids_tsv
from brainalign.preprocess.fmri import preprocess_fmri, preprocess_hf5, preprocess_run
from brainalign.encoding.settings import design_settings, solver_settings

from reliability_helpers import REPO, SHARED, assert_input_error

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
TR = 1.5
SHAPE = (8, 8, 6)
AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])
BDF = SHARED / "recordings" / "BDF_test_bdf_stim_channel.bdf"


def options(block: str, **overrides) -> dict:
    """The ``preprocess.<block>`` options the workflow passes: config/config.yaml validated against
    the schema (defaults filled in), with ``overrides``."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.setdefault("preprocess", {}).setdefault(block, {}).update(overrides)
    validate(config, str(SCHEMA))
    return copy.deepcopy(config["preprocess"][block])


# ------------------------------------------------------------------------------------------ fMRI
def bold_tree(root: Path, *, n_vol: int = 40, confounds: bool = True, conf_edit=None, data_edit=None) -> dict:
    """A BIDS root with one raw and one fMRIPrep BOLD run (sub-01, task-story) and a mask image.

    The confounds file is fMRIPrep-like: motion, WM/CSF, derivatives whose first row is n/a, cosines.
    """
    rng = np.random.default_rng(0)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    raw_dir = root / "sub-01" / "func"
    der_dir = root / "derivatives" / "fmriprep" / "sub-01" / "func"
    raw_dir.mkdir(parents=True)
    der_dir.mkdir(parents=True)
    data = (rng.standard_normal(SHAPE + (n_vol,)) + 100.0).astype(np.float32)
    if data_edit is not None:
        data_edit(data)
    img = nib.Nifti1Image(data, AFFINE)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = TR
    nib.save(img, raw_dir / "sub-01_task-story_bold.nii.gz")
    (raw_dir / "sub-01_task-story_bold.json").write_text(json.dumps({"RepetitionTime": TR}))
    bold = der_dir / "sub-01_task-story_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
    nib.save(img, bold)
    (der_dir / (bold.name.replace(".nii.gz", ".json"))).write_text(json.dumps({"RepetitionTime": TR}))
    conf = pd.DataFrame({c: rng.standard_normal(n_vol) for c in
                         ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "white_matter", "csf"]})
    conf["trans_x_derivative1"] = np.r_[np.nan, np.diff(conf["trans_x"])]
    for k in range(2):
        conf[f"cosine{k:02d}"] = np.cos(np.pi * (np.arange(n_vol) + 0.5) * (k + 1) / n_vol)
    if conf_edit is not None:
        conf = conf_edit(conf)
    conf_path = der_dir / "sub-01_task-story_desc-confounds_timeseries.tsv"
    if confounds:
        write_bids_tsv(conf, conf_path)
    mask = root / "mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones(SHAPE, np.int8), AFFINE), mask)
    return {"root": root, "bold": bold, "confounds": conf_path, "mask": str(mask), "data": data}


def test_missing_confounds_file(tmp_path):
    """An fMRIPrep run without its confounds file: MissingInputError naming the BOLD file, the folders
    searched and the strategy keys that need it; strategy {} with a Butterworth high_pass runs."""
    tree = bold_tree(tmp_path, confounds=False)
    run = locate_run(tree["root"], "01", "story", "fmri")
    assert run["confounds"] is None
    with pytest.raises(MissingInputError) as excinfo:
        preprocess_run(run, options=options("fmri", mask=tree["mask"]))
    assert_input_error(excinfo, tree["bold"].name, r"no fMRIPrep confounds file",
                       r"looked for \*_desc-confounds_timeseries\.tsv / \*_desc-confounds_regressors\.tsv in ",
                       str(tree["bold"].parent), str(tmp_path / "sub-01" / "func"),
                       r"key\(s\) motion, wm_csf, high_pass", r"strategy: \{\}")
    # the strategy that needs no confounds file: no regression, a Butterworth high-pass instead
    out = preprocess_run(run, options=options("fmri", mask=tree["mask"], strategy={}, high_pass=0.01))
    assert "confounds" not in out.attrs and out.attrs["high_pass"] == 0.01
    assert np.isfinite(out.values).all()


def test_confounds_na_inside_a_column(tmp_path):
    """An n/a in the middle of a confounds column (not fMRIPrep's leading n/a): an error naming the
    file, the column and the line; the leading n/a of a derivative column is filled (the mean)."""
    def damage(conf):
        conf.loc[17, "white_matter"] = np.nan
        return conf

    tree = bold_tree(tmp_path, conf_edit=damage)
    run = locate_run(tree["root"], "01", "story", "fmri")
    with pytest.raises(InputError) as excinfo:
        preprocess_run(run, options=options("fmri", mask=tree["mask"]))
    assert_input_error(excinfo, tree["confounds"].name, r"column 'white_matter', line 19",
                       r"missing value \(n/a\) after the column's first value")
    out = preprocess_run(run, options=options("fmri", mask=tree["mask"],
                                              strategy={"extra": ["trans_x_derivative1"]}))
    assert out.attrs["confounds"] == ["trans_x_derivative1"] and np.isfinite(out.values).all()


def test_confounds_quoted_value_read_as_bids(tmp_path):
    """A double quote inside a confounds value (BIDS TSV has no quoting): read as text, so the
    column is named as not numeric rather than pandas swallowing rows."""
    tree = bold_tree(tmp_path)
    lines = tree["confounds"].read_text().splitlines()
    fields = lines[5].split("\t")
    fields[0] = '"0.1'
    lines[5] = "\t".join(fields)
    tree["confounds"].write_text("\n".join(lines) + "\n")
    run = locate_run(tree["root"], "01", "story", "fmri")
    with pytest.raises(InputError) as excinfo:
        preprocess_run(run, options=options("fmri", mask=tree["mask"]))
    assert_input_error(excinfo, tree["confounds"].name, r"'\"0\.1' is not a number", r"column 'trans_x', line 6")


def test_confounds_row_count_differs_from_volumes(tmp_path):
    """A confounds file with fewer rows than the run has volumes: an error naming the file and both counts."""
    tree = bold_tree(tmp_path, conf_edit=lambda conf: conf.iloc[:-3])
    run = locate_run(tree["root"], "01", "story", "fmri")
    with pytest.raises(InputError) as excinfo:
        preprocess_run(run, options=options("fmri", mask=tree["mask"]))
    assert_input_error(excinfo, tree["confounds"].name, r"37 rows of confounds but the run has 40 volumes")


def test_cosine_high_pass_without_cosine_columns(tmp_path):
    """strategy high_pass: true but the confounds file has no cosine* columns: an error naming the
    file and the Butterworth alternative, never a run silently left without a high-pass."""
    tree = bold_tree(tmp_path, conf_edit=lambda conf: conf.drop(columns=["cosine00", "cosine01"]))
    run = locate_run(tree["root"], "01", "story", "fmri")
    with pytest.raises(InputError) as excinfo:
        preprocess_run(run, options=options("fmri", mask=tree["mask"]))
    assert_input_error(excinfo, tree["confounds"].name, r"cosine\* drift regressors, but the file has none",
                       r"preprocess\.fmri\.high_pass")


def test_unknown_confound_strategy_key():
    """A misspelled strategy key given to the library directly (the schema catches it in the workflow)."""
    with pytest.raises(ConfigError) as excinfo:
        preprocess_fmri("unused.nii.gz", confounds=pd.DataFrame({"trans_x": [0.0]}), strategy={"motoin": "basic"})
    assert_input_error(excinfo, "preprocess.fmri.strategy", r"unknown key\(s\) \['motoin'\]")


def test_nan_and_inf_in_bold(tmp_path):
    """NaN and inf in BOLD voxels: an error naming the file, the voxel count and the volumes (times);
    with nonfinite: interpolate, filled in time (no spike), a mostly-NaN voxel set to 0, all recorded."""
    def damage(data):
        data[2, 3, 1, 10] = np.nan          # one volume of one voxel
        data[4, 4, 4, 20:22] = np.inf       # two volumes of another
        data[5, 5, 2, :30] = np.nan         # 75% of a third: beyond the 10% default

    tree = bold_tree(tmp_path, data_edit=damage)
    run = locate_run(tree["root"], "01", "story", "fmri")
    with pytest.raises(InputError) as excinfo:
        preprocess_run(run, options=options("fmri", mask=tree["mask"], drop_initial_trs=2))
    assert_input_error(excinfo, tree["bold"].name, r"31 non-finite value\(s\) \(29 NaN, 2 inf\) in 3 of 384 voxel",
                       r"ijk \(2,3,1\)", r"at 28 of 38 volume", r"volumes 2-29 \(t = 3\.75-44\.25 s\)", r"nonfinite to 'interpolate'")
    out = preprocess_run(run, options=options("fmri", mask=tree["mask"], drop_initial_trs=0, nonfinite="interpolate"))
    assert np.isfinite(out.values).all()
    assert out.attrs["nonfinite"] == "interpolate" and out.attrs["nonfinite_values"] == 33
    assert out.attrs["nonfinite_interpolated"] == ["ijk (2,3,1)", "ijk (4,4,4)"]
    assert out.attrs["nonfinite_zeroed"] == ["ijk (5,5,2)"]
    flat = np.ravel_multi_index((5, 5, 2), SHAPE)
    assert (out.values[:, flat] == 0).all()
    # the repaired sample is no outlier (nilearn's masker would have set it to 0, ~100 below the voxel's values)
    assert abs(out.values[10, np.ravel_multi_index((2, 3, 1), SHAPE)]) < 4


def test_nan_in_hf5_responses(tmp_path):
    """NaN in LeBel et al.'s .hf5 responses (once silently np.nan_to_num'd): an error naming the file,
    the voxel count and the rows; interpolated when configured, recorded in attrs."""
    import h5py

    data = np.random.default_rng(1).standard_normal((30, 12)) + 5.0
    data[7, 4] = np.nan
    data[:, 9] = np.nan  # a voxel the authors left undefined
    path = tmp_path / "UTS01" / "story.hf5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data)
    run = {"bold": str(path)}
    profile = with_defaults("dataset.profile", {"hf5": {"tr": 2.0}})
    with pytest.raises(InputError) as excinfo:
        preprocess_run(run, options=options("fmri"), profile=profile)
    assert_input_error(excinfo, "story.hf5", r"31 non-finite value\(s\) \(31 NaN, 0 inf\) in 2 of 12 voxel",
                       r"rows 0-29 \(t = 21-79 s\)")
    out = preprocess_run(run, options=options("fmri", nonfinite="interpolate"), profile=profile)
    assert out.attrs["nonfinite_interpolated"] == ["4"] and out.attrs["nonfinite_zeroed"] == ["9"]
    assert np.isfinite(out.values).all() and (out.values[:, 9] == 0).all()
    direct = preprocess_hf5(path, tr=2.0, standardize=False, nonfinite="interpolate")
    assert direct.values[7, 4] == pytest.approx((data[6, 4] + data[8, 4]) / 2, rel=1e-6)


# ------------------------------------------------------------------------------------- MEG/EEG/iEEG
needs_shared = pytest.mark.skipif(not BDF.exists(), reason="shared recordings not available")


def eeg_bids(root: Path, subject: str, story: str, *, nan=None, bad=None) -> "mne_bids.BIDSPath":  # noqa: F821
    """The real BioSemi recording (3 EEG channels, 500 Hz, 10 s) as a BIDS BrainVision run, optionally
    with non-finite samples ``nan(data)`` and channels marked bad in channels.tsv."""
    import mne
    import mne_bids

    raw = mne.io.read_raw(BDF, preload=True, verbose="error").pick("eeg")
    raw.set_montage("standard_1020", verbose="error")
    raw.info["line_freq"] = 50.0
    if nan is not None:
        nan(raw._data)
    src = root / "src" / f"{subject}_{story}.vhdr"
    src.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(src, raw, fmt="brainvision", overwrite=True, verbose="error")
    path = mne_bids.BIDSPath(subject=subject, task=story, datatype="eeg", root=root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(mne.io.read_raw(src, verbose="error"), path, overwrite=True, verbose="error",
                                allow_preload=False)
        if bad:
            mne_bids.mark_channels(path, ch_names=bad, status="bad", verbose="error")
    return path.copy().update(suffix="eeg", extension=".vhdr")


@needs_shared
def test_nan_and_inf_in_eeg_samples(tmp_path):
    """NaN/inf samples in a BrainVision EEG file: an error naming the file, the channels and the sample
    times before any filter spreads them; interpolated when configured (recorded), and a channel
    mostly NaN dropped."""
    from brainalign.preprocess.meeg import preprocess_meeg

    def damage(data):
        data[1, 2000] = np.nan
        data[2, 3000:3004] = np.inf

    path = eeg_bids(tmp_path, "01", "story", nan=damage)
    opts = options("meeg", reference=None)
    with pytest.raises(InputError) as excinfo:
        preprocess_meeg(path, **opts)
    assert_input_error(excinfo, "sub-01_task-story_eeg.vhdr", r"5 non-finite value\(s\) \(1 NaN, 4 inf\) in 2 of 3 "
                       r"channel\(s\) \[C4, Cz\]", r"samples 2000, 3000-3003 \(t = 4 s, 6-6\.006 s\)",
                       r"preprocess\.meeg\.nonfinite to 'interpolate' / 'mark'")
    out = preprocess_meeg(path, **options("meeg", reference=None, nonfinite="interpolate"))
    assert np.isfinite(out.values).all() and out.channel.values.tolist() == ["C3", "C4", "Cz"]
    assert out.attrs["nonfinite_interpolated"] == ["C4", "Cz"] and out.attrs["nonfinite_values"] == 5

    mostly = eeg_bids(tmp_path, "02", "story", nan=lambda d: d.__setitem__((0, slice(0, 4000)), np.nan))
    out = preprocess_meeg(mostly, **options("meeg", reference=None, nonfinite="interpolate"))
    assert out.channel.values.tolist() == ["C4", "Cz"] and out.attrs["nonfinite_dropped"] == ["C3"]


@needs_shared
def test_nan_eeg_samples_marked_bad(tmp_path):
    """NaN samples with nonfinite: mark: annotated BAD_nonfinite, NaN in the output like BAD segments,
    and the encoder leaves out the words whose window touches them (recorded in the scores)."""
    from brainalign.encoding import encode_dataset
    from brainalign.preprocess.meeg import preprocess_meeg

    path = eeg_bids(tmp_path, "01", "a", nan=lambda d: d.__setitem__((1, slice(2500, 2510)), np.nan))
    marked = preprocess_meeg(path, **options("meeg", reference=None, nonfinite="mark", resample=50.0, h_freq=20.0))
    nan_rows = np.flatnonzero(np.isnan(marked.values).any(axis=1))
    assert nan_rows.size and marked.time.values[nan_rows].min() <= 5.0 <= marked.time.values[nan_rows].max() + 0.02
    assert marked.attrs["nonfinite"] == "mark" and marked.attrs["nonfinite_marked_samples"] == 10
    clean = preprocess_meeg(eeg_bids(tmp_path, "01", "b"), **options("meeg", reference=None, resample=50.0))
    rng = np.random.default_rng(0)
    onsets = np.arange(0.5, 9.0, 0.4)
    feats = {s: xr.Dataset({"hidden": (("word", "layer", "feature"), rng.standard_normal((onsets.size, 2, 4)))},
                           coords={"word": np.arange(onsets.size), "onset": ("word", onsets), "layer": [0, 1]})
             for s in ("a", "b")}
    scores = encode_dataset(feats, {"01": {"a": marked, "b": clean}}, modality="eeg",
                            design=design_settings("eeg", tmin=0.0, tmax=0.2), encoding=solver_settings(alphas=[1.0, 10.0], inner_folds=2,
                                                                                        ceiling="none"))
    left_out = json.loads(scores.attrs["words_left_out_bad_samples"])
    assert set(left_out) == {"01"} and set(left_out["01"]) == {"a"} and 1 <= left_out["01"]["a"] <= 3
    assert np.isfinite(scores.r.values).all()


@needs_shared
def test_mark_needs_bad_segments_nan(tmp_path):
    """nonfinite: mark with bad_segments: keep would keep the marked samples: a ConfigError naming the key."""
    from brainalign.preprocess.meeg import preprocess_meeg

    path = eeg_bids(tmp_path, "01", "story", nan=lambda d: d.__setitem__((0, 10), np.nan))
    with pytest.raises(ConfigError) as excinfo:
        preprocess_meeg(path, **options("meeg", nonfinite="mark", bad_segments="keep"))
    assert_input_error(excinfo, "preprocess.meeg.nonfinite", r"bad_segments='keep'")


def test_nan_in_ieeg_samples(tmp_path):
    """NaN samples on an sEEG contact (FIF): an error naming the file and the contact, before bipolar
    re-referencing spreads it to two channels; marked when configured."""
    import mne

    from brainalign.preprocess.ieeg import preprocess_ieeg

    rng = np.random.default_rng(2)
    info = mne.create_info([f"LA{i}" for i in range(1, 6)], 1000.0, "seeg")
    data = rng.standard_normal((5, 8000)) * 1e-5
    data[2, 4000:4003] = np.nan
    path = tmp_path / "sub-01_task-story_ieeg_raw.fif"
    mne.io.RawArray(data, info, verbose="error").save(path, verbose="error")
    with pytest.raises(InputError) as excinfo:
        preprocess_ieeg(path, **options("ieeg", notch=None))
    assert_input_error(excinfo, path.name, r"3 non-finite value\(s\) \(3 NaN, 0 inf\) in 1 of 5 channel\(s\) \[LA3\]",
                       r"samples 4000-4002 \(t = 4-4\.002 s\)")
    out = preprocess_ieeg(path, **options("ieeg", notch=None, nonfinite="mark"))
    nan_rows = np.flatnonzero(np.isnan(out.values).any(axis=1))
    assert nan_rows.size and np.all(np.abs(out.time.values[nan_rows] - 4.0) <= 0.04)
    assert out.attrs["nonfinite_targets"] == ["LA3"]


# ------------------------------------------------------------------------------------- config keys
def test_misspelled_preprocess_key_fails_at_parse_time(tmp_path):
    """A misspelled key under preprocess.fmri: `snakemake -n` stops at parse time naming the key (it
    used to be a TypeError inside the job)."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"preprocess": {"fmri": {"drop_intial_trs": 3}}}))
    cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(bad)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "'drop_intial_trs' was unexpected" in text and "['preprocess']['fmri']" in text, text[-2000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("block,key,value,needle", [
    ("fmri", "nonfinite", "zero", r"'zero' is not one of \['error', 'interpolate'\]"),
    ("ieeg", "bad_channels", "interpolate", r"'interpolate' is not one of \['drop', 'keep'\]"),
    ("meeg", "ica", {"n_component": 0.9}, r"'n_component' was unexpected"),
    ("fmri", "strategy", {"motion": "basic", "wm_csf": "all"}, r"'all' is not one of"),
])
def test_invalid_preprocess_value(block, key, value, needle):
    """A value a preprocessing option does not take (a policy iEEG lacks, a misspelled ICA key): the
    schema rejects it naming the key."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.setdefault("preprocess", {}).setdefault(block, {})[key] = value
    with pytest.raises(Exception, match=needle) as excinfo:
        validate(config, str(SCHEMA))
    assert f"['preprocess']['{block}']['{key}']" in str(excinfo.value)


# ------------------------------------------------------------------------------------- channel sets
def _scores(recordings, **encoding):
    from brainalign.encoding import encode_dataset

    rng = np.random.default_rng(0)
    onsets = np.arange(0.5, 9.0, 0.4)
    feats = {s: xr.Dataset({"hidden": (("word", "layer", "feature"), rng.standard_normal((onsets.size, 2, 4)))},
                           coords={"word": np.arange(onsets.size), "onset": ("word", onsets), "layer": [0, 1]})
             for s in ("a", "b")}
    return encode_dataset(feats, recordings, modality="eeg", design=design_settings("eeg", tmin=0.0, tmax=0.2),
                          encoding=solver_settings(**{"alphas": [1.0, 10.0], "inner_folds": 2, "ceiling": "none", **encoding}))


@needs_shared
def test_channel_bad_in_one_story_only(tmp_path):
    """A channel marked bad in one story's channels.tsv but not the other's: by default dropped from
    all of that subject's runs (logged, recorded in the scores' attrs); an error naming the subject,
    files and channel with encoding.channels_across_runs: error."""
    from brainalign.preprocess.meeg import preprocess_meeg

    opts = options("meeg", reference=None)
    recs = {"01": {"a": preprocess_meeg(eeg_bids(tmp_path, "01", "a"), **opts),
                   "b": preprocess_meeg(eeg_bids(tmp_path, "01", "b", bad=["C4"]), **opts)}}
    assert recs["01"]["b"].channel.values.tolist() == ["C3", "Cz"]
    scores = _scores(recs)
    assert scores.channel.values.tolist() == ["C3", "Cz"]
    assert json.loads(scores.attrs["channels_dropped"]) == {"01": ["C4"]}
    assert scores.attrs["channels_across_runs"] == "drop"
    with pytest.raises(InputError) as excinfo:
        _scores(recs, channels_across_runs="error")
    assert_input_error(excinfo, "sub-01_task-b_eeg.vhdr", r"subject 01's runs kept different channels",
                       r"story b \(.*sub-01_task-b_eeg\.vhdr\) lacks \['C4'\]", r"encoding\.channels_across_runs: drop")


@needs_shared
def test_channel_sets_differ_between_subjects(tmp_path):
    """Subjects whose kept channels differ (bad in every run of one subject): an error naming the
    subjects, the channels and the options (encoding.subjects: separate fits each subject on its own
    channels); the same channels in another order are aligned by name."""
    from brainalign.preprocess.meeg import preprocess_meeg

    opts = options("meeg", reference=None)
    one = {s: preprocess_meeg(eeg_bids(tmp_path, "01", s), **opts) for s in ("a", "b")}
    two = {s: preprocess_meeg(eeg_bids(tmp_path, "02", s, bad=["Cz"]), **opts) for s in ("a", "b")}
    with pytest.raises(InputError) as excinfo:
        _scores({"01": one, "02": two})
    assert_input_error(excinfo, "sub-02_task-a_eeg.vhdr", r"subjects keep different channels \(3 for subject 01\)",
                       r"subject 02 lacks \['Cz'\]", r"bad_channels: interpolate", r"encoding\.subjects: separate")
    reordered = {s: r.isel(channel=[2, 0, 1]) for s, r in one.items()}
    scores = _scores({"01": one, "03": reordered})
    np.testing.assert_allclose(scores.r.sel(subject="03").values, scores.r.sel(subject="01").values, atol=1e-5)
