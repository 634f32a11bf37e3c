"""brainalign.demo simulator: BIDS layout, confounds, determinism, and recovery of planted layers.

Features are fake but shaped like a residual stream (31 layers, each the previous one plus a small
update, so adjacent layers correlate at ~0.95).  The recovery tests fit a small ridge encoder
(leave-one-story-out, alpha chosen per target inside the training story) and feed its scores to
:func:`validate_demo`.
"""

import csv
import hashlib
import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign.demo import generate_demo, load_stories, resolve_params, story_words, validate_demo
from brainalign.io.tsv import numeric_column, read_bids_tsv
from brainalign.demo.drivers import region_latents
from brainalign.demo.fmri import hrf_regressors

N_WORDS = 400
N_LAYERS = 31
N_FEAT = 48
TR = 1.5
ALPHAS = np.logspace(0, 5, 11)


def _fake_features(words: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, xr.Dataset]:
    rng = np.random.default_rng(seed)
    out = {}
    for story, table in words.items():
        n = len(table)
        h = np.empty((n, N_LAYERS, N_FEAT), np.float32)
        h[:, 0] = rng.standard_normal((n, N_FEAT))
        for layer in range(1, N_LAYERS):
            h[:, layer] = h[:, layer - 1] + 0.35 * rng.standard_normal((n, N_FEAT))
        out[story] = xr.Dataset(
            {"hidden": (("word", "layer", "feature"), h)},
            coords={"word": np.arange(n), "layer": np.arange(N_LAYERS), "feature": np.arange(N_FEAT),
                    "onset": ("word", table["onset"].to_numpy()), "offset": ("word", table["offset"].to_numpy()),
                    "text": ("word", table["word"].to_numpy()), "story": story,
                    "relative_depth": ("layer", np.arange(N_LAYERS) / (N_LAYERS - 1))},
            attrs={"model_id": "fake-residual-stream"})
    return out


def _words(n_words: int) -> dict[str, pd.DataFrame]:
    return {s: story_words(t, s).iloc[:n_words].reset_index(drop=True) for s, t in load_stories().items()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    words = _words(N_WORDS)
    features = _fake_features(words)
    root = tmp_path_factory.mktemp("demo") / "bids"
    truth = generate_demo(root, features, words, {"n_subjects": 2}, seed=0)
    return root, truth, features, words


# ------------------------------------------------------------------------------------ encoder
def _ridge_r(x_train, y_train, x_test, y_test):
    """Held-out r per target; alpha per target chosen by a 2-fold split (halves) of the training run."""
    def fit_predict(xa, ya, xb):
        mu, sd = xa.mean(0), xa.std(0) + 1e-8
        xa, xb = (xa - mu) / sd, (xb - mu) / sd
        u, s, vt = np.linalg.svd(xa, full_matrices=False)
        uty = u.T @ (ya - ya.mean(0))
        return np.stack([xb @ (vt.T @ ((s / (s ** 2 + a))[:, None] * uty)) + ya.mean(0) for a in ALPHAS])

    def corr(p, y):
        p = p - p.mean(-2, keepdims=True)
        y = y - y.mean(0)
        return (p * y).sum(-2) / np.sqrt((p ** 2).sum(-2) * (y ** 2).sum(0) + 1e-12)

    h = len(x_train) // 2
    inner = (corr(fit_predict(x_train[:h], y_train[:h], x_train[h:]), y_train[h:])
             + corr(fit_predict(x_train[h:], y_train[h:], x_train[:h]), y_train[:h]))
    best = inner.argmax(0)
    pred = fit_predict(x_train, y_train, x_test)
    return corr(pred, y_test)[best, np.arange(y_test.shape[1])]


def _fir(feat: xr.Dataset, layer: int, times: np.ndarray) -> np.ndarray:
    """Word vectors summed per TR, delayed by 1-4 TRs (Caucheteux-style design)."""
    x = feat["hidden"].sel(layer=layer).values.astype(float)
    idx = np.floor(feat["onset"].values / TR).astype(int)
    first = int(round(times[0] / TR - 0.5))
    full = np.zeros((first + len(times), x.shape[1]))
    np.add.at(full, idx[idx < len(full)], x[idx < len(full)])
    return np.concatenate([np.roll(full, d, 0) * (np.arange(len(full)) >= d)[:, None] for d in (1, 2, 3, 4)],
                          axis=1)[first:]


def _clean_fmri(root, sub, story, n_dummy):
    from nilearn import signal

    img = nib.load(root / f"sub-{sub}" / "func" / f"sub-{sub}_task-{story}_bold.nii.gz")
    data = np.asarray(img.dataobj).astype(float)
    mask = data.std(axis=3) > 0
    y = data[mask].T
    conf = pd.read_csv(root / "derivatives" / "fmriprep" / f"sub-{sub}" / "func"
                       / f"sub-{sub}_task-{story}_desc-confounds_timeseries.tsv", sep="\t")
    cols = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "csf", "white_matter"]
    cols += [c for c in conf.columns if c.startswith("cosine")]
    keep = slice(n_dummy, None)
    y = signal.clean(y[keep], confounds=conf[cols].to_numpy()[keep], detrend=True, standardize="zscore_sample")
    times = (np.arange(n_dummy, data.shape[3]) + 0.5) * TR
    return y, times, mask, img.affine


