"""Analyses on synthetic Scores with planted, known answers (brainalign.analyses)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign import analyses as A
from brainalign.analyses.synthetic import make_scores
from brainalign.analyses.units import to_units
from brainalign.config_sections import with_defaults

PLANTED = {"early": {"depth": 0.2}, "middle": {"depth": 0.5}, "late": {"depth": 0.8},
           "noise": {"amplitude": 0.0}}


def _regions(values: dict) -> dict:
    """A partial ``analyses.regions`` section with the schema's defaults (as the workflow's validation fills them)."""
    return with_defaults("analyses.regions", values)


@pytest.fixture(scope="module")
def fmri():
    return make_scores(PLANTED, n_layers=10, n_subjects=4, seed=1)


@pytest.fixture(scope="module")
def meg():
    regions = {"early": {"depth": 0.2, "latency": 0.1}, "middle": {"depth": 0.5, "latency": 0.25},
               "late": {"depth": 0.8, "latency": 0.4}}
    return make_scores(regions, modality="meg", n_layers=10, n_subjects=3, seed=2)


# --- units -------------------------------------------------------------------------------------

def test_to_units_is_the_mean_of_each_regions_targets(fmri):
    units = to_units(fmri["r"])
    idx = np.flatnonzero(fmri["region"].values == "middle")
    expected = fmri["r"].isel(voxel=idx).mean("voxel")
    np.testing.assert_allclose(units.sel(region="middle").values, expected.values, rtol=1e-6)
    assert list(units["region"].values) == ["early", "late", "middle", "noise"]   # natural order
    assert units["n_targets"].values.tolist() == [6, 6, 6, 6]


def test_missing_region_coordinate_is_a_clear_error(fmri):
    with pytest.raises(ValueError, match="region"):
        A.layer_profiles(fmri.drop_vars("region"))


def test_missing_relative_depth_is_a_clear_error(fmri):
    with pytest.raises(ValueError, match="relative_depth"):
        A.best_layers(fmri.drop_vars("relative_depth"))


def test_subject_stats_matches_scipy():
    from scipy import stats

    values = np.array([0.1, 0.3, 0.2, 0.25])
    st = A.subject_stats(xr.DataArray(values, dims="subject"))
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / 2
    assert float(st["ci_high"]) == pytest.approx(values.mean() + half)
    assert float(st["p"]) == pytest.approx(stats.ttest_1samp(values, 0, alternative="greater").pvalue)


# --- hierarchy ---------------------------------------------------------------------------------

def test_best_layers_recover_planted_depths(fmri):
    best = A.best_layers(fmri).set_index("region")
    for name in ("early", "middle", "late"):
        assert best.loc[name, "best_relative_depth"] == pytest.approx(PLANTED[name]["depth"])
        assert best.loc[name, "best_layer"] == round(10 * PLANTED[name]["depth"])
        assert best.loc[name, "subject_depth_ci_low"] <= PLANTED[name]["depth"] <= best.loc[name, "subject_depth_ci_high"]
        assert best.loc[name, "peak_p"] < 0.01
    assert best.loc["noise", "peak_score"] < 0.03


def test_layer_profiles_table_shape_and_significance(fmri):
    prof = A.layer_profiles(fmri)
    assert len(prof) == 4 * 11
    assert list(prof.columns[:3]) == ["region", "layer", "relative_depth"]
    late = prof[prof["region"] == "late"].set_index("layer")
    assert late.loc[8, "p_fdr"] < 0.01 and late.loc[8, "ci_low"] < late.loc[8, "mean"] < late.loc[8, "ci_high"]
    assert (prof[prof["region"] == "noise"]["p_fdr"] > 0.05).mean() > 0.8


def test_best_layer_map_keeps_coordinates(fmri):
    m = A.best_layer_map(fmri)
    assert m.sizes["voxel"] == fmri.sizes["voxel"]
    for c in ("x", "y", "z", "region"):
        assert c in m.coords
    early = m["best_relative_depth"].where(m["region"] == "early", drop=True)
    assert np.all(np.abs(early.values - 0.2) <= 0.1)
    assert m.attrs["affine"] == fmri.attrs["affine"]


def test_meg_latency_and_best_layer(meg):
    lat = A.peak_latency(meg).set_index("region")
    assert lat.loc["early", "latency"] == pytest.approx(0.1)
    assert lat.loc["late", "latency"] == pytest.approx(0.4)
    best = A.best_layers(meg)
    corr = A.hierarchy_correlation(lat["latency"], best)
    assert corr["spearman_rho"] == pytest.approx(1.0)
    assert corr["n"] == 3


def test_hierarchy_correlation_with_a_given_ordering(fmri):
    best = A.best_layers(fmri)
    corr = A.hierarchy_correlation({"early": 1, "middle": 2, "late": 3}, best)
    assert corr["spearman_rho"] == pytest.approx(1.0)
    assert corr["pearson_r"] > 0.99
    reversed_ = A.hierarchy_correlation({"early": 3, "middle": 2, "late": 1}, best)
    assert reversed_["spearman_rho"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="absent"):
        A.hierarchy_correlation({"V1": 1, "early": 2, "late": 3}, best)


def test_depth_at_fraction_closed_form():
    depth = np.linspace(0, 1, 11)
    # A linear ramp to 1 at depth 1: 95% is reached at depth 0.95 exactly (interpolated).
    assert A.depth_at_fraction(depth, depth, 0.95) == pytest.approx(0.95)
    # Saturating profile: 0, 0.5, 1, 1, ... -> 95% between depth 0.1 and 0.2 at 0.1 + 0.9*0.1.
    prof = np.minimum(depth * 5, 1.0)
    assert A.depth_at_fraction(prof, depth, 0.95) == pytest.approx(0.19)
    assert A.depth_at_fraction(np.ones(11), depth, 0.95) == 0.0
    assert np.isnan(A.depth_at_fraction(-np.ones(11), depth))
    with pytest.raises(ValueError):
        A.depth_at_fraction(prof, depth, 1.5)


def test_fraction_of_peak_table_orders_models():
    shallow = make_scores({"a": {"depth": 0.3}}, n_layers=10, noise=0.0)
    deep = make_scores({"a": {"depth": 0.7}}, n_layers=10, noise=0.0)
    table = A.fraction_of_peak_table({"shallow": shallow, "deep": deep}).set_index(["model", "region"])
    assert table.loc[("shallow", "a"), "peak_relative_depth"] == pytest.approx(0.3)
    assert table.loc[("shallow", "a"), "depth_at_fraction"] < 0.3
    assert table.loc[("deep", "a"), "depth_at_fraction"] == pytest.approx(
        table.loc[("shallow", "a"), "depth_at_fraction"] + 0.4, abs=1e-6)
    assert ("deep", "all") in table.index


# --- forecast ----------------------------------------------------------------------------------

def _forecast_sets(best_d: int = 4):
    regions = {"early": {"depth": 0.2}, "forecast": {"depth": 0.5}, "noise": {"amplitude": 0.0}}
    base = make_scores(regions, n_layers=6, n_subjects=4, noise=0.005, seed=0)
    by_d = {}
    for d in (1, 2, 4, 8, 16):
        bump = 0.1 * np.exp(-((np.log2(d) - np.log2(best_d)) ** 2))   # gain peaks at d = best_d
        reg = {**regions, "forecast": {"depth": 0.5, "amplitude": 0.3 + bump}}
        by_d[d] = make_scores(reg, n_layers=6, n_subjects=4, noise=0.005, seed=d)
    return base, by_d


def test_forecast_gain_recovers_planted_distance():
    base, by_d = _forecast_sets(best_d=4)
    gain = A.forecast_gain(base, by_d)
    assert gain.dims == ("subject", "region", "distance")
    best = A.best_distance(gain, min_gain=0.01).set_index("region")
    assert best.loc["forecast", "d_star"] == 4 and best.loc["forecast", "significant"]
    assert best.loc["forecast", "gain"] == pytest.approx(0.1, abs=0.01)
    assert best.loc["early", "d_star"] == 0 and best.loc["noise", "d_star"] == 0
    table = A.forecast_table(gain)
    assert len(table) == 3 * 5 and set(table["distance"]) == {1, 2, 4, 8, 16}


def test_forecast_gain_is_exact_difference_at_fixed_layer():
    base, by_d = _forecast_sets()
    gain = A.forecast_gain(base, by_d, by=None, layer=3)
    expected = by_d[2]["r"].sel(layer=3) - base["r"].sel(layer=3)
    np.testing.assert_allclose(gain.sel(distance=2).values, expected.values, rtol=1e-6)


def test_best_distance_map_marks_forecast_voxels():
    base, by_d = _forecast_sets(best_d=8)
    m = A.best_distance_map(base, by_d, min_gain=0.05)
    fc = m["d_star"].where(m["region"] == "forecast", drop=True).values
    other = m["d_star"].where(m["region"] != "forecast", drop=True).values
    assert np.all(fc == 8) and np.all(other == 0)


def test_region_distance_map_paints_each_region_with_its_tested_d_star():
    base, by_d = _forecast_sets(best_d=8)
    best = A.best_distance(A.forecast_gain(base, by_d), min_gain=0.01)
    m = A.region_distance_map(base, best)
    labels = np.asarray(base["region"].values).astype(str)
    assert m.dims == ("voxel",) and m.sizes["voxel"] == base.sizes["voxel"]
    assert np.all(m.values[labels == "forecast"] == 8) and np.all(m.values[labels != "forecast"] == 0)
    assert {"x", "y", "z"} <= set(m.coords) or "region" in m.coords
    with pytest.raises(ValueError, match="region"):
        A.region_distance_map(base, best.rename(columns={"region": "voxel"}))
    # the figure's map: per region here; per target when every target is in region 'all'
    assert A.distance_map(base, by_d, best).attrs["per_region"]
    one = base.assign_coords(region=("voxel", np.full(base.sizes["voxel"], "all", dtype=object)))
    one_d = {d: s.assign_coords(region=one["region"]) for d, s in by_d.items()}
    flat = A.distance_map(one, one_d, A.best_distance(A.forecast_gain(one, one_d), min_gain=0.01), min_gain=0.05)
    assert not flat.attrs["per_region"]
    np.testing.assert_array_equal(flat.values, A.best_distance_map(one, one_d, min_gain=0.05)["d_star"].values)


def test_base_unit_scores_are_peak_over_layers_mean_over_subjects():
    base, _ = _forecast_sets()
    got = A.base_unit_scores(base)
    labels = np.asarray(base["region"].values).astype(str)
    for name in ("early", "forecast", "noise"):
        expected = base["r"].isel(voxel=np.flatnonzero(labels == name)).mean("voxel").max("layer").mean("subject")
        assert got[name] == pytest.approx(float(expected), rel=1e-6)
    assert got["forecast"] > got["noise"]


def test_forecast_rejects_bad_input():
    base, by_d = _forecast_sets()
    with pytest.raises(ValueError, match=">= 1"):
        A.forecast_gain(base, {0: base})
    fewer = by_d[1].isel(voxel=slice(0, 5))
    with pytest.raises(ValueError, match="voxel"):
        A.forecast_gain(base, {1: fewer})


# --- comparison --------------------------------------------------------------------------------

def test_trained_beats_random_control(fmri):
    control = make_scores({k: {**v, "amplitude": 0.05 * (v.get("amplitude", 1) > 0)} for k, v in PLANTED.items()},
                          n_layers=10, n_subjects=4, seed=7)
    cmp = A.compare_to_control(fmri, control).set_index("region")
    for name in ("early", "middle", "late"):
        assert cmp.loc[name, "difference"] > 0.2 and cmp.loc[name, "p"] < 0.001
    assert abs(cmp.loc["noise", "difference"]) < 0.03


def test_peak_scores_uses_group_best_layer(fmri):
    peaks = A.peak_scores(fmri, model="m")
    late = peaks[peaks["region"] == "late"]
    assert len(late) == 4 and set(late["layer"]) == {8}
    units = to_units(fmri["r"]).sel(region="late", layer=8)
    np.testing.assert_allclose(late["score"].to_numpy(), units.values, rtol=1e-6)


def test_model_perplexity_is_token_weighted():
    def story(ppl, n_words, tokens_per_word):
        return xr.Dataset({"perplexity": ((), ppl), "n_tokens": ("word", np.full(n_words, tokens_per_word))})
    ppl = A.model_perplexity([story(10.0, 10, 1), story(40.0, 10, 3)])
    assert ppl == pytest.approx(np.exp((10 * np.log(10) + 30 * np.log(40)) / 40))
    with pytest.raises(ValueError, match="perplexity"):
        A.model_perplexity([xr.Dataset({"n_tokens": ("word", [1])})])


def test_read_brainbench_summary_formats(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"accuracy": 0.655, "n": 100}))
    (tmp_path / "b.tsv").write_text("accuracy\tsem\n72.5\t3.1\n")
    assert A.read_brainbench_summary(tmp_path / "a.json") == pytest.approx(0.655)
    assert A.read_brainbench_summary(tmp_path / "b.tsv") == pytest.approx(0.725)
    (tmp_path / "summary.json").write_text(json.dumps({"acc": 1}))
    with pytest.raises(ValueError, match="accuracy"):
        A.read_brainbench_summary(tmp_path / "summary")
    with pytest.raises(FileNotFoundError):
        A.read_brainbench_summary(tmp_path / "missing")


def test_brain_vs_quality_correlates_across_models():
    brain = pd.DataFrame({"model": ["a", "b", "c", "d"] * 2, "region": ["x"] * 4 + ["y"] * 4,
                          "score": [0.1, 0.2, 0.3, 0.4, 0.2, 0.3, 0.35, 0.5]})
    quality = A.quality_table({"a": 80.0, "b": 40.0, "c": 20.0, "d": 10.0}, {"a": 0.5, "b": 0.6, "c": 0.7})
    table, corr = A.brain_vs_quality(brain, quality)
    assert set(table["region"]) == {"x", "y", "mean"}
    c = corr.set_index(["region", "quality"])
    assert c.loc[("mean", "perplexity"), "spearman_rho"] == pytest.approx(-1.0)
    assert c.loc[("x", "brainbench_accuracy"), "n_models"] == 3
    assert c.loc[("x", "brainbench_accuracy"), "spearman_rho"] == pytest.approx(1.0)


# --- similarity --------------------------------------------------------------------------------

def _reference_cka(x, y):
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_cka_identical_rotated_independent():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 30))
    q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    y = rng.standard_normal((400, 30))
    assert A.linear_cka(x, x) == pytest.approx(1.0, abs=1e-6)
    assert A.linear_cka(x, 2.5 * x @ q + 3.0) == pytest.approx(1.0, abs=1e-6)
    assert A.linear_cka(x, y) == pytest.approx(_reference_cka(x, y), rel=1e-5)
    assert A.linear_cka(x, y) > 0.03              # the known positive bias of plain CKA (p/n)
    assert abs(A.linear_cka(x, y, debiased=True)) < 0.02
    assert A.linear_cka(x, x @ q, debiased=True) == pytest.approx(1.0, abs=1e-6)


def _features(x: np.ndarray, story: str = "s") -> xr.Dataset:
    n, n_layer, _ = x.shape
    return xr.Dataset({"hidden": (("word", "layer", "feature"), x.astype(np.float32))},
                      coords={"word": np.arange(n), "layer": np.arange(n_layer),
                              "relative_depth": ("layer", np.arange(n_layer) / max(n_layer - 1, 1)),
                              "text": ("word", [f"w{i}" for i in range(n)]), "story": story})


def test_similarity_table_structure_and_values():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((300, 1, 16))
    # Model a: layer 0 = base, layer 1 = independent, layer 2 = base rotated.
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    xa = np.concatenate([base, rng.standard_normal((300, 1, 16)), base @ q], axis=1)
    xb = np.concatenate([base[:, :, ::-1], rng.standard_normal((300, 1, 16))], axis=1)   # permuted base
    fa = A.stack_features([_features(xa[:150], "s1"), _features(xa[150:], "s2")])
    fb = A.stack_features([_features(xb[:150], "s1"), _features(xb[150:], "s2")])
    assert fa.sizes["word"] == 300 and list(np.unique(fa["story"].values)) == ["s1", "s2"]
    table = A.similarity_table({"a": fa, "b": fb}, debiased=True)
    assert set(zip(table["model_a"], table["model_b"])) == {("a", "a"), ("a", "b"), ("b", "b")}
    ab = table[(table["model_a"] == "a") & (table["model_b"] == "b")].set_index(["layer_a", "layer_b"])["similarity"]
    assert ab[(0, 0)] == pytest.approx(1.0, abs=1e-5) and ab[(2, 0)] == pytest.approx(1.0, abs=1e-5)
    assert abs(ab[(1, 0)]) < 0.05 and abs(ab[(0, 1)]) < 0.05
    single = A.layer_similarity(fa, fb, debiased=True)
    assert float(single.sel(layer_a=1, layer_b=1)) == pytest.approx(
        A.linear_cka(xa[:, 1], xb[:, 1], debiased=True), abs=1e-5)


def test_rsa_identity_and_scale_invariance():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((120, 2, 10))
    x[:, 1] = 3 * x[:, 0] + 1          # scaled + shifted copy: same correlation RDM
    f = A.stack_features([_features(x)])
    sim = A.layer_similarity(f, f, method="rsa")
    assert float(sim.sel(layer_a=0, layer_b=1)) == pytest.approx(1.0, abs=1e-6)


def test_similarity_rejects_misaligned_words():
    rng = np.random.default_rng(3)
    fa = A.stack_features([_features(rng.standard_normal((50, 2, 4)))])
    fb = A.stack_features([_features(rng.standard_normal((40, 2, 4)))])
    with pytest.raises(ValueError, match="different numbers of words"):
        A.layer_similarity(fa, fb)


# --- context -----------------------------------------------------------------------------------

def test_context_profile_recovers_growth_with_context():
    scores = {c: make_scores({"long": {"depth": 0.6, "amplitude": 0.1 + 0.05 * i}, "flat": {"depth": 0.3}},
                             n_layers=8, n_subjects=3, seed=i)
              for i, c in enumerate([0, 8, 32, 128])}
    table = A.context_scores(scores)
    assert set(table["context"]) == {0, 8, 32, 128} and len(table) == 4 * 2 * 3
    prof = A.context_profile(table)
    gain = A.context_gain(prof).set_index("region")
    assert gain.loc["long", "gain"] == pytest.approx(0.15, abs=0.02)
    assert gain.loc["long", "best_context"] == 128
    assert abs(gain.loc["flat", "gain"]) < 0.02
    assert set(prof["best_relative_depth"][prof["region"] == "long"]) == {0.625}


# --- regions -----------------------------------------------------------------------------------

def test_label_voxels_and_channels(tmp_path, fmri, meg):
    import nibabel as nib

    from brainalign.analyses.regions import attach_regions, find_region_sources, label_channels, label_voxels

    affine = np.array(fmri.attrs["affine"])
    atlas = np.zeros(fmri.attrs["mask_shape"], dtype=np.int16)
    xyz = np.stack([fmri[c].values for c in ("x", "y", "z")] + [np.ones(fmri.sizes["voxel"])])
    ijk = np.rint(np.linalg.inv(affine) @ xyz)[:3].astype(int)
    truth = fmri["region"].values
    codes = {"early": 1, "middle": 2, "late": 3}
    for k, name in enumerate(truth):
        atlas[tuple(ijk[:, k])] = codes.get(name, 0)            # noise voxels unlabelled
    adir = tmp_path / "derivatives" / "atlas"
    adir.mkdir(parents=True)
    nib.save(nib.Nifti1Image(atlas, affine), adir / "x_dseg.nii.gz")
    pd.DataFrame({"index": [1, 2, 3], "name": ["A", "B", "C"]}).to_csv(adir / "x_dseg.tsv", sep="\t", index=False)
    groups = pd.DataFrame({"channel": meg["channel"].values, "group": meg["region"].values})
    groups.to_csv(adir / "m_channelgroups.tsv", sep="\t", index=False)

    sources = find_region_sources(tmp_path, _regions({"atlas": "auto", "atlas_labels": "auto", "channel_groups": "auto"}))
    assert sources["atlas_labels"].endswith("x_dseg.tsv")
    labelled = attach_regions(fmri.drop_vars("region"), sources)
    expected = np.array([{"early": "A", "middle": "B", "late": "C"}.get(t, "") for t in truth])
    assert (labelled["region"].values == expected).all()
    assert list(A.best_layers(labelled)["region"]) == ["A", "B", "C"]   # "" (unlabelled) dropped
    chans = attach_regions(meg.drop_vars("region"), sources)
    assert (chans["region"].values == meg["region"].values).all()
    assert (attach_regions(fmri.drop_vars("region"), None)["region"].values == "all").all()
    with pytest.raises(ValueError, match="no channel"):
        label_channels(meg, pd.DataFrame({"channel": ["X"], "group": ["g"]}))
    with pytest.raises(FileNotFoundError, match="analyses.regions.atlas"):
        find_region_sources(tmp_path, _regions({"atlas": "{bids_root}/missing.nii.gz"}))
    assert label_voxels(fmri, adir / "x_dseg.nii.gz")["region"].values[0] == "1"


def test_standardized_cka_is_not_dominated_by_an_outlier_dimension():
    rng = np.random.default_rng(4)
    shared = rng.standard_normal((300, 10))
    a = np.concatenate([shared, 100 * rng.standard_normal((300, 1))], axis=1)   # one huge private dim
    b = np.concatenate([shared, 100 * rng.standard_normal((300, 1))], axis=1)
    fa = A.stack_features([_features(a[:, None, :])])
    fb = A.stack_features([_features(b[:, None, :])])
    raw = float(A.layer_similarity(fa, fb, debiased=True)[0, 0])
    std = float(A.layer_similarity(fa, fb, debiased=True, standardize=True)[0, 0])
    assert raw < 0.1 < 0.8 < std
