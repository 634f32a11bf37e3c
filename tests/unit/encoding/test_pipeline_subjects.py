"""Subjects with their own targets (issue 14): iEEG patients fitted separately on the shared design,
pooled on one channel axis; the phases of encode_dataset (collect targets, fit a group, assemble)."""

import numpy as np
import pytest
import xarray as xr
from tests.synthetic_features import random_features

from brainalign.encoding import encode_dataset, scores_to_frame
from brainalign.encoding.assemble import is_pooled, own_channels, qualified_channel
from brainalign.encoding.collect import collect_targets
from brainalign.encoding.pipeline import assemble_scores, fit_group, group_ceiling, group_problem, subject_groups
from brainalign.encoding.settings import design_settings, resolve_subject_fits, solver_settings
from brainalign.errors import ConfigError, InputError

SFREQ = 50.0
SMALL = solver_settings(alphas=np.logspace(-1, 5, 7).tolist(), inner_folds=3)
DESIGN = design_settings("eeg", tmin=0.0, tmax=0.4)


def _features(rng, n_layers=3, p=8, n_words=220, stories=("s1", "s2")):
    return random_features(rng, n_layers, p, n_words, stories)


def _patient(rng, feats, n_channels, planted=(), sfreq=SFREQ, prefix="G", seed_weights=0):
    """time x channel high-gamma-like recording; ``planted``: (channel index, layer, lag s) responses.

    Channel names are G1, G2, ... for every patient, as grids are named in real data: names collide.
    """
    recs = {}
    weights = np.random.default_rng(seed_weights).standard_normal(feats["s1"].sizes["feature"])
    for s, f in feats.items():
        n = int((f.onset.values[-1] + 2) * sfreq)
        data = rng.standard_normal((n, n_channels))
        for ch, layer, lag in planted:
            idx = np.rint(f.onset.values * sfreq).astype(int) + int(round(lag * sfreq))
            drive = f.hidden.values[:, layer, :] @ weights
            data[idx, ch] += 2.0 * (drive - drive.mean()) / drive.std()
        pos = np.random.default_rng(n_channels).uniform(-0.07, 0.07, (n_channels, 3))
        recs[s] = xr.DataArray(data.astype(np.float32), dims=("time", "channel"), coords={
            "time": np.arange(n) / sfreq, "channel": [f"{prefix}{i + 1}" for i in range(n_channels)],
            "ch_type": ("channel", np.full(n_channels, "ecog")), "pos_x": ("channel", pos[:, 0]),
            "pos_y": ("channel", pos[:, 1]), "pos_z": ("channel", pos[:, 2]),
            "region": ("channel", np.where(np.isin(np.arange(n_channels), [c for c, _, _ in planted]), "stg",
                                           "other"))},
            attrs={"sfreq": sfreq, "source_file": f"sub-x/ieeg/{s}_ieeg.edf"})
    return recs


PLANTED = (("sub-01:G4", 2, 0.2), ("sub-01:G18", 2, 0.2), ("sub-02:G6", 1, 0.3), ("sub-02:G40", 1, 0.3))


@pytest.fixture(scope="module")
def patients():
    rng = np.random.default_rng(14)
    feats = _features(rng)
    recs = {"01": _patient(rng, feats, 99, planted=[(3, 2, 0.2), (17, 2, 0.2)]),
            "02": _patient(rng, feats, 90, planted=[(5, 1, 0.3), (39, 1, 0.3)])}
    return feats, recs


# ---------------------------------------------------------------- the reproduction and the fix
def test_joint_fit_of_patients_with_their_own_channels_stops_naming_the_setting(patients):
    """Two iEEG patients (99 and 90 channels) fitted jointly: the error names encoding.subjects."""
    feats, recs = patients
    with pytest.raises(InputError, match=r"subjects keep different channels \(99 for subject 01\).*"
                                         r"encoding\.subjects: separate"):
        encode_dataset(feats, recs, modality="ieeg", design=DESIGN, encoding=dict(SMALL, subjects="joint"))


