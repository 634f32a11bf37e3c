"""fMRI preprocessing on synthetic runs with planted signals and confounds."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainalign.errors import InputError

from brainalign.io.tr import resolve_tr
from brainalign.preprocess.fmri import confound_columns, preprocess_fmri

TR = 1.5
AFFINE = np.array([[6.0, 0, 0, -90], [0, 6, 0, -126], [0, 0, 6, -72], [0, 0, 0, 1]])
SHAPE = (31, 37, 31)


def make_run(tmp_path, n_vol=60, seed=0, tr_header=TR, tr_sidecar=TR, name="sub-01_task-pieman_bold"):
    """A 6 mm MNI-grid run: noise + a confound-driven part + a planted signal in one voxel."""
    rng = np.random.default_rng(seed)
    conf = pd.DataFrame({c: rng.standard_normal(n_vol) for c in
                         ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "white_matter", "csf",
                          "global_signal", "a_comp_cor_00", "a_comp_cor_01", "framewise_displacement"]})
    conf["trans_x_derivative1"] = np.r_[np.nan, np.diff(conf["trans_x"])]
    data = rng.standard_normal(SHAPE + (n_vol,)).astype(np.float32)
    data[4:27, 4:33, 4:27] += 100.0  # a bright "brain" box, so an EPI mask can be computed
    signal = np.sin(np.arange(n_vol) / 3.0)
    planted = (15, 18, 15)  # MNI (0, -18, 18): inside the brain mask
    data[planted] += 5 * signal + 3 * conf["white_matter"].to_numpy() + 2 * conf["trans_x"].to_numpy()
    img = nib.Nifti1Image(data, AFFINE)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr_header
    bold = tmp_path / f"{name}.nii.gz"
    nib.save(img, bold)
    if tr_sidecar is not None:
        (tmp_path / f"{name}.json").write_text(json.dumps({"RepetitionTime": tr_sidecar, "TaskName": "pieman"}))
    conf_path = tmp_path / "sub-01_task-pieman_desc-confounds_timeseries.tsv"
    conf.to_csv(conf_path, sep="\t", index=False, na_rep="n/a")
    return bold, conf_path, conf, signal, planted


def strategy_cols(strategy, conf):
    return confound_columns(conf.columns, strategy)


def planted_column(out, planted):
    x, y, z = nib.affines.apply_affine(AFFINE, planted)
    hit = np.flatnonzero((out.x.values == x) & (out.y.values == y) & (out.z.values == z))
    assert len(hit) == 1
    return int(hit[0])


def test_mask_confounds_zscore_and_times(tmp_path):
    bold, conf_path, conf, signal, planted = make_run(tmp_path)
    strategy = {"motion": "basic", "wm_csf": "basic"}
    out = preprocess_fmri(bold, confounds=conf_path, strategy=strategy, drop_initial_trs=4, trim_end_trs=2)
    assert out.dims == ("time", "voxel") and out.dtype == np.float32
    assert out.sizes["time"] == 54 and 5000 < out.sizes["voxel"] < 12000  # MNI152 mask at 6 mm
    np.testing.assert_allclose(out.time.values, (np.arange(4, 58) + 0.5) * TR)
    np.testing.assert_allclose(out.mean("time").values, 0, atol=1e-5)
    np.testing.assert_allclose(out.std("time").values, 1, atol=1e-4)
    assert out.attrs["tr"] == TR and np.allclose(out.attrs["affine"], AFFINE) and out.attrs["mask_shape"] == list(SHAPE)
    assert out.attrs["confounds"] == ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "white_matter", "csf"]
    col = planted_column(out, planted)
    y = out.values[:, col].astype(float)
    kept = conf.iloc[4:58]
    # confound regression leaves the planted voxel orthogonal to every regressed confound
    for c in ["trans_x", "white_matter"]:
        cc = kept[c].to_numpy() - kept[c].mean()
        assert abs(np.corrcoef(y, cc)[0, 1]) < 1e-5
    # closed form: residual of the raw series on [1, linear trend, confounds], z-scored
    raw_ts = nib.load(bold).get_fdata()[planted][4:58]
    design = np.column_stack([np.ones(54), np.arange(54), kept[strategy_cols(strategy, conf)].to_numpy()])
    resid = raw_ts - design @ np.linalg.lstsq(design, raw_ts, rcond=None)[0]
    np.testing.assert_allclose(y, (resid - resid.mean()) / resid.std(), atol=2e-4)
    assert np.corrcoef(y, signal[4:58])[0, 1] > 0.7
    # without confound regression the confound is still there
    raw = preprocess_fmri(bold, confounds=None, strategy={}, drop_initial_trs=4, trim_end_trs=2)
    assert abs(np.corrcoef(raw.values[:, col], kept["white_matter"])[0, 1]) > 0.3


def test_output_round_trips_through_the_store(tmp_path):
    from brainalign.io.store import read_zarr, write_zarr

    bold, conf_path, *_ = make_run(tmp_path, n_vol=20)
    out = preprocess_fmri(bold, confounds=conf_path, drop_initial_trs=2, strategy={"motion": "basic"})
    back = read_zarr(write_zarr(out, tmp_path / "pieman.zarr"), load=True)["data"]
    np.testing.assert_array_equal(back.values, out.values)
    np.testing.assert_array_equal(back.time.values, out.time.values)
    np.testing.assert_array_equal(back.z.values, out.z.values)
    assert back.attrs["tr"] == TR and np.allclose(back.attrs["affine"], AFFINE)
    with pytest.raises(ValueError, match="mask=None"):
        preprocess_fmri(bold, mask=None, strategy={})


def test_tr_header_vs_sidecar_mismatch(tmp_path):
    bold, *_ = make_run(tmp_path, tr_header=2.0, tr_sidecar=1.5)
    with pytest.raises(ValueError, match=r"sub-01_task-pieman_bold.nii.gz: TR disagrees: 2 s .*header.* vs 1.5 s .*json"):
        preprocess_fmri(bold, strategy={})
    assert resolve_tr(None, None, 2.0) == 2.0
    with pytest.raises(ValueError, match="no repetition time"):
        resolve_tr(bold, None, None, sidecar=bold.with_name("nope.json"))


def test_tr_from_inherited_sidecar(tmp_path):
    (tmp_path / "dataset_description.json").write_text("{}")
    (tmp_path / "task-pieman_bold.json").write_text(json.dumps({"RepetitionTime": 2.0}))
    sub = tmp_path / "sub-01" / "func"
    sub.mkdir(parents=True)
    bold, *_ = make_run(sub, n_vol=10, tr_sidecar=None)
    with pytest.raises(ValueError, match=r"1.5 s .*header.* vs 2 s from .*task-pieman_bold.json"):
        preprocess_fmri(bold, strategy={})


def test_tr_argument_checked(tmp_path):
    bold, *_ = make_run(tmp_path, tr_sidecar=None)
    epi = preprocess_fmri(bold, tr=1.5, mask="epi", strategy={})
    assert epi.attrs["tr"] == 1.5 and 0.9 * 23 * 29 * 23 < epi.sizes["voxel"] <= 23 * 29 * 23
    assert epi.x.min() >= -90 + 6 * 4 and epi.x.max() <= -90 + 6 * 26  # inside the bright box only
    with pytest.raises(ValueError, match="TR disagrees: 1.5 s .* vs 2 s from the tr argument"):
        preprocess_fmri(bold, tr=2.0, strategy={})


def test_confound_errors(tmp_path):
    bold, conf_path, conf, *_ = make_run(tmp_path)
    with pytest.raises(ValueError, match=r"confounds_timeseries.tsv: confound column 'trans_x_power2'"):
        preprocess_fmri(bold, confounds=conf_path, strategy={"motion": "power2"})
    with pytest.raises(ValueError, match=r"confounds_timeseries.tsv: n_compcor=5 but only 2 'a_comp_cor_\*' columns"):
        preprocess_fmri(bold, confounds=conf_path, strategy={"compcor": "anat_combined", "n_compcor": 5})
    short = tmp_path / "short.tsv"
    conf.iloc[:-1].to_csv(short, sep="\t", index=False)
    with pytest.raises(ValueError, match="short.tsv: 59 rows of confounds but the run has 60 volumes"):
        preprocess_fmri(bold, confounds=short)
    with pytest.raises(ValueError, match="strategy\\['motion'\\]='all'"):
        confound_columns(conf.columns, {"motion": "all"})
    cols = confound_columns(list(conf.columns) + ["cosine00", "cosine01"],
                            {"motion": "basic", "global_signal": "basic", "compcor": "anat", "n_compcor": "all",
                             "high_pass": True, "extra": ["trans_x_derivative1"]})
    assert cols[:2] == ["trans_x", "trans_y"] and cols[6] == "global_signal" and cols[-1] == "trans_x_derivative1"
    cols = cols[:-1]
    assert cols[-4:] == ["a_comp_cor_00", "a_comp_cor_01",
                                                                           "cosine00", "cosine01"]


def test_derivative_nan_row_is_filled(tmp_path):
    bold, conf_path, *_ = make_run(tmp_path)
    with pytest.raises(ValueError, match="trans_y_derivative1"):
        preprocess_fmri(bold, confounds=conf_path, strategy={"motion": "derivatives"})
    out = preprocess_fmri(bold, confounds=conf_path, strategy={"extra": ["trans_x_derivative1"]})
    assert np.isfinite(out.values).all()


def test_atlas_parcel_means_match_nilearn(tmp_path):
    from nilearn.maskers import NiftiLabelsMasker

    bold, *_ = make_run(tmp_path, n_vol=30)
    labels = np.zeros(SHAPE, np.int16)
    labels[10:14, 10:14, 10:14] = 3
    labels[16:20, 16:22, 12:16] = 7
    atlas = tmp_path / "atlas.nii.gz"
    nib.save(nib.Nifti1Image(labels, AFFINE), atlas)
    lut = tmp_path / "atlas.tsv"
    lut.write_text("index\tname\n3\tSTG\n7\tIFG\n")
    out = preprocess_fmri(bold, atlas=atlas, atlas_labels=lut, detrend=False, standardize=False, strategy={})
    assert out.region.values.tolist() == ["STG", "IFG"] and out.n_voxels.values.tolist() == [64, 96]
    ref = NiftiLabelsMasker(labels_img=str(atlas), standardize=False).fit_transform(str(bold))
    np.testing.assert_allclose(out.values, ref, rtol=1e-4, atol=1e-4)
    # centroids in mm
    np.testing.assert_allclose(out.x.values, [-90 + 6 * 11.5, -90 + 6 * 17.5])
    bad = tmp_path / "bad.tsv"
    bad.write_text("index\tname\n3\tSTG\n")
    with pytest.raises(InputError, match=r"bad.tsv: column 'index': atlas values \[7\] have no label"):
        preprocess_fmri(bold, atlas=atlas, atlas_labels=bad, strategy={})
    # a BIDS table has no quoting: a label with a double quote stays one label, the next row stays a row
    quoted = tmp_path / "quoted.tsv"
    quoted.write_text('index\tname\n3\t"superior temporal\n7\tIFG"\n')
    out = preprocess_fmri(bold, atlas=atlas, atlas_labels=quoted, detrend=False, standardize=False, strategy={})
    assert out.region.values.tolist() == ['"superior temporal', 'IFG"']
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("id\tregion\n3\tSTG\n7\tIFG\n")
    with pytest.raises(InputError, match=r"wrong.tsv: atlas label table has columns \['id', 'region'\]"):
        preprocess_fmri(bold, atlas=atlas, atlas_labels=wrong, strategy={})


def test_surface_gifti(tmp_path):
    rng = np.random.default_rng(1)
    n_vol, n_vert = 40, 10242  # fsaverage5, whose mesh nilearn ships
    paths = []
    for hemi in "LR":
        darrays = [nib.gifti.GiftiDataArray(rng.standard_normal(n_vert).astype(np.float32) + 50,
                                            intent="NIFTI_INTENT_TIME_SERIES") for _ in range(n_vol)]
        p = tmp_path / f"sub-01_task-pieman_hemi-{hemi}_space-fsaverage5_bold.func.gii"
        nib.save(nib.GiftiImage(darrays=darrays), p)
        paths.append(p)
    (tmp_path / "sub-01_task-pieman_hemi-L_space-fsaverage5_bold.json").write_text('{"RepetitionTime": 1.5}')
    out = preprocess_fmri(paths, drop_initial_trs=2, strategy={})
    assert out.shape == (38, 2 * n_vert)
    assert out.hemi.values[0] == "L" and out.hemi.values[-1] == "R" and out.vertex.values[n_vert] == 0
    assert np.isfinite(out.x.values).all() and out.x.values[:n_vert].mean() < 0 < out.x.values[n_vert:].mean()
    np.testing.assert_allclose(out.time.values[0], 2.5 * 1.5)
    np.testing.assert_allclose(out.std("time").values, 1, atol=1e-4)
    expected = nib.load(paths[1]).darrays[5].data[7]
    col = out.values[:, n_vert + 7]
    raw = np.array([nib.load(paths[1]).darrays[k].data[7] for k in range(2, n_vol)], float)
    assert raw[3] == expected
    assert np.corrcoef(col, raw)[0, 1] > 0.95  # detrending changes a pure-noise vertex only slightly


def test_too_few_volumes(tmp_path):
    bold, *_ = make_run(tmp_path, n_vol=8)
    with pytest.raises(ValueError, match="8 volumes leave too few after dropping 4 initial and 2 final"):
        preprocess_fmri(bold, drop_initial_trs=4, trim_end_trs=2, strategy={})


@pytest.mark.parametrize("where", ["beside", "derivatives", "raw"])
def test_confounds_search_folders_are_where_find_runs_looks(tmp_path, where):
    """The folders named in the missing-confounds error are those find_runs searches (in its order)."""
    from brainalign.io.bids import confounds_search_folders, find_runs

    raw = tmp_path / "sub-01" / "ses-1" / "func"
    deriv = tmp_path / "derivatives" / "fmriprep" / "sub-01" / "ses-1" / "func"
    raw.mkdir(parents=True)
    (raw / "sub-01_ses-1_task-x_bold.nii.gz").touch()
    bold = raw / "sub-01_ses-1_task-x_bold.nii.gz"
    if where != "raw":
        deriv.mkdir(parents=True)
        bold = deriv / "sub-01_ses-1_task-x_space-MNI_desc-preproc_bold.nii.gz"
        bold.touch()
    folders = confounds_search_folders(bold, tmp_path)
    assert folders[0] == str(bold.parent) and str(deriv) in folders and str(raw) in folders
    assert find_runs(tmp_path)["confounds"].tolist() == [None]
    folder = {"beside": bold.parent, "derivatives": deriv, "raw": raw}[where]
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "sub-01_ses-1_task-x_desc-confounds_timeseries.tsv"
    conf.touch()
    assert find_runs(tmp_path)["confounds"].tolist() == [str(conf)] and str(folder) in folders


def test_nonfinite_vertices_of_a_surface_run(tmp_path):
    """NaN in a GIFTI vertex: an error naming the file, the hemisphere/vertex and the volume; interpolated
    when configured."""
    rng = np.random.default_rng(2)
    n_vol, n_vert = 12, 10242
    paths = []
    for hemi in "LR":
        frames = rng.standard_normal((n_vol, n_vert)).astype(np.float32) + 50
        if hemi == "R":
            frames[6, 7] = np.nan
        darrays = [nib.gifti.GiftiDataArray(f, intent="NIFTI_INTENT_TIME_SERIES") for f in frames]
        p = tmp_path / f"sub-01_task-pieman_hemi-{hemi}_space-fsaverage5_bold.func.gii"
        nib.save(nib.GiftiImage(darrays=darrays), p)
        paths.append(p)
    with pytest.raises(ValueError, match=r"hemi-L_space-fsaverage5_bold\.func\.gii: 1 non-finite value.* in 1 of 20484 "
                                         r"vertex\(s\) \[R 7\] .*volumes 6 \(t = 9\.75 s\)"):
        preprocess_fmri(paths, strategy={}, tr=1.5)
    out = preprocess_fmri(paths, strategy={}, tr=1.5, nonfinite="interpolate")
    assert np.isfinite(out.values).all() and out.attrs["nonfinite_interpolated"] == ["R 7"]


# ------------------------------------------------------------------ phases of preprocess_fmri / preprocess_run
def test_retained_volumes_keep_the_run_clock():
    from brainalign.preprocess.fmri import _retained_volumes

    keep, times = _retained_volumes(10, 2, 1, 2.0, 0.5, "run")
    assert (keep.start, keep.stop) == (2, 9)
    np.testing.assert_allclose(times, (np.arange(2, 9) + 0.5) * 2.0)  # volume 2 at 5 s, not 1 s
    with pytest.raises(ValueError, match="run: 10 volumes leave too few after dropping 5 initial and 3 final"):
        _retained_volumes(10, 5, 3, 2.0, 0.5, "run")


def test_parcel_means_average_voxels_and_place_centroids():
    from brainalign.preprocess.fmri import _parcel_means

    voxels = np.array([[1.0, 3.0, 10.0], [2.0, 4.0, 20.0]])  # 2 volumes x 3 voxels
    labels = np.array([7, 7, 2])
    ijk = np.array([[0, 0, 0], [2, 0, 0], [1, 1, 1]])
    data, values, counts, xyz = _parcel_means(voxels, labels, ijk, np.diag([3.0, 3.0, 3.0, 1.0]))
    assert values.tolist() == [2, 7] and counts.tolist() == [1, 2]
    np.testing.assert_allclose(data, [[10.0, 2.0], [20.0, 3.0]])
    np.testing.assert_allclose(xyz, [[3.0, 3.0, 3.0], [3.0, 0.0, 0.0]])


def test_story_bounds_end_at_the_later_of_duration_and_last_word():
    from brainalign.config_sections import with_defaults
    from brainalign.preprocess.fmri import _story_bounds

    def entry(**values) -> dict:  # a dataset.story_runs entry as the workflow's validation fills it
        return with_defaults("dataset.story_runs", {"s": {"task": "t", **values}})["s"]

    words = pd.DataFrame({"onset": [0.0, 50.0], "offset": [1.0, 120.0]})
    # The last word (120 s) outlasts the stated duration (100 s).
    assert _story_bounds("s", entry(onset=30.0, duration=100.0), None, None, words, "r") == (30.0, 120.0, 30.0)
    assert _story_bounds("s", entry(onset=30.0, duration=200.0), None, None, words, "r") == (30.0, 200.0, 30.0)
    # A word table cut from the whole audio: time 0 = stimulus onset - timings_offset; the last word's
    # end counts from the story's onset.
    cut = entry(onset=30.0, timings_path="t.csv", timings_offset=-25.0)
    assert _story_bounds("s", cut, None, {"onset": 4.0}, words, "r") == (30.0, 119.0, 29.0)
    with pytest.raises(ValueError, match="neither a duration"):
        _story_bounds("s", entry(onset=30.0), None, None, None, "r")
