"""Forecast windows built from stored features (planted values, exact equalities)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from brainalign.features import forecast_features


def planted(n_words: int = 12, n_layers: int = 2, h: int = 3) -> xr.Dataset:
    """hidden[t, l, f] = 100 t + 10 l + f: every value says where it came from."""
    t, l, f = np.meshgrid(np.arange(n_words), np.arange(n_layers), np.arange(h), indexing="ij")
    hidden = (100 * t + 10 * l + f).astype(np.float32)
    return xr.Dataset(
        {"hidden": (("word", "layer", "feature"), hidden), "perplexity": ((), 12.5)},
        coords={"word": np.arange(n_words), "text": ("word", [f"w{i}" for i in range(n_words)]),
                "onset": ("word", np.arange(n_words) * 0.5), "layer": np.arange(n_layers),
                "relative_depth": ("layer", np.arange(n_layers) / (n_layers - 1)),
                "feature": np.arange(h), "story": "s"},
        attrs={"model_id": "planted"},
    )


def test_concat_window_holds_present_then_future_words():
    ds = planted()
    out = forecast_features(ds, distances=[1, 4], width=3, combine="concat")
    assert out.hidden.dims == ("distance", "word", "layer", "feature")
    assert out.hidden.shape == (2, 12, 2, 12)
    assert out.block.values.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    x = ds.hidden.values
    for i, d in enumerate([1, 4]):
        for t in range(12):
            got = out.hidden.values[i, t]
            np.testing.assert_array_equal(got[:, :3], x[t])
            for k in range(3):
                future = x[t + d + k] if t + d + k < 12 else np.zeros_like(x[0])
                np.testing.assert_array_equal(got[:, 3 * (k + 1):3 * (k + 2)], future)
            assert bool(out.valid.values[i, t]) == (t + d + 2 < 12)


def test_sum_window_sums_future_words():
    ds = planted()
    out = forecast_features(ds, distances=[2], width=3, combine="sum")
    assert out.hidden.shape == (1, 12, 2, 6)
    x = ds.hidden.values
    t = 4                                    # words 6, 7, 8
    np.testing.assert_array_equal(out.hidden.values[0, t, :, 3:], x[6] + x[7] + x[8])
    t = 9                                    # only word 11 exists
    np.testing.assert_array_equal(out.hidden.values[0, t, :, 3:], x[11])
    assert not out.valid.values[0, 9] and out.valid.values[0, 7]


def test_width_one_distance_equals_shifted_features_and_metadata_carried():
    ds = planted()
    out = forecast_features(ds, distances=[8])
    np.testing.assert_array_equal(out.hidden.values[0, :4, :, 3:], ds.hidden.values[8:])
    np.testing.assert_array_equal(out.hidden.values[0, 4:, :, 3:], 0)
    assert out.attrs["model_id"] == "planted" and out.attrs["forecast_width"] == 1
    assert float(out.perplexity) == 12.5
    np.testing.assert_array_equal(out.onset.values, ds.onset.values)
    assert out.relative_depth.dims == ("layer",)


def test_distance_beyond_story_is_all_invalid():
    out = forecast_features(planted(n_words=5), distances=[5])
    assert not out.valid.values.any()
    np.testing.assert_array_equal(out.hidden.values[0, :, :, 3:], 0)


@pytest.mark.parametrize("kwargs,match", [
    ({"distances": [0]}, "distances"),
    ({"distances": []}, "distances"),
    ({"distances": [1], "width": 0}, "width"),
    ({"distances": [1], "combine": "mean"}, "combine"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        forecast_features(planted(), **kwargs)