@pytest.fixture(scope="module")
def pooled(patients):
    # BH over a patient's ~100 electrodes with 2 responsive needs p <= 0.05 * 2 / 99; the floor of the
    # combined (two-fold) circular-shift p is 2 / (1 + n_permutations): 2000 shifts reach it.
    feats, recs = patients
    return encode_dataset(feats, recs, modality="ieeg", design=DESIGN, encoding=dict(SMALL, n_permutations=2000))


def test_patients_are_fitted_separately_and_pooled(pooled):
    ds = pooled
    assert ds.attrs["subject_fits"] == "separate" and is_pooled(ds)
    assert ds.r.dims == ("subject", "layer", "channel", "lag")
    assert ds.sizes["channel"] == 99 + 90 and ds.sizes["lag"] == 21
    assert ds.channel.values[0] == qualified_channel("01", "G1") == "sub-01:G1"
    assert ds.channel.values[99] == "sub-02:G1"  # same name, other patient: its own entry
    assert (ds.channel_subject.values == np.repeat(["01", "02"], [99, 90])).all()
    assert ds.channel_name.values[99] == "G1" and ds.ch_type.values[150] == "ecog"
    for c in ("pos_x", "pos_y", "pos_z", "region"):
        assert ds[c].dims == ("channel",)
    # a subject's row holds values on its own channels only
    assert np.isnan(ds.r.sel(subject="01").values[:, 99:]).all()
    assert np.isfinite(ds.r.sel(subject="01").values[:, :99]).all()
    assert np.isnan(ds.r.sel(subject="02").values[:, :99]).all()
    assert "ceiling" not in ds and ds.attrs["ceiling_method"].startswith("none")
    assert not ds.significant.sel(subject="02").values[:, :99].any()
    assert ds.p_channel.dims == ("subject", "channel") and np.isnan(ds.p_channel.sel(subject="01").values[99:]).all()


def test_planted_electrodes_recovered_in_the_right_patient(pooled):
    view = own_channels(pooled)
    assert view.r.dims == ("layer", "channel", "lag")
    for target, layer, lag in PLANTED:
        r = view.r.sel(channel=target)
        li, gi = np.unravel_index(int(np.argmax(r.values)), r.shape)
        assert (int(view.layer[li]), float(view.lag[gi])) == (layer, pytest.approx(lag)), target
        assert float(r.max()) > 0.5
        # the floor of the fold-combined p: both held-out stories beat every shift
        assert float(view.p.sel(channel=target, layer=layer, lag=lag)) == pytest.approx(2 / 2001)
        assert float(view.p_channel.sel(channel=target)) == pytest.approx(2 / 2001)
    # G4 of patient 02 and G6 of patient 01 are noise: a name is not an electrode
    assert float(view.r.sel(channel="sub-02:G4").max()) < 0.25
    assert float(view.r.sel(channel="sub-01:G6").max()) < 0.25
    noise = view.r.drop_sel(channel=[t for t, _, _ in PLANTED])
    assert abs(float(noise.mean())) < 0.02
    # the subject-mean of the pooled scores is the electrode view (a single value per electrode)
    np.testing.assert_array_equal(pooled.r.mean("subject").values, view.r.values)


def test_csv_lists_each_patients_own_channels(pooled):
    df = scores_to_frame(pooled)
    assert len(df) == (99 + 90) * 3 * 21
    assert set(df.loc[df.subject == "02", "target"]) == {f"sub-02:G{i + 1}" for i in range(90)}
    assert (df.channel_subject == df.subject).all() and df.r.notna().all()
    assert list(df.columns[:5]) == ["subject", "layer", "relative_depth", "target", "lag"]
    assert {"channel_name", "pos_x", "region", "significant"} <= set(df.columns)


def test_joint_and_separate_fits_agree_for_subjects_sharing_targets():
    """Separate fits of subjects with the same channels equal the joint fit (max |dr| <= 1e-6)."""
    rng = np.random.default_rng(5)
    feats = _features(rng, n_words=180)
    recs = {s: _patient(rng, feats, 12, planted=[(2, 1, 0.1)]) for s in ("01", "02", "03")}
    enc = dict(SMALL, ceiling="none")
    joint = encode_dataset(feats, recs, modality="eeg", design=DESIGN, encoding=dict(enc, subjects="joint"))
    sep = encode_dataset(feats, recs, modality="eeg", design=DESIGN, encoding=dict(enc, subjects="separate"))
    assert joint.attrs["subject_fits"] == "joint" and sep.attrs["subject_fits"] == "separate"
    view = own_channels(sep)
    for s in ("01", "02", "03"):
        own = view.sel(channel=[qualified_channel(s, c) for c in joint.channel.values])
        dr = np.abs(own.r.values - joint.r.sel(subject=s).values)
        assert dr.max() <= 1e-6
        np.testing.assert_array_equal(own.alpha.values, joint.alpha.sel(subject=s).values)


