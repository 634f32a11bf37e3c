"""Forecast depth (issue 17, part 2): windows from any layer, the gain map over (d, k), k* per region
and its correlation with the hierarchy, on synthetic recordings with a planted k*."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from brainalign.encoding.settings import design_settings, solver_settings
from tests.synthetic_features import random_features

from brainalign.analyses.forecast_depth import (DEPTH_DIM, best_forecast_depth, depth_gain, depth_gain_table,
                                                depth_grid, depth_scores, depth_window,
                                                forecast_hierarchy_correlation)
from brainalign.design.fmri import apply_operator, fmri_operator
from brainalign.encoding import encode_dataset

TR = 2.0
DESIGN = design_settings("fmri", method="fir", delays=[1, 2, 3])  # complete: the library fills nothing
ENC = solver_settings(seed=0, alphas=np.logspace(-1, 5, 7).tolist(), inner_folds=3)
PRESENT, DEEP, D = 1, 3, 12       # the "ahead" region: present word from layer 1, word t + 12 from layer 3


def _shifted(x: np.ndarray, d: int) -> np.ndarray:
    """Row t holds row t + d (zeros past the end)."""
    out = np.zeros_like(x)
    out[: len(x) - d] = x[d:]
    return out


def _recordings(rng: np.random.Generator, feats: dict, subjects=("01", "02", "03"), per_region: int = 5) -> dict:
    """Three regions of ``per_region`` voxels: ``ahead`` (present layer 1 + layer 3's word t + D),
    ``present`` (layer 1 only) and ``noise``."""
    w = rng.standard_normal((feats["s1"].sizes["feature"], 2))  # two latents per region
    mixing = rng.standard_normal((2, 2, per_region))  # region x latent x voxel, shared by stories and subjects
    regions = ["ahead"] * per_region + ["present"] * per_region + ["noise"] * per_region
    recs = {}
    for sub in subjects:
        recs[sub] = {}
        for s, f in feats.items():
            now = f.hidden.sel(layer=PRESENT).values @ w
            ahead = np.sqrt(0.5) * now + np.sqrt(0.5) * _shifted(f.hidden.sel(layer=DEEP).values @ w, D)
            times = (np.arange(2, int(f.onset.values[-1] / TR) + 8) + 0.5) * TR
            op = fmri_operator(f.onset.values, times, TR)
            data = rng.standard_normal((times.size, 3 * per_region))
            for j, lat in enumerate((ahead, now)):
                sig = apply_operator(op, xr.DataArray(lat, dims=("word", "feature"))).values
                mix = sig @ mixing[j]
                data[:, j * per_region:(j + 1) * per_region] += 1.5 * mix / mix.std(0)
            recs[sub][s] = xr.DataArray(data.astype(np.float32), dims=("time", "voxel"), coords={
                "time": times, "x": ("voxel", np.arange(3 * per_region) * 4.0), "y": ("voxel", np.zeros(3 * per_region)),
                "z": ("voxel", np.ones(3 * per_region)), "region": ("voxel", regions)}, attrs={"tr": TR})
    return recs


def _grid(feats: dict, recs: dict, penalty: str) -> xr.Dataset:
    """The (d, k) grid with the schema's forecast settings (window scalings, min improvement) and ``penalty``."""
    fc = _section(penalty=penalty)
    return depth_scores(feats, recs, present_layers=[PRESENT], depth_layers=[1, 2, DEEP], distances=[2, D],
                        width=fc["width"], combine=fc["combine"], penalty=fc["penalty"],
                        scalings=fc["window_scalings"], min_improvement=fc["window_min_improvement"],
                        modality="fmri", design=DESIGN, encoding=ENC)


@pytest.fixture(scope="module")
def planted():
    """Base scores, the (d, k) grid and the gain map of the synthetic study (banded penalty, the default)."""
    rng = np.random.default_rng(7)
    # 720 words per story: with 360 the held-out noise alone moves a 5-voxel region's F by up to ~0.015
    feats = random_features(rng, 4, 6, 720)
    recs = _recordings(rng, feats)
    base = encode_dataset({s: f.sel(layer=[PRESENT]) for s, f in feats.items()}, recs, modality="fmri",
                          design=DESIGN, encoding=ENC)
    grid = _grid(feats, recs, "banded")
    return feats, recs, base, grid, depth_gain(base, grid)


def test_window_holds_the_chosen_layers_future_words():
    rng = np.random.default_rng(0)
    feats = random_features(rng, 4, 3, 20)
    window = depth_window(feats, depth_layer=3, distance=4, width=2)
    assert set(window) == set(feats)
    out = window["s1"]
    assert out.hidden.dims == ("word", "layer", "feature") and out.hidden.shape == (20, 1, 6)
    assert out.layer.values.tolist() == [3]
    x = feats["s1"].hidden.values
    for t in range(20):  # layer 3's words t+4, t+5, zeros past the story's end
        for j in range(2):
            want = x[t + 4 + j, 3] if t + 4 + j < 20 else np.zeros(3)
            np.testing.assert_allclose(out.hidden.values[t, 0, 3 * j:3 * (j + 1)], want)


def test_window_of_a_missing_layer_names_it():
    feats = random_features(np.random.default_rng(0), 3, 2, 10)
    with pytest.raises(ValueError, match="layer 7 is not in the features of story 's1'"):
        depth_window(feats, depth_layer=7, distance=1)


def test_missing_present_layer_names_it(planted):
    feats, recs, _, _, _ = planted
    with pytest.raises(ValueError, match=r"present layers \[9\] are not in the features"):
        depth_scores(feats, recs, present_layers=[9], depth_layers=[1], distances=[2], width=1, combine="concat",
                     penalty="banded", scalings=[1.0], min_improvement=0.03, modality="fmri", design=DESIGN,
                     encoding=ENC)


def test_grid_has_distance_and_depth_dims(planted):
    feats, _, base, grid, gain = planted
    assert grid.r.sizes["distance"] == 2 and grid.r.sizes[DEPTH_DIM] == 3
    np.testing.assert_allclose(grid.depth_relative_depth.values, [1 / 3, 2 / 3, 1.0])
    assert gain.dims == ("subject", "region", "distance", DEPTH_DIM)


def test_planted_forecast_depth_is_recovered(planted):
    _, _, _, _, gain = planted
    best = best_forecast_depth(gain, min_gain=0.01, alpha=0.05).set_index("region")
    mean = gain.mean("subject")
    # the planted cell wins for the forecast region, by a margin over the present layer's window
    assert best.loc["ahead", "significant"]
    assert best.loc["ahead", "k_star"] == DEEP and best.loc["ahead", "d_star"] == D
    assert best.loc["ahead", "k_star_relative_depth"] == pytest.approx(1.0)
    ahead = mean.sel(region="ahead", distance=D)
    assert float(ahead.sel({DEPTH_DIM: DEEP})) > float(ahead.sel({DEPTH_DIM: PRESENT})) + 0.05
    # regions without a look-ahead gain nothing
    for name in ("present", "noise"):
        assert not best.loc[name, "significant"] and best.loc[name, "k_star"] == -1 and best.loc[name, "d_star"] == 0
    assert float(mean.sel(region="present").max()) < 0.02
    # banded penalty: a useless window costs ~0, so no cell of a region without look-ahead is biased down
    for name in ("present", "noise"):
        assert float(abs(mean.sel(region=name)).max()) <= 0.01, (name, mean.sel(region=name).values)


def test_shared_penalty_biases_the_gain_down_where_banded_does_not(planted):
    feats, recs, base, grid, gain = planted
    shared = _grid(feats, recs, "shared")
    assert grid.attrs["penalty"] == "banded" and shared.attrs["penalty"] == "shared"
    assert float(shared.window_scaling.min()) == 1.0 and float(grid.window_scaling.min()) == 0.0  # window left out
    g_shared = depth_gain(base, shared).mean("subject").sel(region="present")
    g_banded = gain.mean("subject").sel(region="present")
    # one penalty over present + window: the window's columns cost the joint model in every cell
    assert float(g_shared.mean()) < float(g_banded.mean()) - 0.01
    assert float(g_shared.max()) < 0


def test_gain_table_rows_and_statistics(planted):
    _, _, _, _, gain = planted
    table = depth_gain_table(gain)
    assert len(table) == 3 * 2 * 3
    assert list(table.columns[:4]) == ["region", DEPTH_DIM, "depth_relative_depth", "distance"]
    row = table[(table.region == "ahead") & (table[DEPTH_DIM] == DEEP) & (table.distance == D)].iloc[0]
    assert row["mean"] == pytest.approx(float(gain.sel(region="ahead", distance=D, **{DEPTH_DIM: DEEP}).mean()))
    assert row["ci_low"] < row["mean"] < row["ci_high"] and row["p"] < 0.05 and row["n_subjects"] == 3


def _gain(cells: dict[str, tuple[int, int, float]], n_subjects: int = 4) -> xr.DataArray:
    """A gain map with one planted peak (d, k, height) per region, small subject noise elsewhere."""
    rng = np.random.default_rng(1)
    distances, ks = [2, 5, 10, 20], [0, 4, 8, 12]
    names = list(cells)
    data = rng.normal(0, 0.003, (n_subjects, len(names), len(distances), len(ks)))
    for j, (name, (d, k, h)) in enumerate(cells.items()):
        data[:, j, distances.index(d), ks.index(k)] += h + rng.normal(0, 0.005, n_subjects)
    return xr.DataArray(data, dims=("subject", "region", "distance", DEPTH_DIM), coords={
        "subject": [f"0{i}" for i in range(n_subjects)], "region": names, "distance": distances, DEPTH_DIM: ks,
        "depth_relative_depth": (DEPTH_DIM, np.array(ks) / 12)})


def test_hierarchy_correlation_of_d_star_and_k_star():
    gain = _gain({"a1": (2, 0, 0.05), "stg": (5, 4, 0.05), "ifg": (10, 8, 0.05), "pfc": (20, 12, 0.05),
                  "flat": (2, 0, 0.0)})
    best = best_forecast_depth(gain)
    assert best.set_index("region")["k_star"].to_dict() == {"a1": 0, "stg": 4, "ifg": 8, "pfc": 12, "flat": -1}
    position = {"a1": 1, "stg": 2, "ifg": 3, "pfc": 4, "flat": 5}
    corr = forecast_hierarchy_correlation(position, best).set_index("quantity")
    # the unit without a significant gain is left out: 4 units, perfectly ordered
    assert corr.loc["d_star", "n"] == 4 and corr.loc["d_star", "spearman_rho"] == pytest.approx(1.0)
    assert corr.loc["k_star_relative_depth", "spearman_rho"] == pytest.approx(1.0)
    reverse = forecast_hierarchy_correlation({k: -v for k, v in position.items()}, best).set_index("quantity")
    assert reverse.loc["k_star_relative_depth", "spearman_rho"] == pytest.approx(-1.0)


def test_hierarchy_correlation_needs_three_significant_units():
    best = best_forecast_depth(_gain({"a1": (2, 0, 0.05), "stg": (5, 4, 0.05), "flat": (2, 0, 0.0)}))
    corr = forecast_hierarchy_correlation({"a1": 1, "stg": 2, "flat": 3}, best)
    assert corr["n"].tolist() == [2, 2] and corr["spearman_rho"].isna().all()


def test_gain_without_grid_dims_is_an_error(planted):
    _, _, base, grid, _ = planted
    with pytest.raises(ValueError, match="'depth_layer'"):
        depth_gain(base, grid.isel({DEPTH_DIM: 0}, drop=True))


def test_single_subject_uses_min_gain_only():
    gain = _gain({"a1": (5, 4, 0.05), "flat": (2, 0, 0.0)}, n_subjects=1)
    best = best_forecast_depth(gain, min_gain=0.02).set_index("region")
    assert best.loc["a1", "k_star"] == 4 and np.isnan(best.loc["a1", "p"])
    assert best.loc["flat", "k_star"] == -1
    assert isinstance(depth_gain_table(gain), pd.DataFrame)


def _section(**over) -> dict:
    from brainalign.config_sections import with_defaults

    return with_defaults("analyses", {"forecast": over})["forecast"]


def test_grid_defaults_span_the_depth_and_explicit_layers_are_checked():
    from brainalign.errors import ConfigError

    present, ks, distances = depth_grid(_section(), range(31), [0, 6, 12, 18, 24, 30])
    assert present == [0, 6, 12, 24, 30]  # the forecast analysis' own n_layers (5) among the base layers
    assert ks == [0, 10, 20, 30] and distances == [1, 2, 4, 6, 8, 12, 20, 30]  # schema defaults: 4 layers
    present, ks, distances = depth_grid(_section(layers=[6], depth_layers=[6, 24], depth_distances=[20]),
                                        range(31), [6, 24])
    assert (present, ks, distances) == ([6], [6, 24], [20])
    with pytest.raises(ConfigError, match="analyses.forecast.depth_layers"):
        depth_grid(_section(depth_layers=[40]), range(31), [0, 30], features_store="feats.zarr")


def test_enabled_by_depth_layers_or_their_number():
    from brainalign.analyses.plan import depth_enabled

    assert depth_enabled(_section())                                   # real data: 4 window layers
    assert not depth_enabled(_section(depth_layers=[]))                # [] skips it (the demo config)
    assert not depth_enabled(_section(n_depth_layers=0))
    assert not depth_enabled(_section(enabled=False, depth_layers=[3]))
    assert depth_enabled(_section(depth_layers=[3], n_depth_layers=0))
