"""Forecast depth (issue 17, part 2): windows from any layer, the gain map over (d, k), k* per region
and its correlation with the hierarchy, on synthetic recordings with a planted k*."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from brainalign.encoding.settings import design_settings, solver_settings
from tests.synthetic_features import random_features

from brainalign.analyses.forecast_depth import (DEPTH_DIM, best_forecast_depth, depth_gain, depth_gain_table,
                                                depth_grid, depth_scores, depth_window_features,
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


@pytest.fixture(scope="module")
def planted():
    """Base scores, the (d, k) grid and the gain map of the synthetic study (one encode per cell)."""
    rng = np.random.default_rng(7)
    feats = random_features(rng, 4, 6, 360)
    recs = _recordings(rng, feats)
    encode = functools.partial(encode_dataset, recordings=recs, modality="fmri", design=DESIGN, encoding=ENC)
    base = encode({s: f.sel(layer=[PRESENT]) for s, f in feats.items()})
    grid = depth_scores(feats, lambda derived: encode(derived), present_layers=[PRESENT], depth_layers=[1, 2, DEEP],
                        distances=[2, D])
    return feats, base, grid, depth_gain(base, grid)


def test_window_joins_present_layers_with_the_chosen_layers_future_words():
    rng = np.random.default_rng(0)
    ds = random_features(rng, 4, 3, 20)["s1"]
    out = depth_window_features(ds, [0, 2], depth_layer=3, distance=4, width=2)
    assert out.hidden.dims == ("word", "layer", "feature") and out.hidden.shape == (20, 2, 9)
    assert out.block.values.tolist() == [0] * 3 + [1] * 3 + [2] * 3
    x = ds.hidden.values
    for li, layer in enumerate([0, 2]):
        np.testing.assert_array_equal(out.hidden.values[:, li, :3], x[:, layer])
        for t in range(20):  # both present layers get the same window: layer 3's words t+4, t+5
            for j in range(2):
                want = x[t + 4 + j, 3] if t + 4 + j < 20 else np.zeros(3)
                np.testing.assert_allclose(out.hidden.values[t, li, 3 * (j + 1):3 * (j + 2)], want)
    assert out.valid.values.tolist() == [t + 5 < 20 for t in range(20)]
    assert out.layer.values.tolist() == [0, 2] and out.attrs["forecast_depth_layer"] == 3
    np.testing.assert_allclose(out.relative_depth.values, ds.relative_depth.sel(layer=[0, 2]).values)


def test_window_of_a_missing_layer_names_it():
    ds = random_features(np.random.default_rng(0), 3, 2, 10)["s1"]
    with pytest.raises(ValueError, match="layer 7 is not in the features"):
        depth_window_features(ds, [0], depth_layer=7, distance=1)


def test_grid_has_distance_and_depth_dims(planted):
    feats, base, grid, gain = planted
    assert grid.r.sizes["distance"] == 2 and grid.r.sizes[DEPTH_DIM] == 3
    np.testing.assert_allclose(grid.depth_relative_depth.values, [1 / 3, 2 / 3, 1.0])
    assert gain.dims == ("subject", "region", "distance", DEPTH_DIM)


def test_planted_forecast_depth_is_recovered(planted):
    _, _, _, gain = planted
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


def test_gain_table_rows_and_statistics(planted):
    _, _, _, gain = planted
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
    _, base, grid, _ = planted
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
