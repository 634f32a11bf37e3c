"""Layer profiles, best layers and the hierarchy on synthetic Scores with planted, known answers
(brainalign.analyses.hierarchy)."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign import analyses as A
from brainalign.analyses.synthetic import make_scores


def test_missing_region_coordinate_is_a_clear_error(fmri):
    with pytest.raises(ValueError, match="region"):
        A.layer_profiles(fmri.drop_vars("region"))


def test_missing_relative_depth_is_a_clear_error(fmri):
    with pytest.raises(ValueError, match="relative_depth"):
        A.best_layers(fmri.drop_vars("relative_depth"))


def test_best_layers_recover_planted_depths(fmri, planted):
    best = A.best_layers(fmri).set_index("region")
    for name in ("early", "middle", "late"):
        assert best.loc[name, "best_relative_depth"] == pytest.approx(planted[name]["depth"])
        assert best.loc[name, "best_layer"] == round(10 * planted[name]["depth"])
        assert best.loc[name, "subject_depth_ci_low"] <= planted[name]["depth"] <= best.loc[name, "subject_depth_ci_high"]
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
