"""Held-out scores per target: Pearson r and R² against scipy/closed forms (brainalign.encoding.scores)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from brainalign.encoding.scores import pearson_r, r2_score


def test_pearson_r_per_column_matches_scipy():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((50, 3))
    pred = y * [1.0, -2.0, 0.0] + rng.standard_normal((50, 3)) * [0.5, 0.5, 1.0]
    expected = [stats.pearsonr(y[:, j], pred[:, j])[0] for j in range(3)]
    np.testing.assert_allclose(pearson_r(y, pred), expected, rtol=1e-12)
    assert pearson_r(y, 3 * y + 1) == pytest.approx([1.0, 1.0, 1.0])       # invariant to scale and shift


def test_r2_is_one_minus_sse_over_the_test_variance():
    y = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0], [4.0, 2.0]])
    pred = np.array([[1.5, 2.0], [2.0, 1.0], [2.5, 2.0], [4.0, 3.0]])
    r2 = r2_score(y, pred)
    assert r2[0] == pytest.approx(1 - 0.5 / 5.0)                           # SSE 0.5, SS_tot 5 about the mean 2.5
    assert np.isnan(r2[1])                                                # constant test column: undefined
    assert r2_score(y[:, :1], np.full((4, 1), 2.5))[0] == pytest.approx(0.0)  # predicting the mean scores 0
    assert r2_score(y[:, :1], -y[:, :1])[0] < 0                            # worse than the mean is negative


def test_constant_columns_give_nan_not_a_warning():
    y = np.column_stack([np.arange(5.0), np.ones(5)])
    with np.errstate(all="raise"):
        r = pearson_r(y, np.column_stack([np.ones(5), np.arange(5.0)]))
    assert np.isnan(r).all()


@pytest.mark.parametrize("score", [pearson_r, r2_score])
def test_shape_mismatch_names_both_shapes(score):
    with pytest.raises(ValueError, match=r"y_true has shape \(4, 2\) but y_pred has shape \(4, 3\)"):
        score(np.zeros((4, 2)), np.zeros((4, 3)))