def _fmri_scores(root, truth, features, layers, shuffle=False):
    stories, subjects = truth["stories"], truth["subjects"]
    planted = np.concatenate([r["mask_index"] for r in truth["regions"] if r["modality"] == "fmri"])
    rng = np.random.default_rng(1)
    r_all = []
    for sub in subjects:
        runs = {s: _clean_fmri(root, sub, s, 3) for s in stories}
        _, _, mask, affine = runs[stories[0]]
        n_vox = int(mask.sum())
        # a sample of each planted parcel and of the rest keeps the test fast
        cols = np.concatenate([rng.choice(r["mask_index"], 60, replace=False) for r in truth["regions"]
                               if r["modality"] == "fmri"]
                              + [rng.choice(np.setdiff1d(np.arange(n_vox), planted), 200, replace=False)])
        per_layer = []
        for layer in layers:
            feats = features
            if shuffle:  # a "control" whose features carry nothing about the planted ones
                feats = {s: f.copy(data={"hidden": f["hidden"].values[rng.permutation(f.sizes["word"])]})
                         for s, f in features.items()}
            x = {s: _fir(feats[s], layer, runs[s][1]) for s in stories}
            r = [_ridge_r(x[tr], runs[tr][0][:, cols], x[te], runs[te][0][:, cols])
                 for tr, te in ((stories[0], stories[1]), (stories[1], stories[0]))]
            per_layer.append(np.mean(r, axis=0))
        r_all.append(per_layer)
    xyz = nib.affines.apply_affine(affine, np.argwhere(mask)[cols])
    return xr.Dataset({"r": (("subject", "layer", "voxel"), np.array(r_all))},
                      coords={"subject": subjects, "layer": layers, "voxel": cols,
                              "x": ("voxel", xyz[:, 0]), "y": ("voxel", xyz[:, 1]), "z": ("voxel", xyz[:, 2])})


# -------------------------------------------------------------------------------------- tests
def test_bids_layout_and_sidecars(demo):
    root, truth, _, words = demo
    assert json.loads((root / "dataset_description.json").read_text())["BIDSVersion"]
    parts = pd.read_csv(root / "participants.tsv", sep="\t")
    assert list(parts["participant_id"]) == ["sub-01", "sub-02"]
    for sub in ("01", "02"):
        for story in ("lighthouse", "orchard"):
            stem = root / f"sub-{sub}" / "func" / f"sub-{sub}_task-{story}"
            img = nib.load(f"{stem}_bold.nii.gz")
            assert img.ndim == 4 and img.header.get_zooms()[:3] == (6.0, 6.0, 6.0)
            assert json.loads(open(f"{stem}_bold.json").read())["RepetitionTime"] == TR
            # BIDS TSV: no quoting, so the words with double quotes ('"Keep') are read as written
            events = read_bids_tsv(f"{stem}_events.tsv")
            assert list(events.columns) == ["onset", "duration", "trial_type", "word"]
            assert list(events["word"]) == list(words[story]["word"])
            np.testing.assert_allclose(numeric_column(events, "onset"), words[story]["onset"], atol=1e-4)
            conf = pd.read_csv(root / "derivatives" / "fmriprep" / f"sub-{sub}" / "func"
                               / f"sub-{sub}_task-{story}_desc-confounds_timeseries.tsv", sep="\t")
            assert len(conf) == img.shape[3]
            for col in ("trans_x", "rot_z", "csf", "white_matter", "global_signal", "framewise_displacement",
                        "non_steady_state_outlier00", "cosine00"):
                assert col in conf, col
            # the run covers every word plus the HRF tail
            assert img.shape[3] * TR > words[story]["offset"].max() + 8
    atlas = nib.load(root / "derivatives" / "atlas" / "space-MNI152NLin2009cAsym_res-6_desc-demo_dseg.nii.gz")
    labels = pd.read_csv(root / "derivatives" / "atlas" / "space-MNI152NLin2009cAsym_res-6_desc-demo_dseg.tsv",
                         sep="\t")
    assert sorted(np.unique(atlas.get_fdata())[1:].astype(int)) == list(labels["index"]) == list(range(1, 31))
    groups = pd.read_csv(root / "derivatives" / "atlas" / "montage-biosemi64_desc-demo_channelgroups.tsv", sep="\t")
    assert list(groups.columns) == ["channel", "group"] and len(groups) == 64
    on_disk = json.loads((root / "derivatives" / "groundtruth" / "truth.json").read_text())
    assert on_disk["regions"] == truth["regions"]


