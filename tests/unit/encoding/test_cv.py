"""Cross-validation over stories: whole stories held out, planted signal recovered, no leak, bad input named
(brainalign.encoding.cv)."""

import numpy as np
import pytest

from brainalign.encoding import cross_validate, outer_splits

# A small alpha grid and few inner folds: the tests need the behaviour, not the tuned optimum.
SMALL = {"alphas": np.logspace(-1, 5, 7).tolist(), "inner_folds": 3}


def test_outer_splits_hold_whole_stories_out():
    groups = np.repeat(["a", "b", "c", "d", "e"], [30, 20, 25, 10, 15])
    for n_folds in (None, 2, 3):
        splits = outer_splits(groups, n_folds)
        tested = np.concatenate([te for _, te in splits])
        np.testing.assert_array_equal(np.sort(tested), np.arange(groups.size))  # every row tested once
        for train, test in splits:
            assert not set(groups[train]) & set(groups[test])  # no story on both sides
            assert train.size + test.size == groups.size
    assert len(outer_splits(groups)) == 5


def test_single_story_falls_back_with_warning():
    with pytest.warns(UserWarning, match="only one story"):
        splits = outer_splits(np.zeros(50), 4)
    assert len(splits) == 4
    assert all(np.all(np.diff(te) == 1) for _, te in splits)  # contiguous blocks


def _planted(n_per_story=120, p=20, t=30, n_signal=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2 * n_per_story, p)) * rng.uniform(0.5, 50, p) + rng.uniform(-5, 5, p)
    W = rng.standard_normal((p, t))
    Y = rng.standard_normal((2 * n_per_story, t))
    Y[:, :n_signal] += 1.0 * (X - X.mean(0)) / X.std(0) @ W[:, :n_signal] / np.sqrt(p)
    return X.astype(np.float32), Y.astype(np.float32), np.repeat(["a", "b"], n_per_story)


def test_cross_validate_recovers_signal_and_noise_is_zero():
    X, Y, groups = _planted()
    res = cross_validate(X, Y, groups, **SMALL)
    assert res.r_folds.shape == (2, 30)
    assert res.r[:10].min() > 0.2
    assert abs(res.r[10:].mean()) < 0.06
    np.testing.assert_allclose(res.r, res.r_folds.mean(0))


def test_no_leak_from_the_held_out_story():
    X, Y, groups = _planted(seed=1)
    base = cross_validate(X, Y, groups, **SMALL)
    test_b = 1  # fold 1 tests story "b" and trains on "a" only
    X2, Y2 = X.copy(), Y.copy()
    rows_b = groups == "b"
    X2[rows_b] = X2[rows_b] * 7.0 + 100.0  # a wildly different scale in the held-out story
    Y2[rows_b] = Y2[rows_b][::-1]  # and scrambled targets
    other = cross_validate(X2, Y2, groups, **SMALL)
    # the model tested on "b" never saw "b": same alphas (features standardised on "a" only)
    np.testing.assert_array_equal(other.alpha_folds[test_b], base.alpha_folds[test_b])
    # while the model tested on "a" (trained on "b") did change
    assert not np.array_equal(other.alpha_folds[0], base.alpha_folds[0]) or not np.allclose(
        other.r_folds[0], base.r_folds[0])


def test_cross_validate_bad_input():
    X, Y, groups = _planted()
    with pytest.raises(ValueError, match="sample counts"):
        cross_validate(X[:-1], Y, groups)
    Yb = Y.copy()
    Yb[5, 3] = np.inf
    with pytest.raises(ValueError, match="row 5, target 3"):
        cross_validate(X, Yb, groups)
    with pytest.raises(ValueError, match="inner_folds"):
        cross_validate(X[:6], Y[:6], np.array(list("aaabbb")), inner_folds=5)


def test_constant_target_gives_nan_with_warning():
    X, Y, groups = _planted()
    Y[:, 0] = 1.0
    with pytest.warns(UserWarning, match="constant"):
        res = cross_validate(X, Y, groups, **SMALL)
    assert np.isnan(res.r[0]) and np.isfinite(res.r[1:]).all()
