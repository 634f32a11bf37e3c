"""fMRI designs: HRF and FIR on single impulses, time-coordinate alignment, words without onsets, words
placed by onset (brainalign.design.fmri; the last two also check the MEG/EEG designs)."""

import numpy as np
import pytest
import xarray as xr

from brainalign.design import fmri_design, fmri_operator, hrf, word_locked
from tests.design_inputs import TR, bold_grid, meg_recording, word_features


@pytest.mark.parametrize("model", ["spm", "glover"])
def test_hrf_single_impulse(model):
    times = (np.arange(30) + 0.5) * TR
    design = fmri_design(word_features([0.75]), bold_grid(times), method="hrf", hrf_model=model)
    assert design.dims == ("time", "feature")
    np.testing.assert_allclose(design.values[:, 0], hrf(times - 0.75, TR, model), rtol=1e-6, atol=1e-7)
    peak = times[np.argmax(design.values[:, 0])] - 0.75
    assert 3.5 <= peak <= 6.5  # canonical HRFs peak ~5 s after the event
    assert design.values[0, 0] == pytest.approx(0.0, abs=1e-6)  # nothing at the impulse itself
    assert design.values[:, 0].min() < 0  # the undershoot


def test_hrf_is_linear_in_words():
    times = (np.arange(40) + 0.5) * TR
    one = fmri_design(word_features([3.0], [[2.0]]), bold_grid(times)).values
    two = fmri_design(word_features([3.0, 10.0], [[2.0], [-1.0]]), bold_grid(times)).values
    alone = fmri_design(word_features([10.0], [[-1.0]]), bold_grid(times)).values
    np.testing.assert_allclose(two, one + alone, atol=1e-6)


def test_fir_single_impulse_lands_delays_later():
    times = (np.arange(12) + 0.5) * TR  # TR k covers [k*TR, (k+1)*TR)
    words = word_features([2 * TR + 0.1, 2 * TR + 0.7], [[1.0, 10.0], [2.0, 20.0]])  # two words in TR 2: summed
    design = fmri_design(words, bold_grid(times), method="fir", delays=[1, 3])
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
    words = word_features([0.2, 1.0 * TR + 0.2, 6 * TR + 0.3], [[1.0], [2.0], [4.0]])
    for method in ("hrf", "fir"):
        d_full = fmri_design(words, bold_grid(full), method=method, delays=[1, 2, 3, 4])
        d_kept = fmri_design(words, bold_grid(kept), method=method, delays=[1, 2, 3, 4])
        np.testing.assert_allclose(d_kept.values, d_full.values[4:], atol=1e-7)
        np.testing.assert_array_equal(d_kept.time.values, kept)
    # a word before the first kept TR still shows up through the delays
    fir = fmri_design(words, bold_grid(kept), method="fir", delays=[4])
    assert fir.sel(time=kept[0]).values[0] == 1.0  # TR 4 = word in TR 0, 4 TRs later
    assert fir.sel(time=kept[1]).values[0] == 2.0  # TR 5 = word in TR 1


def test_fmri_design_bad_input():
    with pytest.raises(ValueError, match="method"):
        fmri_design(word_features([1.0]), bold_grid([0.75, 2.25]), method="boxcar")
    with pytest.raises(ValueError, match="onset"):
        fmri_design(xr.DataArray(np.ones((1, 1)), dims=("word", "feature")), bold_grid([0.75]))
    with pytest.raises(ValueError, match="increasing"):
        fmri_operator([1.0], np.array([3.0, 1.0]), TR)


def test_words_without_onset_are_left_out_with_a_warning():
    times = (np.arange(20) + 0.5) * TR
    with pytest.warns(UserWarning, match="1 of 2 words have no finite onset"):
        d = fmri_design(word_features([np.nan, 3.0], [[5.0], [1.0]]), bold_grid(times))
    np.testing.assert_allclose(d.values, fmri_design(word_features([3.0]), bold_grid(times)).values, atol=1e-7)
    with pytest.warns(UserWarning, match="1 of 2 words have no onset"):
        ep = word_locked(meg_recording(np.arange(100)[:, None]), np.array([np.nan, 0.2]), 0.0, 0.05)
    np.testing.assert_array_equal(ep.word.values, [1])


def test_designs_place_words_by_onset_not_by_order():
    # Overlapping speech keeps the transcript's order with onsets that go backwards (io.timings
    # on_overlap): each word must land at its own onset, as if the words were sorted by time.
    onsets = np.array([0.50, 1.20, 0.90, 2.00, 1.95])  # words 2 and 4 start before the previous word
    values = np.arange(1.0, 6.0)[:, None]
    order = np.argsort(onsets)
    rec = meg_recording(np.stack([np.arange(400), np.arange(400) ** 2], axis=1).astype(float))
    ep, ep_sorted = word_locked(rec, onsets, 0.0, 0.3), word_locked(rec, onsets[order], 0.0, 0.3)
    np.testing.assert_array_equal(ep.word.values, np.arange(5))  # text order kept for matching features
    np.testing.assert_array_equal(ep.values[order], ep_sorted.values)
    times = (np.arange(10) + 0.5) * TR
    for method in ("hrf", "fir"):
        d = fmri_design(word_features(onsets, values), bold_grid(times), method=method, delays=[0, 1])
        d_sorted = fmri_design(word_features(onsets[order], values[order]), bold_grid(times), method=method, delays=[0, 1])
        np.testing.assert_allclose(d.values, d_sorted.values, atol=1e-6)
