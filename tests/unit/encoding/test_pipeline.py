"""encode_dataset on planted fMRI and MEG/EEG recordings, the tidy frame, the recording span
(brainalign.encoding.pipeline)."""

import numpy as np
import pytest
import xarray as xr

from brainalign.design import apply_operator, fmri_operator
from brainalign.encoding import encode_dataset, scores_to_frame
from brainalign.encoding.settings import design_settings, solver_settings

TR = 1.5
SMALL = {"alphas": np.logspace(-1, 5, 7).tolist(), "inner_folds": 3}
# encode_dataset takes complete solver settings: the schema's defaults with SMALL's
SOLVER = solver_settings(**SMALL)


def _features(rng, n_layers=4, p=12, n_words=150, stories=("s1", "s2")):
    feats = {}
    for s in stories:
        onset = np.cumsum(rng.uniform(0.3, 0.5, n_words)) + 2.0
        h = rng.standard_normal((n_words, n_layers, p)).astype(np.float32) * np.logspace(0, 4, n_layers)[None, :, None]
        feats[s] = xr.Dataset({"hidden": (("word", "layer", "feature"), h.astype(np.float32))},
                              coords={"word": np.arange(n_words), "onset": ("word", onset),
                                      "layer": np.arange(n_layers),
                                      "relative_depth": ("layer", np.arange(n_layers) / (n_layers - 1))})
    return feats


def _fmri(rng, feats, subjects=("01", "02", "03"), planted_layer=2, n_vox=40, drop=3):
    recs = {}
    for sub in subjects:
        recs[sub] = {}
        for s, f in feats.items():
            n_t = int(f.onset.values[-1] / TR) + 8
            times = (np.arange(drop, n_t) + 0.5) * TR
            sig = apply_operator(fmri_operator(f.onset.values, times, TR), f.hidden.sel(layer=planted_layer)).values
            data = rng.standard_normal((times.size, n_vox))
            data[:, :4] += 1.5 * sig[:, :4] / sig[:, :4].std(0)
            recs[sub][s] = xr.DataArray(data.astype(np.float32), dims=("time", "voxel"), coords={
                "time": times, "x": ("voxel", np.arange(n_vox) * 4.0), "y": ("voxel", np.zeros(n_vox)),
                "z": ("voxel", np.ones(n_vox)), "region": ("voxel", ["planted"] * 4 + ["noise"] * (n_vox - 4))},
                attrs={"tr": TR})
    return recs


def test_encode_fmri_recovers_planted_layer_and_contract():
    rng = np.random.default_rng(0)
    feats = _features(rng)
    recs = _fmri(rng, feats)
    ds = encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri", method="hrf"), encoding=SOLVER)
    assert ds.r.dims == ("subject", "layer", "voxel")
    assert set(ds.data_vars) >= {"r", "r2", "alpha", "ceiling", "r_normalized"}
    assert list(ds.subject.values) == ["01", "02", "03"]
    np.testing.assert_allclose(ds.relative_depth.values, np.arange(4) / 3)
    for c in ("x", "y", "z", "region"):
        assert ds[c].dims == ("voxel",)
    planted = ds.r.where(ds.region == "planted", drop=True).mean(("subject", "voxel"))
    assert int(np.argmax(planted.values)) == 2
    assert float(planted.max()) > 0.3
    noise = ds.r.where(ds.region == "noise", drop=True)
    assert abs(float(noise.mean())) < 0.03
    df = scores_to_frame(ds)
    assert list(df.columns[:8]) == ["subject", "layer", "relative_depth", "target", "r", "r2", "alpha", "ceiling"]
    assert len(df) == 3 * 4 * 40
    assert {"region", "x"} <= set(df.columns)


def test_joint_fit_equals_one_subject_at_a_time():
    rng = np.random.default_rng(1)
    feats = _features(rng, n_layers=2)
    recs = _fmri(rng, feats, planted_layer=1, n_vox=10)
    enc = dict(SOLVER, ceiling="none")
    joint = encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri", method="fir", delays=[1, 2, 3]), encoding=enc)
    for sub in recs:
        alone = encode_dataset(feats, {sub: recs[sub]}, modality="fmri", design=design_settings("fmri", method="fir", delays=[1, 2, 3]),
                               encoding=enc)
        np.testing.assert_allclose(joint.r.sel(subject=sub).values, alone.r.sel(subject=sub).values, atol=1e-5)
        np.testing.assert_array_equal(joint.alpha.sel(subject=sub).values, alone.alpha.sel(subject=sub).values)