# ---------------------------------------------------------------- the phases
def test_collect_targets_keeps_each_patients_channels(patients):
    feats, recs = patients
    targets = collect_targets(feats, recs, modality="ieeg", design=DESIGN, encoding=SMALL)
    assert targets.subject_fits == "separate" and targets.target_dim == "channel"
    assert targets.layers == [0, 1, 2] and targets.lags.size == 21
    t1, t2 = targets.subjects["01"], targets.subjects["02"]
    assert t1.target_shape == (99, 21) and t2.target_shape == (90, 21)
    assert t1.values["s1"].shape[1] == 99 * 21 and t1.stories == ["s1", "s2"]
    assert list(t2.coords["channel"][1][:2]) == ["G1", "G2"]
    # same words kept: one group, one solve; columns side by side
    assert subject_groups(targets) == [["01", "02"]]
    problem = group_problem(feats, targets, ["01", "02"])
    assert problem.columns == {"01": slice(0, 99 * 21), "02": slice(99 * 21, 189 * 21)}
    assert problem.Y.shape == (2 * 220, 189 * 21)  # every word of both stories keeps its window
    assert problem.design_of_layer(1).shape == (problem.Y.shape[0], 8)
    assert group_ceiling(targets, ["01", "02"]) == {}  # no shared targets


def test_bad_segments_split_the_group_and_layer_blocks_gather(patients):
    """A patient whose BAD segment removes words gets its own solve; layer blocks assemble to the whole."""
    feats, recs = patients
    recs = {s: dict(r) for s, r in recs.items()}
    bad = recs["02"]["s2"].copy()
    bad.values[1000:1040] = np.nan  # a BAD segment: words whose window touches it are left out
    recs["02"]["s2"] = bad
    targets = collect_targets(feats, recs, modality="ieeg", design=DESIGN, encoding=dict(SMALL, n_permutations=50))
    groups = subject_groups(targets)
    assert groups == [["01"], ["02"]]
    assert targets.attrs["words_left_out_bad_samples"]["02"]["s2"] > 0
    whole = [fit_group(feats, targets, g) for g in groups]
    blocks = [fit_group(feats, targets, g, layers=block) for g in groups for block in ([0, 2], [1])]
    a, b = assemble_scores(targets, whole), assemble_scores(targets.metadata(), blocks)  # a gather needs no data
    for k in ("r", "r2", "alpha", "p", "significant", "p_channel"):  # channel peaks of blocks combine by max
        np.testing.assert_array_equal(a[k].values, b[k].values)
    with pytest.raises(ValueError, match="exactly once"):
        assemble_scores(targets, blocks[:-1])
    with pytest.raises(ValueError, match="do not share"):
        group_problem(feats, targets, ["01", "02"])
    with pytest.raises(ValueError, match="not among the layers"):
        fit_group(feats, targets, ["01"], layers=[7])


def test_joint_collect_and_ceiling_for_shared_targets():
    rng = np.random.default_rng(6)
    feats = _features(rng, n_words=120)
    recs = {s: _patient(rng, feats, 5, planted=[(0, 1, 0.1)]) for s in ("01", "02")}
    targets = collect_targets(feats, recs, modality="eeg", design=DESIGN, encoding=SMALL)
    assert targets.subject_fits == "joint"
    ceil = group_ceiling(targets, ["01", "02"])
    assert set(ceil) == {"01", "02"} and ceil["01"].shape == (5 * 21,)
    ds = assemble_scores(targets, [fit_group(feats, targets, ["01", "02"])], ceil)
    assert "ceiling" in ds and not is_pooled(ds)
    with pytest.raises(ValueError, match="pooled channel axis"):
        own_channels(ds)


