"""Forecast scores with a banded or a shared penalty (analyses/forecast_fit.py) on planted fMRI:
a region driven by the present word alone must show no forecast gain, a region driven by the word d
ahead must gain most at d, and the variance partition must add up."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from tests.synthetic_features import random_features

from brainalign.encoding.settings import design_settings, solver_settings
from brainalign.analyses.forecast import band_partition, band_table, forecast_gain
from brainalign.analyses.forecast_fit import forecast_layers, forecast_scores, forecast_window, window_scores
from brainalign.design.fmri import apply_operator, fmri_operator
from brainalign.encoding import encode_dataset
from brainalign.errors import ConfigError

TR = 2.0
AHEAD = 15
ENC = solver_settings(alphas=np.logspace(-1, 4, 6).tolist(), inner_folds=3, n_permutations=0, ceiling="none")
DESIGN = design_settings("fmri", method="hrf")  # complete: the library fills nothing


def _recordings(rng, feats, subjects=("01", "02", "03"), n_each=4, n_noise=4):
    """Region 'present' driven by layer 1 of word t; 'ahead' by words t and t + AHEAD; 'noise'."""
    recs = {sub: {} for sub in subjects}
    for s, f in feats.items():
        x = f.hidden.sel(layer=1)
        future = xr.zeros_like(x)
        future[:-AHEAD] = x.values[AHEAD:]
        times = (np.arange(2, int(f.onset.values[-1] / TR) + 8) + 0.5) * TR
        op = fmri_operator(f.onset.values, times, TR)
        now = apply_operator(op, x).values[:, :n_each]
        mixed = apply_operator(op, 0.6 * x + 0.8 * future).values[:, :n_each]
        for sub in subjects:
            data = rng.standard_normal((times.size, 2 * n_each + n_noise))
            data[:, :n_each] += 1.2 * now / now.std(0)
            data[:, n_each:2 * n_each] += 1.2 * mixed / mixed.std(0)
            n_vox = data.shape[1]
            recs[sub][s] = xr.DataArray(data.astype(np.float32), dims=("time", "voxel"), coords={
                "time": times, "x": ("voxel", np.arange(n_vox) * 4.0), "y": ("voxel", np.zeros(n_vox)),
                "z": ("voxel", np.ones(n_vox)),
                "region": ("voxel", ["present"] * n_each + ["ahead"] * n_each + ["noise"] * n_noise)},
                attrs={"tr": TR})
    return recs


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(5)
    feats = random_features(rng, 2, 6, 300, ("s1", "s2", "s3"))
    recs = _recordings(rng, feats)
    base = encode_dataset(feats, recs, modality="fmri", design=DESIGN, encoding=ENC)
    opts = dict(distances=[3, AHEAD], modality="fmri", design=DESIGN, encoding=ENC)
    banded = forecast_scores(feats, recs, penalty="banded", **opts)
    shared = forecast_scores(feats, recs, penalty="shared", **opts)
    return feats, recs, base, banded, shared


def _gain(base, stack):
    by_d = {int(d): stack.sel(distance=d, drop=True) for d in stack["distance"].values}
    return forecast_gain(base, by_d, layer="peak").mean("subject"), by_d


def test_banded_gain_is_zero_without_look_ahead_and_peaks_at_the_planted_distance(planted):
    _, _, base, banded, _ = planted
    gain, _ = _gain(base, banded)
    assert banded.attrs["penalty"] == "banded" and banded["r"].dims == ("distance", "subject", "layer", "voxel")
    assert float(abs(gain.sel(region="present")).max()) <= 0.01
    ahead = gain.sel(region="ahead")
    assert float(ahead.sel(distance=AHEAD)) > max(0.05, float(ahead.sel(distance=3)) + 0.02)


def test_shared_penalty_loses_where_banded_does_not(planted):
    _, _, base, banded, shared = planted
    g_shared, _ = _gain(base, shared)
    g_banded, _ = _gain(base, banded)
    assert shared.attrs["penalty"] == "shared"
    assert float(g_shared.sel(region="present").mean()) < float(g_banded.sel(region="present").mean()) - 0.01
    assert int(g_shared.sel(region="ahead").argmax()) == 1                 # still peaks at AHEAD
    np.testing.assert_array_equal(shared["window_scaling"].values, 1.0)


def test_window_band_is_left_out_for_the_present_region(planted):
    _, _, _, banded, _ = planted
    scaling = banded["window_scaling"].sel(distance=AHEAD, layer=1)
    present, ahead = scaling.isel(voxel=slice(0, 4)), scaling.isel(voxel=slice(4, 8))
    assert bool((ahead > 0).all())
    assert float(present.mean()) < float(ahead.mean()) / 3


def test_variance_partition_adds_up_and_puts_the_gain_in_the_window(planted):
    _, _, base, banded, _ = planted
    _, by_d = _gain(base, banded)
    part = band_partition(base, by_d, layer="peak")
    np.testing.assert_allclose((part["unique_present"] + part["unique_window"] + part["shared"]).values,
                               part["joint"].values, rtol=1e-5, atol=1e-6)
    mean = part.mean("subject")
    assert float(mean["unique_window"].sel(region="ahead", distance=AHEAD)) > 0.05
    assert float(abs(mean["unique_window"].sel(region="present")).max()) < 0.015
    assert float(mean["unique_present"].sel(region="present").min()) > 0.05
    table = band_table(part)
    assert set(table["band"]) == {"unique_present", "unique_window", "shared"}
    assert len(table) == 3 * 3 * 2                                            # bands x regions x distances


def test_a_single_window_layer_joins_every_present_layer_and_bad_windows_are_named(planted):
    feats, recs, _, _, _ = planted
    window = {s: w.isel(layer=[1]) for s, w in forecast_window(feats, AHEAD).items()}
    out = window_scores(feats, window, recs, modality="fmri", design=DESIGN, encoding=ENC, scalings=[1.0])
    assert out["r"].sizes["layer"] == 2
    # the window of layer 1 alone scores the same against every present layer
    np.testing.assert_allclose(out["r_window"].isel(layer=0).values, out["r_window"].isel(layer=1).values, atol=1e-6)
    with pytest.raises(ValueError, match="penalty"):
        window_scores(feats, window, recs, modality="fmri", design=DESIGN, encoding=ENC, penalty="single")
    short = {s: w.isel(word=slice(0, 10)) for s, w in window.items()}
    with pytest.raises(ValueError, match="words"):
        window_scores(feats, short, recs, modality="fmri", design=DESIGN, encoding=ENC)


def test_forecast_layers_are_common_to_base_and_features():
    assert forecast_layers([0, 2, 4, 6, 8], range(9), {"layers": None, "n_layers": 3}) == [0, 4, 8]
    assert forecast_layers([0, 2, 4], range(9), {"layers": [2], "n_layers": 3}) == [2]
    with pytest.raises(ConfigError, match="analyses.forecast.layers"):
        forecast_layers([0, 2, 4], range(9), {"layers": [3], "n_layers": 3})