def test_pybids_indexes_the_dataset(demo):
    from bids import BIDSLayout

    root, _, _, _ = demo
    layout = BIDSLayout(root, validate=True, derivatives=True)
    assert layout.get_subjects() == ["01", "02"] and layout.get_tasks() == ["lighthouse", "orchard"]
    bolds = layout.get(suffix="bold", extension=".nii.gz")
    assert len(bolds) == 4 and layout.get_metadata(bolds[0].path)["RepetitionTime"] == TR
    assert len(layout.get(suffix="eeg", extension=".vhdr")) == 4
    assert len(layout.get(desc="confounds", suffix="timeseries", extension=".tsv")) == 4


def test_truth_describes_every_planted_region(demo):
    _, truth, _, _ = demo
    fmri = {r["name"]: r for r in truth["regions"] if r["modality"] == "fmri"}
    eeg = {r["name"]: r for r in truth["regions"] if r["modality"] == "eeg"}
    assert set(fmri) == {"early", "middle", "late", "forecast"} and set(eeg) == {"early", "middle", "late"}
    assert [fmri[n]["planted_layer"] for n in ("early", "middle", "late", "forecast")] == [7, 16, 25, 19]
    assert fmri["forecast"]["forecast_distance"] == 20 and fmri["early"]["forecast_distance"] == 0
    assert fmri["forecast"]["forecast_weight"] == 0.5 and fmri["early"]["forecast_weight"] == 0.0
    assert 0.15 <= fmri["early"]["planted_relative_depth"] <= 0.25
    assert 0.8 <= fmri["late"]["planted_relative_depth"] <= 0.9
    labels = {r["atlas_label"] for r in fmri.values()}
    assert len(labels) == 4  # distinct parcels
    for region in fmri.values():
        assert len(region["voxels_mni"]) == len(region["mask_index"]) == region["n_targets"] > 50
    chans = [c for r in eeg.values() for c in r["channels"]]
    assert len(chans) == len(set(chans)) and not set(chans) & set(truth["noise"]["eeg"]["channels"])
    assert len(chans) + len(truth["noise"]["eeg"]["channels"]) == 64


