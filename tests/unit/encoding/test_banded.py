"""Banded ridge: signal attributed to the feature space that carries it (brainalign.encoding.banded)."""

import numpy as np


def test_banded_ridge_attributes_signal_to_the_right_space():
    from brainalign.encoding.banded import cross_validate_banded

    rng = np.random.default_rng(4)
    n = 240
    lm = rng.standard_normal((n, 15)).astype(np.float32)
    control = rng.standard_normal((n, 2)).astype(np.float32)
    Y = rng.standard_normal((n, 6)).astype(np.float32)
    Y[:, :3] += lm @ rng.standard_normal((15, 3)).astype(np.float32) * 0.4
    res = cross_validate_banded({"lm": lm, "control": control}, Y, np.repeat(["a", "b"], n // 2),
                                alphas=np.logspace(-1, 5, 7), inner_folds=3, n_iter=5)
    assert res.spaces == ["lm", "control"]
    assert res.r_split.shape == (2, 6)
    assert res.r[:3].min() > 0.4
    assert (res.r_split[0, :3] > res.r_split[1, :3]).all()
    assert abs(res.r[3:].mean()) < 0.15
