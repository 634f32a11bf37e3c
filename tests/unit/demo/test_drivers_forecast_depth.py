"""Demo regions whose word ahead comes from another layer (issue 17, part 2: a planted forecast depth k)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.synthetic_features import random_features

from brainalign.demo.drivers import region_latents
from brainalign.demo.params import DEFAULT_PARAMS, resolve_params

OPTS = dict(n_latents=3, n_pcs=4, specificity=0.0, specificity_distance=3, forecast_weight=0.6)


def _span_r2(y: np.ndarray, basis: np.ndarray) -> float:
    """R² of the least-squares fit of ``y`` on ``basis`` (with an intercept)."""
    x = np.column_stack([basis, np.ones(len(basis))])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(1 - ((y - x @ coef) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())


def _future_part(feats, layer: int, d: int, forecast_layer: int | None) -> tuple[dict, dict]:
    """The word-ahead part (word t's latents minus its present share, / w) and the present latents."""
    now = region_latents(feats, layer, forecast_distance=0, rng=np.random.default_rng(5), **OPTS)
    mixed = region_latents(feats, layer, forecast_distance=d, rng=np.random.default_rng(5),
                           forecast_layer=forecast_layer, **OPTS)
    w = OPTS["forecast_weight"]
    return {s: (mixed[s] - np.sqrt(1 - w * w) * now[s]) / w for s in feats}, now


def test_word_ahead_comes_from_the_forecast_layer():
    feats = random_features(np.random.default_rng(0), 5, 12, 200)
    d = 7
    ahead, now = _future_part(feats, layer=1, d=d, forecast_layer=4)
    for s, f in feats.items():
        fut = ahead[s][: 200 - d]                  # row t: the latents of word t + d
        np.testing.assert_array_equal(ahead[s][200 - d:], 0.0)
        later = f.hidden.values[d:]
        # the latents are projections of layer 4's features (specificity 0), not of layer 1's
        assert _span_r2(fut, later[:, 4]) > 0.99
        assert _span_r2(fut, later[:, 1]) < 0.3


def test_without_a_forecast_layer_the_word_ahead_is_the_present_layers():
    feats = random_features(np.random.default_rng(1), 4, 6, 120)
    for k in (None, 2):  # None and the planted layer itself: one and the same region
        ahead, now = _future_part(feats, layer=2, d=3, forecast_layer=k)
        for s in feats:
            np.testing.assert_allclose(ahead[s][:117], now[s][3:], atol=1e-10)


def test_forecast_layer_outside_the_features_is_an_error():
    feats = random_features(np.random.default_rng(2), 3, 4, 30)
    with pytest.raises(ValueError, match="forecast_layer 9 outside 0..2"):
        region_latents(feats, 1, forecast_distance=2, rng=np.random.default_rng(0), forecast_layer=9, **OPTS)


def test_params_forecast_depth_checked_and_default_regions_unchanged():
    regions = resolve_params(None)["regions"]
    assert all("forecast_depth" not in r for r in regions)  # the default truth.json echo stays as it was
    assert [r["name"] for r in regions] == [r["name"] for r in DEFAULT_PARAMS["regions"]]
    ok = resolve_params({"regions": [{"name": "f", "relative_depth": 0.2, "forecast_distance": 10,
                                      "forecast_depth": 0.8}]})
    assert ok["regions"][0]["forecast_depth"] == 0.8
    with pytest.raises(ValueError, match=r"regions\[0\].forecast_depth"):
        resolve_params({"regions": [{"name": "f", "relative_depth": 0.2, "forecast_distance": 10,
                                     "forecast_depth": 1.5}]})
    with pytest.raises(ValueError, match=r"regions\[0\].forecast_depth.*forecast_distance 0"):
        resolve_params({"regions": [{"name": "f", "relative_depth": 0.2, "forecast_depth": 0.5}]})
