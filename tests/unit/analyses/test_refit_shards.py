"""Sharded refits (issue 16): forecast and forecast-depth scores from target-block shards, gathered,
equal the single job's (max |dr| <= 1e-6, same alphas and window scalings), with both penalties."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from tests.synthetic_features import random_features

from brainalign.analyses.forecast_depth import depth_scores
from brainalign.analyses.forecast_fit import forecast_scores
from brainalign.analyses.refit_shards import (RefitShard, depth_shard, forecast_shard, gather_depth, gather_forecast,
                                              read_refit, refit_design_factor, write_refit)
from brainalign.design.fmri import apply_operator, fmri_operator
from brainalign.encoding.settings import design_settings, solver_settings
from brainalign.encoding.shards import Shard
from brainalign.errors import InputError

TR = 2.0
DESIGN = design_settings("fmri", method="hrf")
SUBJECTS = ("01", "02", "03")


def _encoding(ceiling: str) -> dict:
    return solver_settings(alphas=np.logspace(-1, 4, 6).tolist(), inner_folds=3, n_permutations=0, ceiling=ceiling)


def _recordings(rng, feats, n_vox=11):
    """Voxels 0-3 driven by layer 1 of word t + 3 (a forecast), the others noise."""
    recs = {sub: {} for sub in SUBJECTS}
    for s, f in feats.items():
        x = f.hidden.sel(layer=1)
        ahead = xr.zeros_like(x)
        ahead[:-3] = x.values[3:]
        times = (np.arange(2, int(f.onset.values[-1] / TR) + 8) + 0.5) * TR
        sig = apply_operator(fmri_operator(f.onset.values, times, TR), 0.5 * x + ahead).values[:, :4]
        for sub in SUBJECTS:
            data = rng.standard_normal((times.size, n_vox))
            data[:, :4] += sig / sig.std(0)
            recs[sub][s] = xr.DataArray(data.astype(np.float32), dims=("time", "voxel"), coords={
                "time": times, "x": ("voxel", np.arange(n_vox) * 4.0), "y": ("voxel", np.zeros(n_vox)),
                "z": ("voxel", np.ones(n_vox))}, attrs={"tr": TR})
    return recs


def _shards(n_blocks):
    return [Shard(id=f"g0-l0-t{t}", subjects=SUBJECTS, layer_block=0, n_layer_blocks=1, target_block=t,
                  n_target_blocks=n_blocks, mem_mb=1000) for t in range(n_blocks)]


def _compare(sharded: xr.Dataset, whole: xr.Dataset) -> float:
    assert set(sharded.data_vars) == set(whole.data_vars)
    assert sharded.attrs == whole.attrs
    assert dict(sharded.sizes) == dict(whole.sizes)
    for name in whole.coords:
        np.testing.assert_array_equal(sharded[name].values, whole[name].values, err_msg=name)
    for name in whole.data_vars:
        assert sharded[name].dims == whole[name].dims, name
        assert sharded[name].attrs == whole[name].attrs, name
        np.testing.assert_array_equal(np.isnan(sharded[name].values), np.isnan(whole[name].values), err_msg=name)
    np.testing.assert_array_equal(sharded.alpha.values, whole.alpha.values)
    np.testing.assert_array_equal(sharded.window_scaling.values, whole.window_scaling.values)
    for name in whole.data_vars:
        np.testing.assert_allclose(sharded[name].values, whole[name].values, atol=1e-6, err_msg=name)
    return float(np.nanmax(np.abs(sharded.r.values - whole.r.values)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(16)
    feats = random_features(rng, 3, 5, 120, ("s1", "s2", "s3"))
    return feats, _recordings(rng, feats)


@pytest.mark.parametrize("penalty, ceiling", [("banded", "none"), ("shared", "intersubject")])
def test_forecast_shards_give_the_single_jobs_scores(data, tmp_path, penalty, ceiling):
    feats, recs = data
    opts = dict(distances=[1, 3], width=1, combine="concat", penalty=penalty, scalings=[0.5, 1.0],
                min_improvement=0.0, modality="fmri", design=DESIGN, encoding=_encoding(ceiling))
    whole = forecast_scores(feats, recs, **opts)
    parts = []
    for shard in _shards(3):
        path = write_refit(forecast_shard(feats, recs, shard, **opts), tmp_path / f"{shard.id}.pkl")
        parts.append(read_refit(path))
    sharded = gather_forecast(parts[::-1], subjects=list(SUBJECTS))  # any order of the parts
    dr = _compare(sharded, whole)
    print(f"forecast {penalty}: max |dr| = {dr:.2e}")
    assert np.isfinite(sharded.r_window.values).all()
    assert ("ceiling" in whole) == (ceiling == "intersubject")


def test_forecast_depth_shards_give_the_single_jobs_scores(data):
    feats, recs = data
    opts = dict(present_layers=[1], depth_layers=[0, 2], distances=[1, 3], width=1, combine="concat",
                penalty="banded", scalings=[1.0], min_improvement=0.0, modality="fmri", design=DESIGN,
                encoding=_encoding("none"))
    whole = depth_scores(feats, recs, **opts)
    sharded = gather_depth([depth_shard(feats, recs, s, **opts) for s in _shards(2)], subjects=list(SUBJECTS))
    dr = _compare(sharded, whole)
    print(f"forecast depth: max |dr| = {dr:.2e}")
    np.testing.assert_array_equal(sharded.depth_relative_depth.values, whole.depth_relative_depth.values)


def test_gather_refuses_mixed_or_missing_shards(data, tmp_path):
    feats, recs = data
    opts = dict(distances=[1], width=1, combine="concat", penalty="banded", scalings=[1.0], min_improvement=0.0,
                modality="fmri", design=DESIGN, encoding=_encoding("none"))
    one, two = (forecast_shard(feats, recs, s, **opts) for s in _shards(2))
    with pytest.raises(ValueError, match="cover"):
        gather_forecast([one])  # target block 1 of 2 missing
    other = RefitShard(shard=two.shard, analysis="forecast", cells=two.cells, settings={**two.settings, "width": 2})
    with pytest.raises(ValueError, match="settings"):
        gather_forecast([one, other])
    with pytest.raises(ValueError, match="layer blocks"):
        forecast_shard(feats, recs, Shard(id="g0-l0-t0", subjects=SUBJECTS, layer_block=0, n_layer_blocks=2,
                                          target_block=0, n_target_blocks=1, mem_mb=1), **opts)
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="bad.pkl"):
        read_refit(bad)


def test_design_factor_counts_the_window():
    assert refit_design_factor("context", {}) == 1
    assert refit_design_factor("forecast", {"width": 3, "combine": "concat"}) == 4
    assert refit_design_factor("forecast_depth", {"width": 3, "combine": "sum"}) == 2
    with pytest.raises(ValueError, match="unknown"):
        refit_design_factor("encode", {})
