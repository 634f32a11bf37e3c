"""analyses.forecast.comparison_layer: the configured layer of an F(d) comparison, checked in both score sets."""

import pytest
import xarray as xr

from brainalign.analyses import comparison_layer
from brainalign.errors import ConfigError


def _scores(layers):
    return xr.Dataset(coords={"layer": list(layers)})


def test_a_layer_of_both_score_sets_and_keywords_pass():
    assert comparison_layer(4, _scores([0, 4, 8]), _scores([4, 8]), "both a and b") == 4
    assert comparison_layer("peak", _scores([0]), _scores([8]), "both a and b") == "peak"


def test_a_layer_missing_from_one_set_names_the_key_and_the_stores():
    with pytest.raises(ConfigError, match=r"analyses\.forecast\.layer") as err:
        comparison_layer(0, _scores([0, 4]), _scores([4, 8]), "both base.zarr and forecast.zarr")
    assert "base.zarr" in str(err.value) and "4" in str(err.value)