def test_confound_regression_removes_motion_contamination(demo):
    """Motion and tissue signals really contaminate the data, and their columns explain it."""
    root, truth, _, _ = demo
    img = nib.load(root / "sub-01" / "func" / "sub-01_task-lighthouse_bold.nii.gz")
    data = np.asarray(img.dataobj).astype(float)
    y = data[data.std(axis=3) > 0].T[3:]
    y = (y - y.mean(0)) / y.std(0)
    conf = pd.read_csv(root / "derivatives" / "fmriprep" / "sub-01" / "func"
                       / "sub-01_task-lighthouse_desc-confounds_timeseries.tsv", sep="\t").iloc[3:]
    x = conf[["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "csf", "white_matter"]].to_numpy()
    x = np.c_[np.ones(len(x)), x - x.mean(0)]
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    explained = 1 - resid.var(0).mean()
    # motion (0.8^2) + tissue (2/3 of 0.8^2) over a total of ~2.8 noise units: ~35 % of the variance
    assert 0.2 < explained < 0.6
    # global_signal is the mask mean of the data, as fMRIPrep computes it
    raw = data[data.std(axis=3) > 0]
    np.testing.assert_allclose(conf["global_signal"].to_numpy(), raw.mean(0)[3:], rtol=1e-6)
    # non-steady-state volumes are brighter
    assert raw[:, 0].mean() > 1.2 * raw[:, 5:].mean()


def test_forecast_latents_add_the_word_d_ahead():
    words = _words(120)
    feats = _fake_features(words)
    kw = dict(n_latents=3, n_pcs=8, specificity=0.5, specificity_distance=3)
    now = region_latents(feats, 13, forecast_distance=0, rng=np.random.default_rng(5), **kw)
    ahead = region_latents(feats, 13, forecast_distance=4, forecast_weight=np.sqrt(0.5), rng=np.random.default_rng(5),
                           **kw)
    for story in words:
        np.testing.assert_allclose(ahead[story][:-4], (now[story][:-4] + now[story][4:]) / np.sqrt(2), atol=1e-12)
        np.testing.assert_allclose(ahead[story][-4:], now[story][-4:] / np.sqrt(2), atol=1e-12)
    # the weight of the word ahead: w for it, sqrt(1 - w^2) for the present word
    w = 0.5  # the default
    mixed = region_latents(feats, 13, forecast_distance=4, rng=np.random.default_rng(5), **kw)
    for story in words:
        np.testing.assert_allclose(mixed[story][:-4], np.sqrt(1 - w * w) * now[story][:-4] + w * now[story][4:],
                                   atol=1e-12)
    with pytest.raises(ValueError, match="forecast_weight"):
        region_latents(feats, 13, forecast_distance=4, forecast_weight=1.0, rng=np.random.default_rng(5), **kw)


def test_specificity_decorrelates_from_neighbouring_layers():
    words = _words(300)
    feats = _fake_features(words)
    from brainalign.demo.drivers import _layer_matrix, _top_pcs

    stories = list(feats)
    lat = region_latents(feats, 10, n_latents=4, n_pcs=8, specificity=1.0, specificity_distance=3,
                         forecast_distance=0, rng=np.random.default_rng(0))
    y = np.concatenate([lat[s] for s in stories])
    for neighbour in (7, 13):
        basis = _top_pcs(_layer_matrix(feats, stories, neighbour), 8)
        assert np.abs(basis.T @ y / len(y)).max() < 1e-8


def test_fmri_recovers_planted_layers_and_noise_is_null(demo):
    root, truth, features, _ = demo
    layers = [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]
    scores = _fmri_scores(root, truth, features, layers)
    control = _fmri_scores(root, truth, features, [1, 13, 25], shuffle=True)
    fmri_truth = dict(truth, regions=[r for r in truth["regions"] if r["modality"] == "fmri"])
    table = validate_demo(fmri_truth, {"fmri": scores}, {"fmri": control})
    print(table.to_string())
    planted = table[table.region != "noise"]
    assert len(planted) == 4
    assert planted["passed"].all(), table
    assert ((planted["score_model"] > 0.2) & (planted["score_model"] < 0.75)).all(), table
    assert (planted["score_control"] < 0.1).all()
    noise = table[table.region == "noise"].iloc[0]
    assert abs(noise["score_model"]) < 0.03


def test_eeg_is_readable_by_mne_bids_with_words_and_line_noise(demo):
    import mne
    from mne_bids import BIDSPath, read_raw_bids

    root, truth, _, words = demo
    raw = read_raw_bids(BIDSPath(subject="01", task="orchard", datatype="eeg", root=root), verbose=False)
    assert raw.info["sfreq"] == 250 and len(raw.ch_names) == 64
    assert raw.info["line_freq"] == 50
    assert raw.get_montage() is not None
    assert len(raw.annotations) == N_WORDS
    # BIDS TSVs are not quoted: a word like '"How' starts with a quote character
    events = pd.read_csv(root / "sub-01" / "eeg" / "sub-01_task-orchard_events.tsv", sep="\t", keep_default_na=False,
                         quoting=csv.QUOTE_NONE)
    assert list(events["word"]) == list(words["orchard"]["word"])
    np.testing.assert_allclose(events["onset"], words["orchard"]["onset"], atol=1 / 250)
    psd = raw.compute_psd(fmin=40, fmax=60, verbose=False)
    power = psd.get_data().mean(0)
    freqs = psd.freqs
    assert power[np.abs(freqs - 50).argmin()] > 20 * np.median(power)


def test_eeg_recovers_planted_layers(demo):
    import mne
    from mne_bids import BIDSPath, read_raw_bids

    root, truth, features, words = demo
    stories, subjects = truth["stories"], truth["subjects"]
    lags = np.array([0.0, 0.15, 0.3, 0.45])
    layers = [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]
    r_all = []
    for sub in subjects:
        y = {}
        for story in stories:
            raw = read_raw_bids(BIDSPath(subject=sub, task=story, datatype="eeg", root=root), verbose=False)
            raw.load_data().filter(0.5, 20.0, verbose=False)
            data = raw.get_data()
            idx = np.round((words[story]["onset"].to_numpy()[:, None] + lags) * raw.info["sfreq"]).astype(int)
            y[story] = data[:, idx].transpose(1, 2, 0).reshape(len(idx), -1)  # word x (lag, channel)
            y[story] = (y[story] - y[story].mean(0)) / y[story].std(0)
        per_layer = []
        for layer in layers:
            x = {s: features[s]["hidden"].sel(layer=layer).values.astype(float) for s in stories}
            r = [_ridge_r(x[tr], y[tr], x[te], y[te]) for tr, te in ((stories[0], stories[1]), (stories[1], stories[0]))]
            per_layer.append(np.mean(r, 0).reshape(len(lags), -1).T)  # channel x lag
        r_all.append(per_layer)
    scores = xr.Dataset({"r": (("subject", "layer", "channel", "lag"), np.array(r_all))},
                        coords={"subject": subjects, "layer": layers, "channel": raw.ch_names, "lag": lags})
    eeg_truth = dict(truth, regions=[r for r in truth["regions"] if r["modality"] == "eeg"])
    table = validate_demo(eeg_truth, {"eeg": scores}, {})
    print(table.to_string())
    planted = table[table.region != "noise"]
    assert planted["passed"].all(), table
    assert (planted["score_model"] < 0.8).all()
    assert abs(table[table.region == "noise"]["score_model"].iloc[0]) < 0.03


def test_same_seed_same_files_other_seed_other_data(tmp_path):
    words = _words(80)
    feats = _fake_features(words)
    params = {"n_subjects": 1, "fmri": {"n_parcels": 10}, "eeg": {"n_groups": 4},
              "regions": [{"name": "a", "relative_depth": 0.5, "fmri_seed": [0, 0, 0], "eeg_seed": "Cz"}]}

    def digest(root):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    generate_demo(tmp_path / "a", feats, words, params, seed=1)
    generate_demo(tmp_path / "b", feats, words, params, seed=1)
    generate_demo(tmp_path / "c", feats, words, params, seed=2)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    bold = "sub-01/func/sub-01_task-lighthouse_bold.nii.gz"
    assert a[bold] != c[bold]
    # regenerating over an existing tree replaces it; no temporary directory is left behind
    generate_demo(tmp_path / "a", feats, words, params, seed=1)
    assert digest(tmp_path / "a") == a
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]


def test_bad_params_and_inputs_are_named():
    with pytest.raises(ValueError, match="unknown key 'fmri.voxelsize'"):
        resolve_params({"fmri": {"voxelsize": 4}})
    with pytest.raises(ValueError, match=r"regions\[0\].relative_depth"):
        resolve_params({"regions": [{"name": "x", "relative_depth": 1.5}]})
    with pytest.raises(ValueError, match="eeg.sfreq"):
        resolve_params({"eeg": {"sfreq": 100}})
    words = _words(50)
    feats = _fake_features(words)
    short = {"lighthouse": words["lighthouse"].iloc[:40], "orchard": words["orchard"]}
    with pytest.raises(ValueError, match="story 'lighthouse' has 40 words but features for 50"):
        generate_demo("/nonexistent/never", feats, short, {}, seed=0)


def test_hrf_regressor_peaks_about_five_seconds_after_a_word():
    x = hrf_regressors(np.array([[1.0]]), np.array([3.0]), TR, 40)[:, 0]
    peak_time = (np.argmax(x) + 0.5) * TR
    assert 6.5 <= peak_time <= 9.5
    assert np.abs(x[: int(3.0 / TR)]).max() < 1e-12