def test_encode_meg_word_locked_finds_planted_lag_and_layer():
    rng = np.random.default_rng(2)
    feats = _features(rng, n_layers=3, p=8, n_words=200)
    sfreq = 50.0
    recs = {}
    for sub in ("01", "02"):
        recs[sub] = {}
        for s, f in feats.items():
            n = int((f.onset.values[-1] + 2) * sfreq)
            data = rng.standard_normal((n, 5))
            idx = np.rint(f.onset.values * sfreq).astype(int) + 10  # response 0.2 s after each word
            h = f.hidden.values[:, 1, :]
            data[idx, 0] += 2.0 * (h[:, 0] - h[:, 0].mean()) / h[:, 0].std()
            recs[sub][s] = xr.DataArray(data.astype(np.float32), dims=("time", "channel"), coords={
                "time": np.arange(n) / sfreq, "channel": [f"EEG{i}" for i in range(5)],
                "pos_x": ("channel", np.arange(5.0))}, attrs={"sfreq": sfreq})
    ds = encode_dataset(feats, recs, modality="eeg", design=design_settings("eeg", tmin=0.0, tmax=0.4),
                        encoding=dict(SOLVER, n_permutations=5000))  # BH over 105 targets: p <= 0.05 / 105 with
    # one planted target; the fold-combined circular-shift p floors at 2 / (1 + n_permutations)
    assert ds.r.dims == ("subject", "layer", "channel", "lag")
    assert ds.sizes["lag"] == 21
    assert "pos_x" in ds.coords and ds.lag.attrs["units"] == "s"
    best = ds.r.sel(channel="EEG0").mean("subject")
    layer, lag = np.unravel_index(int(np.argmax(best.values)), best.shape)
    assert layer == 1 and ds.lag.values[lag] == pytest.approx(0.2)
    assert bool(ds.significant.sel(channel="EEG0", layer=1, lag=0.2).all())
    assert float(ds.significant.sel(channel=["EEG2", "EEG3", "EEG4"]).mean()) < 0.05
    df = scores_to_frame(ds)
    assert list(df.columns[:5]) == ["subject", "layer", "relative_depth", "target", "lag"]
    assert set(df.target) == {f"EEG{i}" for i in range(5)}


def test_encode_bad_input():
    rng = np.random.default_rng(3)
    feats = _features(rng, n_layers=2)
    recs = _fmri(rng, feats, subjects=("01", "02"), n_vox=6, planted_layer=1)
    bad = {k: dict(v) for k, v in recs.items()}
    vals = bad["02"]["s2"].values.copy()
    vals[4, 2] = np.nan
    bad["02"]["s2"] = bad["02"]["s2"].copy(data=vals)
    with pytest.raises(ValueError, match="subject 02, story s2.*row 4, target 2"):
        encode_dataset(feats, bad, modality="fmri", design=design_settings("fmri"), encoding=SOLVER)
    other = {"01": recs["01"], "02": {s: r.isel(voxel=slice(0, 5)) for s, r in recs["02"].items()}}
    with pytest.raises(ValueError, match="share the target space"):
        encode_dataset(feats, other, modality="fmri", design=design_settings("fmri"), encoding=SOLVER)
    with pytest.raises(ValueError, match=r"'design\.fmri\.lags'.*unknown key"):
        encode_dataset(feats, recs, modality="fmri", design={**design_settings("fmri"), "lags": [1]}, encoding=SOLVER)
    with pytest.raises(ValueError, match="layers"):
        encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri"), encoding=SOLVER, layers=[7])
    with pytest.raises(ValueError, match="modality"):
        encode_dataset(feats, recs, modality="pet", design=design_settings("fmri"), encoding=SOLVER)
    missing = {"01": {"s3": recs["01"]["s1"]}}
    with pytest.raises(ValueError, match="no features"):
        encode_dataset(feats, missing, modality="fmri", design=design_settings("fmri"), encoding=SOLVER)


def test_recording_span_counts_dropped_and_trimmed_volumes():
    from brainalign.encoding.pipeline import recording_span

    times = (np.arange(3, 50) + 0.5) * 2.0  # volumes 3..49 kept of 52, TR 2 s
    fmri = xr.DataArray(np.zeros((times.size, 2)), dims=("time", "voxel"), coords={"time": times},
                        attrs={"tr": 2.0, "drop_initial_trs": 3, "trim_end_trs": 2, "time_reference": 0.5})
    assert recording_span(fmri) == (0.0, 104.0)
    moved = fmri.assign_coords(time=fmri.time - 13.0)  # clock re-zeroed at a story starting 13 s in
    assert recording_span(moved) == (-13.0, 91.0)
    meg = xr.DataArray(np.zeros((500, 2)), dims=("time", "channel"), coords={"time": np.arange(500) / 100.0},
                       attrs={"sfreq": 100.0})
    assert recording_span(meg) == (0.0, 5.0)
