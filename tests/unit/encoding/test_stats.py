"""Statistics: circular-shift null on autocorrelated data, BH-FDR, group tests."""

import numpy as np
import pytest
from scipy.signal import lfilter

from brainalign.encoding.stats import circular_shift_null, fdr_bh, group_test


def _ar1(rng, n, t, phi=0.8):
    return lfilter([1.0], [1.0, -phi], rng.standard_normal((n, t)), axis=0)


def test_null_is_calibrated_and_signal_detected():
    rng = np.random.default_rng(0)
    n, t_null, t_sig = 300, 400, 20
    groups = np.repeat(["a", "b"], n // 2)
    # Null: prediction and data are independent but both strongly autocorrelated, the case where a
    # sample permutation would give far too many false positives.
    y_null, p_null = _ar1(rng, n, t_null), _ar1(rng, n, t_null)
    shared = _ar1(rng, n, t_sig)
    y_sig = shared + 0.8 * _ar1(rng, n, t_sig)
    p_sig = shared + 0.8 * _ar1(rng, n, t_sig)
    y, pred = np.hstack([y_null, y_sig]), np.hstack([p_null, p_sig])
    r, null, p = circular_shift_null(y, pred, groups, n_permutations=500, seed=1)
    assert null.shape == (500, t_null + t_sig)
    fpr = np.mean(p[:t_null] < 0.05)
    assert 0.01 <= fpr <= 0.10  # nominal 5 % (binomial sd ~1 % with 400 targets)
    sig, q = fdr_bh(p, 0.05)
    assert sig[t_null:].all()                 # every planted target found
    assert sig[:t_null].sum() <= 0.05 * sig.sum() + 2  # FDR controlled
    # the observed statistic is the mean over stories of per-story r
    from brainalign.encoding.scores import pearson_r

    expect = np.mean([pearson_r(y[groups == g], pred[groups == g]) for g in ("a", "b")], axis=0)
    np.testing.assert_allclose(r, expect, atol=1e-10)


def test_circular_shift_bad_input():
    with pytest.raises(ValueError, match="too short"):
        circular_shift_null(np.zeros((10, 2)), np.zeros((10, 2)), min_shift=5)
    with pytest.raises(ValueError, match="shapes"):
        circular_shift_null(np.zeros((10, 2)), np.zeros((10, 3)))


def test_fdr_bh_matches_the_step_up_rule():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, np.nan])
    sig, adj = fdr_bh(p, 0.05)
    # by hand: largest k with p_(k) <= k/m q, m = 8 -> k = 2 (0.008 <= 0.0125; 0.039 > 0.01875)
    np.testing.assert_array_equal(sig, [True, True, False, False, False, False, False, False, False])
    assert np.isnan(adj[-1])
    assert adj[0] == pytest.approx(0.008)  # min over j >= 1 of p_(j) m / j = 0.008 * 8 / 2


def test_group_signflip_exact_and_t():
    scores = np.array([[0.2, 0.1], [0.3, -0.1], [0.25, 0.05], [0.1, -0.02], [0.15, 0.0]])
    stat, p = group_test(scores, method="signflip")
    np.testing.assert_allclose(stat, scores.mean(0))
    assert p[0] == pytest.approx(1 / 32)  # all positive: only the identity flip is as large
    assert p[1] > 0.2
    t, pt = group_test(scores, method="t")
    assert pt[0] < 0.01 and pt[1] > 0.2
    with pytest.raises(ValueError, match="2 subjects"):
        group_test(scores[:1])


def test_group_signflip_random_null_is_calibrated():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((20, 300))
    _, p = group_test(scores, n_permutations=2000, seed=0)
    assert 0.02 <= np.mean(p < 0.05) <= 0.09


def test_combine_fold_p_is_twice_the_mean():
    from brainalign.encoding.stats import combine_fold_p

    p = np.array([[0.01, 0.4, 0.9], [0.03, 0.8, 0.2]])
    np.testing.assert_allclose(combine_fold_p(p), [0.04, 1.0, 1.0])
    np.testing.assert_allclose(combine_fold_p(p[:1]), p[0])  # one fold: its own p
    # valid under dependence: identical folds of uniform p-values stay below the level
    u = np.random.default_rng(0).uniform(size=20000)
    assert (combine_fold_p(np.stack([u, u])) <= 0.05).mean() <= 0.05
