"""brainalign.config_checks: layer lists checked against the layers a store holds."""

import pytest

from brainalign.config_checks import _ranges, check_layers
from brainalign.errors import ConfigError


def test_ranges_show_gaps():
    assert _ranges([0, 1, 2, 3, 6, 9]) == "0-3, 6, 9"
    assert _ranges([12, 0, 8, 4]) == "0, 4, 8, 12"
    assert _ranges([0, 1]) == "0, 1" and _ranges(range(31)) == "0-30"


def test_check_layers_returns_the_list_or_names_key_and_layers_present():
    assert check_layers(None, [0, 1], "encoding.layers") is None
    assert check_layers([4, 0], [0, 4, 8], "encoding.layers") == [4, 0]
    with pytest.raises(ConfigError, match=r"'encoding.layers': layer\(s\) \[5\] are not in s.zarr "
                                          r"\(expected layers present there: 0, 4, 8\); features.layers"):
        check_layers([0, 5], [0, 4, 8], "encoding.layers", "s.zarr")
    with pytest.raises(ConfigError, match=r"'features.layers': layer\(s\) \[40\] .*0-30\)$"):
        check_layers([40], range(31), "features.layers", "model m", hint=None)
    with pytest.raises(ConfigError, match="the layer list is empty"):
        check_layers([], [0, 1], "encoding.layers")
