"""Noise ceilings on synthetic subjects/repeats with a known shared signal."""

import numpy as np
import pytest

from brainalign.encoding.ceiling import intersubject_ceiling, normalize_by_ceiling, repeat_ceiling


def test_intersubject_ceiling_matches_theory():
    rng = np.random.default_rng(0)
    n_sub, n, sigma = 5, 20000, np.array([0.5, 1.0, 2.0])
    signal = rng.standard_normal((n, 3))
    data = signal[None] + rng.standard_normal((n_sub, n, 3)) * sigma
    isc = intersubject_ceiling(data)
    assert isc.shape == (n_sub, 3)
    # corr(s + e, s + mean of (N-1) others' noise) with unit-variance s
    expected = 1 / np.sqrt((1 + sigma**2) * (1 + sigma**2 / (n_sub - 1)))
    np.testing.assert_allclose(isc.mean(0), expected, atol=0.02)


def test_intersubject_ceiling_is_zero_without_shared_signal():
    rng = np.random.default_rng(1)
    isc = intersubject_ceiling(rng.standard_normal((4, 5000, 50)))
    assert abs(isc.mean()) < 0.01


def test_repeat_ceiling_matches_theory():
    rng = np.random.default_rng(2)
    k, n, sigma = 6, 20000, np.array([1.0, 3.0])
    signal = rng.standard_normal((n, 2))
    reps = signal[None] + rng.standard_normal((k, n, 2)) * sigma
    # a perfect model of the signal correlates with the k-repeat mean by sqrt(1 / (1 + sigma^2 / k))
    expected = np.sqrt(1 / (1 + sigma**2 / k))
    np.testing.assert_allclose(repeat_ceiling(reps, n_splits=20), expected, atol=0.03)
    perfect = np.corrcoef(signal[:, 1], reps.mean(0)[:, 1])[0, 1]
    assert perfect == pytest.approx(expected[1], abs=0.02)


def test_normalize_by_ceiling():
    with pytest.warns(UserWarning, match="1 targets"):
        out = normalize_by_ceiling(np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.01, 0.6]))
    np.testing.assert_allclose(out, [0.2, np.nan, 0.5])


def test_bad_shapes():
    with pytest.raises(ValueError, match="n_subjects"):
        intersubject_ceiling(np.zeros((1, 10, 2)))
    with pytest.raises(ValueError, match="n_repeats"):
        repeat_ceiling(np.zeros((10, 2)))
