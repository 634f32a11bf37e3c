"""iEEG preprocessing: bipolar/CAR references, high-gamma envelope of a planted modulation, electrodes."""

from __future__ import annotations

import warnings

import mne
import mne_bids
import numpy as np
import pytest

from brainalign.preprocess.ieeg import bipolar_pairs, high_gamma_envelope, preprocess_ieeg

SFREQ = 1000.0
DUR = 30.0
NAMES = ["LA1", "LA2", "LA3", "LA4", "G1", "G2", "G3"]


def envelope_truth(t):
    return 1.0 + 0.8 * np.sin(2 * np.pi * 0.4 * t)


def make_raw(seed=0):
    """Pink-ish background on every contact; contact LA2 also carries 70-150 Hz noise whose amplitude
    follows a slow planted envelope.  Contacts sit 5 mm apart along x (MNI, metres)."""
    rng = np.random.default_rng(seed)
    n = int(SFREQ * DUR)
    t = np.arange(n) / SFREQ
    data = np.cumsum(rng.standard_normal((len(NAMES), n)), axis=1) * 1e-7  # 1/f^2 background
    data -= data.mean(1, keepdims=True)
    hg = mne.filter.filter_data(rng.standard_normal(n), SFREQ, 70, 150, verbose="error")
    data[1] += 4e-6 * hg / hg.std() * envelope_truth(t)
    data += 2e-6 * np.sin(2 * np.pi * 60 * t)  # line noise (60 Hz)
    info = mne.create_info(NAMES, SFREQ, ["seeg"] * 4 + ["ecog"] * 3)
    info["line_freq"] = 60.0
    raw = mne.io.RawArray(data, info, verbose="error")
    pos = {name: np.array([0.005 * i, 0.02, 0.03]) for i, name in enumerate(NAMES)}
    raw.set_montage(mne.channels.make_dig_montage(ch_pos=pos, coord_frame="mni_tal"), verbose="error")
    return raw, t


def test_bipolar_pairs_follow_shafts():
    assert bipolar_pairs(["LA1", "LA2", "LA3", "RH10", "RH11", "RH13", "EKG"]) == \
        [("LA1", "LA2"), ("LA2", "LA3"), ("RH10", "RH11")]


def test_high_gamma_envelope_recovers_planted_modulation():
    raw, t = make_raw()
    out = preprocess_ieeg(raw, reference="bipolar", resample=50.0)
    assert out.channel.values.tolist() == ["LA1-LA2", "LA2-LA3", "LA3-LA4", "G1-G2", "G2-G3"]
    assert out.ch_type.values.tolist() == ["seeg"] * 3 + ["ecog"] * 2
    assert out.sizes["time"] == int(DUR * 50) and out.attrs["sfreq"] == 50.0
    truth = envelope_truth(out.time.values)
    mid = slice(50, -50)
    r = [np.corrcoef(out.values[mid, k], truth[mid])[0, 1] for k in range(5)]
    assert r[0] > 0.8 and r[1] > 0.8  # both bipolar pairs containing LA2 (noise envelopes fluctuate)
    assert max(abs(r[2]), abs(r[3]), abs(r[4])) < 0.3
    # midpoints of the contact pairs, in the electrodes' frame, in mm
    np.testing.assert_allclose(out.pos_x.values, [2.5, 7.5, 12.5, 22.5, 27.5])
    assert out.pos_x.attrs["units"] == "mm"
    assert out.attrs["reference"] == "bipolar" and out.attrs["notch"] == [120.0]  # harmonics inside 65-155 Hz only
    np.testing.assert_allclose(out.values.mean(0), 0, atol=1e-5)


def test_common_average_reference_and_region():
    raw, _ = make_raw()
    out = preprocess_ieeg(raw, reference="average", channel_groups={"temporal": ["LA1", "LA2"], "grid": ["G1"]})
    assert out.channel.values.tolist() == NAMES
    assert out.region.values.tolist() == ["temporal", "temporal", "", "", "grid", "", ""]
    truth = envelope_truth(out.time.values)
    assert np.corrcoef(out.sel(channel="LA2").values[50:-50], truth[50:-50])[0, 1] > 0.8
    np.testing.assert_allclose(out.pos_x.values, 5.0 * np.arange(7))


def test_envelope_of_a_pure_am_tone_is_exact():
    """Closed form: a 100 Hz tone with amplitude a(t) has envelope a(t) (up to the band normalisation)."""
    t = np.arange(int(SFREQ * 20)) / SFREQ
    a = 1 + 0.5 * np.cos(2 * np.pi * 0.3 * t)
    env = high_gamma_envelope((a * np.sin(2 * np.pi * 100 * t))[None], SFREQ, n_bands=1)[0]
    mid = slice(2000, -2000)
    np.testing.assert_allclose(env[mid] / env[mid].mean(), a[mid] / a[mid].mean(), atol=0.02)
    with pytest.raises(ValueError, match="reaches the Nyquist"):
        high_gamma_envelope(np.zeros((1, 100)), 250.0)


def test_ieeg_through_bids_with_electrodes(tmp_path):
    raw, _ = make_raw()
    bids_path = mne_bids.BIDSPath(subject="01", task="podcast", root=tmp_path, datatype="ieeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(raw, bids_path, allow_preload=True, format="BrainVision", overwrite=True,
                                verbose=False)
        mne_bids.mark_channels(bids_path, ch_names=["G3"], status="bad", verbose=False)
    assert list(bids_path.directory.glob("*_electrodes.tsv"))
    out = preprocess_ieeg(bids_path, reference="bipolar")
    assert out.channel.values.tolist() == ["LA1-LA2", "LA2-LA3", "LA3-LA4", "G1-G2"]  # G3 bad -> no G2-G3
    assert np.isfinite(out.pos_x.values).all()
    np.testing.assert_allclose(out.pos_x.values, [2.5, 7.5, 12.5, 22.5], atol=1e-3)
    truth = envelope_truth(out.time.values)
    assert np.corrcoef(out.values[50:-50, 0], truth[50:-50])[0, 1] > 0.8
    with pytest.raises(ValueError, match="reference='laplacian'"):
        preprocess_ieeg(bids_path, reference="laplacian")
