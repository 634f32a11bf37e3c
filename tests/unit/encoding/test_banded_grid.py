"""Banded ridge on a grid of band penalties (encoding/banded.py), on planted truth, checked against
the single-band solver it nests and against himalaya's banded ridge."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.encoding.banded import cross_validate_banded, cross_validate_banded_grid
from brainalign.encoding.cv import cross_validate

ALPHAS = np.logspace(-1, 4, 6)


def _planted(seed: int = 0, n: int = 240, p: int = 30, q: int = 60, n_noise: int = 4):
    """Targets 0-7 driven by the first space only; targets 8-15 by both spaces; the rest noise."""
    rng = np.random.default_rng(seed)
    Xp, Xw = rng.standard_normal((n, p)), rng.standard_normal((n, q))
    only_p = Xp @ rng.standard_normal((p, 8)) / np.sqrt(p)
    both = (Xp @ rng.standard_normal((p, 8)) / np.sqrt(p) + Xw @ rng.standard_normal((q, 8)) / np.sqrt(q))
    Y = np.concatenate([only_p, both, np.zeros((n, n_noise))], axis=1) + rng.standard_normal((n, 16 + n_noise))
    groups = np.repeat(["a", "b", "c"], n // 3)
    return Xp, Xw, Y, groups


def test_useless_band_is_left_out_and_the_joint_fit_nests_the_first_space():
    Xp, Xw, Y, groups = _planted()
    rng = np.random.default_rng(1)
    noise_band = rng.standard_normal(Xw.shape)                # carries nothing about Y
    spaces = {"present": Xp, "window": noise_band}
    res = cross_validate_banded_grid(spaces, Y, groups, alphas=ALPHAS, inner_folds=4)
    greedy = cross_validate_banded_grid(spaces, Y, groups, alphas=ALPHAS, inner_folds=4, min_improvement=0.0)
    alone = cross_validate(Xp, Y, groups, alphas=ALPHAS, inner_folds=4)
    # the useless band is left out in most fits (chance alone lowers the inner-CV error now and then),
    # more often with the margin than when the least inner-CV error decides alone
    left = (res.scalings_folds[:, 0, :16] == 0).mean()
    assert left > 0.5 and left > (greedy.scalings_folds[:, 0, :16] == 0).mean()
    # where it is left out in every fold the joint model is the first space's model exactly
    out = res.scalings[0] == 0
    assert out.sum() >= 4
    np.testing.assert_allclose(res.r[out], alone.r[out], atol=1e-5)
    # the loss stays small: never the shared penalty's systematic drop
    assert np.mean(res.r[:16] - alone.r[:16]) > -0.01
    shared = cross_validate(np.concatenate([Xp, noise_band], 1), Y, groups, alphas=ALPHAS, inner_folds=4)
    assert np.mean(shared.r[:16] - alone.r[:16]) < np.mean(res.r[:16] - alone.r[:16]) - 0.03


def test_informative_band_gets_a_penalty_and_raises_the_score():
    Xp, Xw, Y, groups = _planted()
    res = cross_validate_banded_grid({"present": Xp, "window": Xw}, Y, groups, alphas=ALPHAS, inner_folds=4)
    alone = cross_validate(Xp, Y, groups, alphas=ALPHAS, inner_folds=4)
    assert (res.scalings[0, 8:16] > 0).all()
    assert np.mean(res.r[8:16] - alone.r[8:16]) > 0.1
    assert res.scalings_folds.shape == (3, 1, Y.shape[1]) and res.spaces == ["present", "window"]


def test_grid_agrees_with_himalaya_banded_ridge():
    pytest.importorskip("himalaya")
    Xp, Xw, Y, groups = _planted(seed=2)
    grid = cross_validate_banded_grid({"present": Xp, "window": Xw}, Y, groups, alphas=ALPHAS, inner_folds=4)
    him = cross_validate_banded({"present": Xp, "window": Xw}, Y, groups, alphas=ALPHAS, inner_folds=4, n_iter=12)
    planted = slice(0, 16)
    np.testing.assert_allclose(grid.r[planted], him.r[planted], atol=0.05)
    assert abs(np.mean(grid.r[planted]) - np.mean(him.r[planted])) < 0.02


def test_bad_spaces_are_named():
    Xp, Xw, Y, groups = _planted()
    with pytest.raises(ValueError, match="'window'"):
        cross_validate_banded_grid({"present": Xp, "window": Xw[:10]}, Y, groups)
    with pytest.raises(ValueError, match="scalings"):
        cross_validate_banded_grid({"present": Xp, "window": Xw}, Y, groups, scalings=[-1.0])