# ---------------------------------------------------------------- the setting
def test_subject_fits_setting():
    assert resolve_subject_fits("auto", "ieeg") == "separate"
    assert resolve_subject_fits("auto", "meg") == "joint" and resolve_subject_fits(None, "eeg") == "joint"
    assert resolve_subject_fits("separate", "meg") == "separate"
    assert resolve_subject_fits("separate", "fmri") == "joint"  # voxels are positions of one grid
    assert resolve_subject_fits("joint", "ieeg") == "joint"
    assert resolve_subject_fits({"meg": "separate"}, "meg") == "separate"
    assert resolve_subject_fits({"meg": "separate"}, "ieeg") == "separate"  # not listed: auto
    with pytest.raises(ConfigError, match=r"encoding\.subjects\.fmri"):
        resolve_subject_fits({"fmri": "separate"}, "fmri")
    with pytest.raises(ConfigError, match=r"'encoding\.subjects'.*'pooled' is not a choice"):
        resolve_subject_fits("pooled", "meg")


# ---------------------------------------------------------------- electrode table and group statistics
def test_electrode_table_finds_the_planted_electrodes(pooled):
    from brainalign.encoding.electrodes import electrode_table

    table = electrode_table(pooled)
    assert len(table) == 99 + 90 and table.subject.tolist() == ["01"] * 99 + ["02"] * 90
    assert list(table.columns[:3]) == ["subject", "channel", "target"]
    assert {"ch_type", "pos_x", "pos_y", "pos_z", "region", "best_layer", "best_relative_depth", "best_lag",
            "r_best", "p_electrode", "q_electrode", "significant", "r_layer_0", "r_layer_2"} <= set(table.columns)
    planted = table.set_index("target").loc[[t for t, _, _ in PLANTED]]
    assert planted.best_layer.tolist() == [2, 2, 1, 1]
    assert planted.best_lag.tolist() == pytest.approx([0.2, 0.2, 0.3, 0.3])
    assert planted.best_relative_depth.tolist() == pytest.approx([1.0, 1.0, 0.5, 0.5])
    assert planted.significant.all() and np.allclose(planted.p_electrode, 2 / 2001, rtol=1e-5)
    # the best layer is the argmax of the per-layer columns (peak over lags)
    row = planted.loc["sub-02:G6"]
    assert row.r_layer_1 == pytest.approx(row.r_best) and row.r_layer_1 > max(row.r_layer_0, row.r_layer_2)
    noise = table[~table.target.isin(planted.index)]
    assert not noise.significant.any()
    # the same name in the other patient is another electrode
    assert not bool(table.set_index("target").loc["sub-02:G4", "significant"])
    assert table.set_index("target").loc["sub-01:G4", "channel"] == "G4"


def test_electrode_stats_per_patient_pooled_and_across_patients(pooled):
    from brainalign.encoding.electrodes import electrode_stats, electrode_table

    table = electrode_table(pooled)
    stats = electrode_stats(table, relative_depths={0: 0.0, 1: 0.5, 2: 1.0})
    assert list(stats.columns) == ["scope", "subject", "statistic", "layer", "relative_depth", "value", "sem",
                                   "ci_low", "ci_high", "n", "p", "test", "selection"]
    get = stats.set_index(["scope", "subject", "statistic"])
    n_sig = table.groupby("subject").significant.sum()
    assert get.loc[("subject", "01", "n_electrodes"), "value"] == 99
    assert get.loc[("subject", "01", "fraction_significant"), "value"] == pytest.approx(n_sig["01"] / 99)
    assert get.loc[("electrodes", "all", "fraction_significant"), "value"] == pytest.approx(n_sig.sum() / 189)
    # across patients: one value per patient
    frac = get.loc[("subjects", "all", "fraction_significant")]
    assert frac["n"] == 2 and frac["value"] == pytest.approx((n_sig["01"] / 99 + n_sig["02"] / 90) / 2)
    sig = table[table.significant]
    per_patient = sig.groupby("subject").best_relative_depth.mean()
    depth = get.loc[("subjects", "all", "best_relative_depth")]
    assert depth["value"] == pytest.approx(per_patient.mean()) and "vs 0.5" in depth["test"]
    r_rows = stats[(stats.scope == "electrodes") & (stats.statistic == "r")]
    assert r_rows.layer.tolist() == [0, 1, 2] and r_rows.relative_depth.tolist() == [0.0, 0.5, 1.0]
    assert (stats.selection == "significant").all()


