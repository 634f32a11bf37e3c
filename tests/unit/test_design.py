"""Design matrices: HRF and FIR on single impulses, time-coordinate alignment, word-locked lags, TRF."""

import numpy as np
import pytest
import xarray as xr

from brainalign.design import apply_operator, fmri_design, fmri_operator, hrf, word_locked

TR = 1.5


def _words(onsets, values=None):
    onsets = np.asarray(onsets, float)
    values = np.ones((onsets.size, 1), np.float32) if values is None else np.asarray(values, np.float32)
    return xr.DataArray(values, dims=("word", "feature"),
                        coords={"word": np.arange(onsets.size), "onset": ("word", onsets)})


def _bold(times):
    return xr.DataArray(np.zeros((len(times), 2), np.float32), dims=("time", "voxel"),
                        coords={"time": np.asarray(times, float)}, attrs={"tr": TR})


@pytest.mark.parametrize("model", ["spm", "glover"])
def test_hrf_single_impulse(model):
    times = (np.arange(30) + 0.5) * TR
    design = fmri_design(_words([0.75]), _bold(times), method="hrf", hrf_model=model)
    assert design.dims == ("time", "feature")
    np.testing.assert_allclose(design.values[:, 0], hrf(times - 0.75, TR, model), rtol=1e-6, atol=1e-7)
    peak = times[np.argmax(design.values[:, 0])] - 0.75
    assert 3.5 <= peak <= 6.5  # canonical HRFs peak ~5 s after the event
    assert design.values[0, 0] == pytest.approx(0.0, abs=1e-6)  # nothing at the impulse itself
    assert design.values[:, 0].min() < 0  # the undershoot


def test_hrf_is_linear_in_words():
    times = (np.arange(40) + 0.5) * TR
    one = fmri_design(_words([3.0], [[2.0]]), _bold(times)).values
    two = fmri_design(_words([3.0, 10.0], [[2.0], [-1.0]]), _bold(times)).values
    alone = fmri_design(_words([10.0], [[-1.0]]), _bold(times)).values
    np.testing.assert_allclose(two, one + alone, atol=1e-6)


def test_fir_single_impulse_lands_delays_later():
    times = (np.arange(12) + 0.5) * TR  # TR k covers [k*TR, (k+1)*TR)
    words = _words([2 * TR + 0.1, 2 * TR + 0.7], [[1.0, 10.0], [2.0, 20.0]])  # two words in TR 2: summed
    design = fmri_design(words, _bold(times), method="fir", delays=[1, 3])
    assert design.sizes["feature"] == 4
    np.testing.assert_array_equal(design.delay.values, [1, 1, 3, 3])
    np.testing.assert_array_equal(design.source_feature.values, [0, 1, 0, 1])
    expected = np.zeros((12, 4), np.float32)
    expected[3, :2] = [3.0, 30.0]   # delay 1: TR 2 + 1
    expected[5, 2:] = [3.0, 30.0]   # delay 3: TR 2 + 3
    np.testing.assert_array_equal(design.values, expected)


def test_alignment_by_time_coordinate_with_dropped_trs():
    full = (np.arange(20) + 0.5) * TR
    kept = full[4:]  # preprocessing dropped 4 initial TRs
    words = _words([0.2, 1.0 * TR + 0.2, 6 * TR + 0.3], [[1.0], [2.0], [4.0]])
    for method in ("hrf", "fir"):
        d_full = fmri_design(words, _bold(full), method=method, delays=[1, 2, 3, 4])
        d_kept = fmri_design(words, _bold(kept), method=method, delays=[1, 2, 3, 4])
        np.testing.assert_allclose(d_kept.values, d_full.values[4:], atol=1e-7)
        np.testing.assert_array_equal(d_kept.time.values, kept)
    # a word before the first kept TR still shows up through the delays
    fir = fmri_design(words, _bold(kept), method="fir", delays=[4])
    assert fir.sel(time=kept[0]).values[0] == 1.0  # TR 4 = word in TR 0, 4 TRs later
    assert fir.sel(time=kept[1]).values[0] == 2.0  # TR 5 = word in TR 1


