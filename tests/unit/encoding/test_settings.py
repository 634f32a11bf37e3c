"""Config `encoding` section -> encode_dataset arguments."""

import numpy as np
import pytest

from brainalign.config_sections import with_defaults
from brainalign.encoding.settings import encoding_settings, select_layers


def test_alpha_grid_and_layer_keys_are_split_off():
    enc, layers, stride = encoding_settings(with_defaults(
        "encoding", {"alphas": {"start": -1, "stop": 2, "num": 4}, "inner_folds": 5, "layers": None, "layer_stride": 3}),
        seed=7)
    np.testing.assert_allclose(enc["alphas"], [0.1, 1.0, 10.0, 100.0])
    assert enc["seed"] == 7 and enc["inner_folds"] == 5
    assert "layers" not in enc and "layer_stride" not in enc
    assert layers is None and stride == 3


@pytest.mark.parametrize("available, layers, stride, expected", [
    (range(31), None, 1, None),
    (range(31), None, 2, list(range(0, 31, 2))),
    (range(29), None, 3, list(range(0, 29, 3)) + [28]),  # the last layer is always kept
    (range(31), [4, 9], 2, [4, 9]),                        # an explicit list wins
])
def test_select_layers(available, layers, stride, expected):
    assert select_layers(list(available), layers, stride) == expected