def test_electrode_stats_numbers_on_a_small_table():
    import pandas as pd
    from scipy import stats as st

    from brainalign.encoding.electrodes import electrode_stats

    table = pd.DataFrame({
        "subject": ["a", "a", "a", "b", "b", "c", "c", "c"],
        "best_relative_depth": [0.2, 0.4, 0.9, 0.6, 0.8, 0.5, 0.7, 0.1],
        "best_lag": [0.1, 0.2, 0.3, 0.2, 0.2, 0.4, 0.4, 0.0],
        "r_best": [0.3, 0.2, 0.05, 0.4, 0.3, 0.2, 0.1, 0.02],
        "r_layer_0": [0.1, 0.1, 0.0, 0.2, 0.1, 0.1, 0.0, 0.0],
        "r_layer_3": [0.3, 0.2, 0.05, 0.4, 0.3, 0.2, 0.1, 0.02],
    })
    out = electrode_stats(table)  # no permutations: every electrode is selected
    get = out.set_index(["scope", "subject", "statistic", "layer"])
    assert (out.selection == "all").all() and "fraction_significant" not in set(out.statistic)
    a = get.loc[("subject", "a", "best_relative_depth", pd.NA)]
    assert a["value"] == pytest.approx(0.5) and a["n"] == 3
    assert a["sem"] == pytest.approx(np.std([0.2, 0.4, 0.9], ddof=1) / np.sqrt(3))
    means = [0.5, 0.7, 0.43333333333333335]
    across = get.loc[("subjects", "all", "best_relative_depth", pd.NA)]
    assert across["value"] == pytest.approx(np.mean(means)) and across["n"] == 3
    assert across["p"] == pytest.approx(st.ttest_1samp(means, 0.5).pvalue)
    half = st.t.ppf(0.975, 2) * np.std(means, ddof=1) / np.sqrt(3)
    assert across["ci_high"] - across["value"] == pytest.approx(half)
    pooled_r3 = get.loc[("electrodes", "all", "r", 3)]
    assert pooled_r3["value"] == pytest.approx(table.r_layer_3.mean()) and pooled_r3["n"] == 8


def test_permutation_p_values_are_valid_for_noise():
    """Pure-noise channels, two held-out stories: at most 5 % of p-values below 0.05, per target and
    per channel (folds are tested one by one and combined; shifting both folds independently and
    averaging gave 13 %)."""
    rng = np.random.default_rng(8)
    feats = _features(rng, n_words=220)
    recs = {"01": _patient(rng, feats, 60)}
    ds = encode_dataset(feats, recs, modality="ieeg", design=DESIGN, encoding=dict(SMALL, n_permutations=400))
    assert float((ds.p < 0.05).mean()) <= 0.05
    assert float((ds.p_channel < 0.05).mean()) <= 0.05


def test_pooled_scores_survive_the_store(pooled, tmp_path):
    """Zarr round trip (labels come back as numpy StringDType): CSV, electrode view and table unchanged."""
    from brainalign.encoding.electrodes import electrode_table
    from brainalign.io.store import read_zarr, write_zarr

    write_zarr(pooled, tmp_path / "ieeg.zarr")
    back = read_zarr(tmp_path / "ieeg.zarr", load=True)
    assert back.attrs["subject_fits"] == "separate" and is_pooled(back)
    np.testing.assert_array_equal(own_channels(back).r.values, own_channels(pooled).r.values)
    a, b = scores_to_frame(pooled), scores_to_frame(back)
    assert len(a) == len(b) and list(a.columns[:13]) == list(b.columns[:13]) and set(a.columns) == set(b.columns)
    assert list(a.columns[11:13]) == ["channel_subject", "channel_name"]
    np.testing.assert_array_equal(a.r.values, b.r.values)
    ta, tb = electrode_table(pooled), electrode_table(back)
    assert ta.target.tolist() == tb.target.tolist() and ta.significant.tolist() == tb.significant.tolist()