def test_fmri_design_bad_input():
    with pytest.raises(ValueError, match="method"):
        fmri_design(_words([1.0]), _bold([0.75, 2.25]), method="boxcar")
    with pytest.raises(ValueError, match="onset"):
        fmri_design(xr.DataArray(np.ones((1, 1)), dims=("word", "feature")), _bold([0.75]))
    with pytest.raises(ValueError, match="increasing"):
        fmri_operator([1.0], np.array([3.0, 1.0]), TR)


def _meg(values, sfreq=100.0, t0=0.0):
    values = np.asarray(values, np.float32)
    return xr.DataArray(values, dims=("time", "channel"),
                        coords={"time": t0 + np.arange(values.shape[0]) / sfreq,
                                "channel": [f"MEG{i}" for i in range(values.shape[1])],
                                "pos_x": ("channel", np.arange(values.shape[1]) * 0.01)},
                        attrs={"sfreq": sfreq})


def test_word_locked_reads_exact_samples():
    n = 500
    ramp = np.stack([np.arange(n), -np.arange(n)], axis=1)  # value = sample index
    rec = _meg(ramp)
    onsets = np.array([0.5, 1.23, 3.0])
    ep = word_locked(rec, onsets, tmin=-0.1, tmax=0.2)
    assert ep.dims == ("word", "channel", "lag")
    np.testing.assert_allclose(ep.lag.values, np.arange(-10, 21) / 100.0)
    expected = np.rint(onsets * 100)[:, None] + np.arange(-10, 21)[None]
    np.testing.assert_array_equal(ep.values[:, 0, :], expected)
    np.testing.assert_array_equal(ep.values[:, 1, :], -expected)
    assert "pos_x" in ep.coords


def test_word_locked_with_time_offset_and_dropped_words():
    rec = _meg(np.arange(300)[:, None], t0=1.0)  # recording starts 1 s into the story
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
    ep = word_locked(_meg(sig[:, None], sfreq), onsets, 0.0, 0.8)
    # the regression of each lag on the word amplitude recovers the kernel
    beta = np.linalg.lstsq(amp[:, None], ep.values[:, 0, :], rcond=None)[0][0]
    np.testing.assert_allclose(beta[:21], kernel, atol=0.15)
    assert np.abs(beta[25:]).max() < 0.15


def test_words_without_onset_are_left_out_with_a_warning():
    times = (np.arange(20) + 0.5) * TR
    with pytest.warns(UserWarning, match="1 of 2 words have no finite onset"):
        d = fmri_design(_words([np.nan, 3.0], [[5.0], [1.0]]), _bold(times))
    np.testing.assert_allclose(d.values, fmri_design(_words([3.0]), _bold(times)).values, atol=1e-7)
    with pytest.warns(UserWarning, match="1 of 2 words have no onset"):
        ep = word_locked(_meg(np.arange(100)[:, None]), np.array([np.nan, 0.2]), 0.0, 0.05)
    np.testing.assert_array_equal(ep.word.values, [1])


def test_designs_place_words_by_onset_not_by_order():
    # Overlapping speech keeps the transcript's order with onsets that go backwards (io.timings
    # on_overlap): each word must land at its own onset, as if the words were sorted by time.
    onsets = np.array([0.50, 1.20, 0.90, 2.00, 1.95])  # words 2 and 4 start before the previous word
    values = np.arange(1.0, 6.0)[:, None]
    order = np.argsort(onsets)
    rec = _meg(np.stack([np.arange(400), np.arange(400) ** 2], axis=1).astype(float))
    ep, ep_sorted = word_locked(rec, onsets, 0.0, 0.3), word_locked(rec, onsets[order], 0.0, 0.3)
    np.testing.assert_array_equal(ep.word.values, np.arange(5))  # text order kept for matching features
    np.testing.assert_array_equal(ep.values[order], ep_sorted.values)
    times = (np.arange(10) + 0.5) * TR
    for method in ("hrf", "fir"):
        d = fmri_design(_words(onsets, values), _bold(times), method=method, delays=[0, 1])
        d_sorted = fmri_design(_words(onsets[order], values[order]), _bold(times), method=method, delays=[0, 1])
        np.testing.assert_allclose(d.values, d_sorted.values, atol=1e-6)
