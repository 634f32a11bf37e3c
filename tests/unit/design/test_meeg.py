"""MEG/EEG designs: word-locked epochs read at exact samples, offsets and dropped words, a known evoked
response recovered, TRF impulses (brainalign.design.meeg)."""

import numpy as np
import pytest

from brainalign.design import word_locked
from tests.design_inputs import meg_recording, word_features


def test_word_locked_reads_exact_samples():
    n = 500
    ramp = np.stack([np.arange(n), -np.arange(n)], axis=1)  # value = sample index
    rec = meg_recording(ramp)
    onsets = np.array([0.5, 1.23, 3.0])
    ep = word_locked(rec, onsets, tmin=-0.1, tmax=0.2)
    assert ep.dims == ("word", "channel", "lag")
    np.testing.assert_allclose(ep.lag.values, np.arange(-10, 21) / 100.0)
    expected = np.rint(onsets * 100)[:, None] + np.arange(-10, 21)[None]
    np.testing.assert_array_equal(ep.values[:, 0, :], expected)
    np.testing.assert_array_equal(ep.values[:, 1, :], -expected)
    assert "pos_x" in ep.coords


def test_word_locked_with_time_offset_and_dropped_words():
    rec = meg_recording(np.arange(300)[:, None], t0=1.0)  # recording starts 1 s into the story
    with pytest.warns(UserWarning, match="2 of 4 words"):
        ep = word_locked(rec, np.array([0.5, 1.5, 3.5, 3.95]), tmin=0.0, tmax=0.1)
    np.testing.assert_array_equal(ep.word.values, [1, 2])
    np.testing.assert_array_equal(ep.values[:, 0, 0], [50, 250])


def test_word_locked_recovers_a_known_evoked_response():
    sfreq, rng = 50.0, np.random.default_rng(0)
    onsets = np.sort(rng.uniform(1, 55, 100))
    kernel = np.sin(np.linspace(0, np.pi, 21))  # 0..0.4 s
    sig = np.zeros(3000)
    amp = rng.standard_normal(100)
    for o, a in zip(onsets, amp):
        i = int(np.rint(o * sfreq))
        sig[i:i + 21] += a * kernel
    ep = word_locked(meg_recording(sig[:, None], sfreq), onsets, 0.0, 0.8)
    # the regression of each lag on the word amplitude recovers the kernel
    beta = np.linalg.lstsq(amp[:, None], ep.values[:, 0, :], rcond=None)[0][0]
    np.testing.assert_allclose(beta[:21], kernel, atol=0.15)
    assert np.abs(beta[25:]).max() < 0.15
