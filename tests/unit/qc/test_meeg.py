"""MEG/EEG/iEEG QC against known answers: spectra before and after, bad channels, segments and
components (brainalign.qc.meeg)."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from brainalign.config_sections import with_defaults
from brainalign.preprocess.ieeg import preprocess_ieeg
from brainalign.preprocess.meeg import preprocess_meeg
from brainalign.qc.meeg import bad_segments, meeg_qc, psd, removed_components
from tests.qc_runs import eeg_raw


def _power_at(freqs, power, f):
    return float(power.mean(axis=0)[np.argmin(np.abs(freqs - f))])


def test_psd_shows_the_notch():
    raw = eeg_raw()
    options = {"l_freq": 1.0, "h_freq": None, "notch": "auto", "resample": None, "reference": None}
    out = preprocess_meeg(raw.copy(), **options)
    qc = meeg_qc(raw, out, with_defaults("preprocess.meeg", options), "eeg")
    assert 50.0 in qc.marks["notch"]
    before = _power_at(qc.freqs_before, qc.psd_before, 50) / _power_at(qc.freqs_before, qc.psd_before, 6)
    after = _power_at(qc.freqs_after, qc.psd_after, 50) / _power_at(qc.freqs_after, qc.psd_after, 6)
    assert 10 * np.log10(before) > 0  # line noise stronger than the 6 Hz signal as recorded
    assert 10 * np.log10(before / after) > 20  # the notch took > 20 dB off it
    # the 30 Hz component, in the pass band and away from the notch, keeps its power relative to 6 Hz
    r30 = [_power_at(f, p, 30) / _power_at(f, p, 6) for f, p in ((qc.freqs_before, qc.psd_before),
                                                               (qc.freqs_after, qc.psd_after))]
    assert abs(10 * np.log10(r30[0] / r30[1])) < 1.0


def test_psd_shows_the_low_pass_and_resampling():
    raw = eeg_raw(line=False)
    options = {"l_freq": 0.5, "h_freq": 15.0, "notch": "auto", "resample": 100.0, "reference": "average"}
    out = preprocess_meeg(raw.copy(), **options)
    qc = meeg_qc(raw, out, with_defaults("preprocess.meeg", options), "eeg")
    assert qc.freqs_after[-1] == pytest.approx(50.0)  # Nyquist of the 100 Hz output
    assert qc.marks["notch"] == []  # 50 Hz lies above the low-pass: the band-pass removes it
    before = _power_at(qc.freqs_before, qc.psd_before, 30) / _power_at(qc.freqs_before, qc.psd_before, 6)
    after = _power_at(qc.freqs_after, qc.psd_after, 30) / _power_at(qc.freqs_after, qc.psd_after, 6)
    assert 10 * np.log10(before / after) > 30


def test_bad_channels_segments_and_components():
    raw = eeg_raw(bads=["Oz"], annotations=[(5.0, 2.0), (20.0, 0.5)])
    options = {"l_freq": 1.0, "h_freq": 20.0, "notch": "auto", "resample": 100.0, "reference": "average"}
    out = preprocess_meeg(raw.copy(), **options)
    qc = meeg_qc(raw, out, with_defaults("preprocess.meeg", options), "eeg")
    assert qc.bads == ["Oz"] and "Oz" not in qc.channels_after and "Oz" not in qc.channels_before
    assert list(qc.segments["duration"]) == [2.0, 0.5]
    assert qc.n_bad_samples > 0
    row = qc.summary()
    assert row["bad_channels"] == "Oz" and row["n_bad_segments"] == 2 and row["bad_seconds"] == 2.5
    assert row["n_channels_recorded"] == 5 and row["n_channels_kept"] == 5
    assert row["ica_removed"] == ""


def test_removed_components_from_steps():
    steps = ["reference:average", "ssp_eog:2", "ica:[0, 3]", "filter:0.1-20.0"]
    assert removed_components(steps) == {"ssp_eog": [2], "ica": [0, 3]}
    assert removed_components(["ica:[]"]) == {"ica": []}
    assert removed_components([]) == {}


def test_bad_segments_only_bad_annotations():
    ann = mne.Annotations([1.0, 2.0, 3.0], [0.5, 1.0, 0.2], ["BAD_jump", "word", "bad_blink"])
    table = bad_segments(ann)
    assert list(table["description"]) == ["BAD_jump", "bad_blink"]


def test_psd_ignores_nan_samples():
    t = np.arange(5000) / 100.0
    x = np.sin(2 * np.pi * 10 * t)[None, :].repeat(2, axis=0)
    x[:, 1000:1200] = np.nan
    freqs, power = psd(x, 100.0)
    assert np.isfinite(power).all() and freqs[np.argmax(power[0])] == pytest.approx(10.0, abs=0.3)
    with pytest.raises(ValueError, match="too few"):
        psd(np.full((1, 100), np.nan), 100.0)


def test_ieeg_qc_marks_the_high_gamma_band():
    names = [f"G{i}" for i in range(1, 5)]
    sfreq = 1000.0
    t = np.arange(int(20 * sfreq)) / sfreq
    rng = np.random.default_rng(4)
    data = 1e-5 * (rng.standard_normal((4, t.size)) + np.sin(2 * np.pi * 60 * t))
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "ecog"), verbose="error")
    with raw.info._unlock():
        raw.info["line_freq"] = 60.0
    options = {"reference": None, "band": [70.0, 150.0], "notch": "auto", "resample": 50.0}
    out = preprocess_ieeg(raw.copy(), **options)
    qc = meeg_qc(raw, out, with_defaults("preprocess.ieeg", options), "ieeg")
    assert qc.marks["band"] == [70.0, 150.0]
    assert qc.marks["notch"] == [120.0]  # only the harmonics inside the band (+-5 Hz) are notched
    assert qc.marks["l_freq"] is None and qc.marks["h_freq"] is None
    assert qc.freqs_after[-1] == pytest.approx(25.0)
