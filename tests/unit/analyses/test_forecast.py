"""Forecast windows on synthetic Scores with a planted distance (brainalign.analyses.forecast)."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign import analyses as A
from brainalign.analyses.synthetic import make_scores


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
