"""iEEG preprocessing: bipolar/CAR references, high-gamma envelope of a planted modulation, electrodes."""

from __future__ import annotations

import json
import warnings

import mne
import mne_bids
import numpy as np
import pytest

from brainalign.errors import ConfigError, InputError
from brainalign.preprocess.ieeg import (bipolar_pairs, common_average_reference, contact_groups, contact_prefix,
                                        high_gamma_envelope, preprocess_ieeg)

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


def test_common_average_is_per_type_and_leaves_out_excluded_channels():
    data = np.array([[1.0, 2.0], [3.0, 4.0], [100.0, 100.0], [10.0, 20.0], [30.0, 40.0]])
    raw = mne.io.RawArray(data.copy(), mne.create_info(["S1", "S2", "S3", "E1", "E2"], 10.0,
                                                       ["seeg"] * 3 + ["ecog"] * 2), verbose="error")
    common_average_reference(raw, exclude=["S3"])
    seeg_mean, ecog_mean = data[:2].mean(axis=0), data[3:].mean(axis=0)  # S3 re-referenced, not averaged
    np.testing.assert_allclose(raw.get_data(), np.r_[data[:3] - seeg_mean, data[3:] - ecog_mean])
    only = mne.io.RawArray(data[:1].copy(), mne.create_info(["S1"], 10.0, "seeg"), verbose="error")
    common_average_reference(only, exclude=["S1"])  # no good channel of the type: left as recorded
    np.testing.assert_allclose(only.get_data(), data[:1])


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


# ------------------------------------------------------------------- group-wise reference, artefacts
GRID = [f"G{i}" for i in range(1, 17)]
DEPTH = [f"DPI{i}" for i in range(1, 7)] + [f"DAMT{i}" for i in range(1, 7)]
GSF = 512.0


def make_groups_raw(seed=0, dur=120.0, transient=None, response=True):
    """A 16-contact grid and two 6-contact depth shafts (all typed ECoG, as in the Podcast
    dataset's channels.tsv).  Each group shares its own background (what its reference removes);
    every contact has its own broadband noise; G5-G8 carry a planted high-gamma response that rises
    up to ~4-fold (physiology, which no artefact check may flag).  ``transient=(t0, contacts)``
    adds a 0.2 s burst 1000 times the noise on those contacts."""
    rng = np.random.default_rng(seed)
    n = int(GSF * dur)
    t = np.arange(n) / GSF
    names = GRID + DEPTH
    data = 1e-5 * rng.standard_normal((len(names), n))
    for members in (GRID, DEPTH[:6], DEPTH[6:]):
        shared = np.cumsum(rng.standard_normal(n)) * 2e-7 + 1e-5 * rng.standard_normal(n)
        for c in members:
            data[names.index(c)] += shared
    if response:
        slow = mne.filter.filter_data(rng.standard_normal(n), GSF, None, 0.5, verbose="error")
        gain = 1.0 + 3.0 * np.clip(slow / slow.std(), 0, None)
        for c in ("G5", "G6", "G7", "G8"):
            hg = mne.filter.filter_data(rng.standard_normal(n), GSF, 70, 150, verbose="error")
            data[names.index(c)] += 2e-5 * hg / hg.std() * gain
    if transient is not None:
        t0, contacts = transient
        span = slice(int(t0 * GSF), int((t0 + 0.2) * GSF))
        burst = rng.standard_normal(span.stop - span.start) * 1e-2
        for c in contacts:
            data[names.index(c), span] += burst
    info = mne.create_info(names, GSF, "ecog")
    info["line_freq"] = 60.0
    raw = mne.io.RawArray(data, info, verbose="error")
    pos = {c: np.array([0.004 * i, 0.01, 0.02]) for i, c in enumerate(names)}
    raw.set_montage(mne.channels.make_dig_montage(ch_pos=pos, coord_frame="mni_tal"), verbose="error")
    return raw


def test_contact_groups_from_name_prefixes():
    assert contact_prefix("G12") == "G" and contact_prefix("DPI3") == "DPI" and contact_prefix("LGA10") == "LGA"
    assert contact_prefix("EKG L") == "EKG L"
    groups, how = contact_groups(["G1", "G2", "DPI1", "DAMT2"], source="names")
    assert groups == {"G1": "G", "G2": "G", "DPI1": "DPI", "DAMT2": "DAMT"} and how == "names"


def test_group_average_equals_manual_per_group_subtraction():
    """The group-wise reference is the manual per-group mean subtraction, bad contacts left out of the
    mean (but still referenced): the whole pipeline on the raw gives the same output as the pipeline
    without a reference on a raw referenced by hand."""
    raw = make_groups_raw()
    raw.info["bads"] = ["G2"]
    manual = raw.copy()
    data = manual.get_data()
    names = manual.ch_names
    for members in (GRID, DEPTH[:6], DEPTH[6:]):
        idx = [names.index(c) for c in members]
        good = [names.index(c) for c in members if c != "G2"]
        data[idx] -= data[good].mean(axis=0)
    manual._data[:] = data
    opts = dict(artifacts=False, bad_channels="keep", notch=None)
    out = preprocess_ieeg(raw, reference="group_average", **opts)
    ref = preprocess_ieeg(manual, reference=None, **opts)
    assert out.channel.values.tolist() == names
    np.testing.assert_allclose(out.values, ref.values, atol=1e-4)
    assert json.loads(out.attrs["reference_groups"]) == {"G": 15, "DPI": 6, "DAMT": 6}
    assert out.attrs["reference_groups_source"] == "names" and out.attrs["reference_dropped"] == []
    # the all-contacts common average is a different signal (the depth shafts' background leaks into the grid)
    car = preprocess_ieeg(raw, reference="average", **opts)
    assert np.abs(car.values - out.values).max() > 0.5


def test_group_of_one_contact_dropped_or_kept():
    raw = make_groups_raw(dur=20.0, response=False)
    mapping = {"grid": GRID, "shaft": DEPTH[:11], "alone": [DEPTH[11]]}
    out = preprocess_ieeg(raw, reference="group_average", reference_groups=mapping, artifacts=False, notch=None)
    assert "DAMT6" not in out.channel.values and out.attrs["reference_dropped"] == ["DAMT6"]
    assert json.loads(out.attrs["reference_groups"]) == {"grid": 16, "shaft": 11}
    kept = preprocess_ieeg(raw, reference="group_average", reference_groups=mapping, reference_single="keep",
                           artifacts=False, notch=None)
    assert "DAMT6" in kept.channel.values and kept.attrs["reference_unreferenced"] == ["DAMT6"]
    with pytest.raises(InputError, match="have no group"):
        preprocess_ieeg(raw, reference="group_average", reference_groups="column", artifacts=False)


def test_group_column_of_electrodes_tsv_wins_over_names(tmp_path):
    """Real electrodes.tsv give a `group` column (sub-06 of the Podcast dataset: G1-G64 in group G,
    G65-G128 in group EG, one name prefix): it defines the groups, whichever space's file it is in."""
    raw = make_groups_raw(dur=20.0, response=False)
    bids_path = mne_bids.BIDSPath(subject="01", task="podcast", root=tmp_path, datatype="ieeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(raw, bids_path, allow_preload=True, format="BrainVision", overwrite=True,
                                verbose=False)
    (electrodes,) = bids_path.directory.glob("*_electrodes.tsv")
    table = electrodes.read_text().splitlines()
    header = table[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in table[1:]]
    group = {**{c: "G" for c in GRID[:8]}, **{c: "EG" for c in GRID[8:]}, **{c: "D" for c in DEPTH}}
    cols = [h for h in header if h != "group"] + ["group"]
    electrodes.write_text("\n".join(["\t".join(cols)] + ["\t".join(
        [r[h] for h in cols[:-1]] + [group[r["name"]]]) for r in rows]) + "\n")
    out = preprocess_ieeg(bids_path, reference="group_average", artifacts=False, notch=None)
    assert json.loads(out.attrs["reference_groups"]) == {"G": 8, "EG": 8, "D": 12}
    assert out.attrs["reference_groups_source"] == electrodes.name
    by_name = preprocess_ieeg(bids_path, reference="group_average", reference_groups="names", artifacts=False,
                              notch=None)
    assert json.loads(by_name.attrs["reference_groups"]) == {"G": 16, "DPI": 6, "DAMT": 6}


def _mean_abs_corr(out, channels):
    vals = out.sel(channel=channels).values
    vals = vals[np.isfinite(vals).all(axis=1)][25:-25]
    r = np.corrcoef(vals.T)
    return float(np.abs(r[~np.eye(len(channels), dtype=bool)]).mean())


def test_transient_on_three_contacts_is_marked_and_not_spread():
    """A 0.2 s burst on G1-G3, spread by the common average, makes every envelope the burst's; found
    before referencing, it is bridged and annotated, and the other contacts keep their own envelopes."""
    raw = make_groups_raw(seed=1, transient=(60.0, ["G1", "G2", "G3"]))
    others = [c for c in GRID + DEPTH if c not in ("G1", "G2", "G3", "G5", "G6", "G7", "G8")]
    # without the transient: the correlation the shared group backgrounds leave after the average
    floor = _mean_abs_corr(preprocess_ieeg(make_groups_raw(seed=1), reference="average", artifacts=False), others)
    contaminated = _mean_abs_corr(preprocess_ieeg(raw, reference="average", artifacts=False), others)
    out = preprocess_ieeg(raw, reference="average")
    clean = _mean_abs_corr(out, others)
    assert contaminated > 0.9 and abs(clean - floor) < 0.03, (floor, contaminated, clean)
    assert set(json.loads(out.attrs["artifact_contacts"])) == {"G1", "G2", "G3"}
    (segment,) = out.attrs["artifact_segments"]
    assert 59.3 < segment[0] <= 60.0 and 60.2 <= segment[1] < 60.9
    nan_rows = np.flatnonzero(np.isnan(out.values).all(axis=1))
    assert np.isnan(out.values).any(axis=1).sum() == nan_rows.size  # whole rows, every contact
    t_nan = out.time.values[nan_rows]
    assert t_nan.min() < 60.0 and t_nan.max() > 60.2 and t_nan.max() - t_nan.min() < 2.0
    assert out.attrs["artifact_bad_channels"] == [] and out.sizes["channel"] == 28
    # the planted response survives on its contacts
    assert _mean_abs_corr(out, ["G5", "G6", "G7", "G8"]) > 0.5


def test_clean_recording_has_no_detection():
    """False positives: a recording with a planted ~4-fold high-gamma response, line noise and group
    backgrounds, but no artefact, gets no BAD_artifact segment and no contact marked bad."""
    raw = make_groups_raw(seed=2, dur=180.0)
    raw._data += 5e-6 * np.sin(2 * np.pi * 60.0 * raw.times)
    out = preprocess_ieeg(raw, reference="group_average")
    assert out.attrs["artifact_segments"] == [] and out.attrs["artifact_bad_channels"] == []
    assert json.loads(out.attrs["artifact_contacts"]) == {} and np.isfinite(out.values).all()


def test_contact_bad_too_often_is_marked_bad():
    """A contact with a burst every 2 s (flagged over more than 5% of the run) is marked bad and
    dropped rather than blanking 25% of every contact's samples."""
    raw = make_groups_raw(seed=3, dur=60.0, response=False)
    rng = np.random.default_rng(0)
    i = raw.ch_names.index("DPI4")
    for t0 in np.arange(2.0, 58.0, 2.0):
        raw._data[i, int(t0 * GSF):int((t0 + 0.1) * GSF)] += 1e-3 * rng.standard_normal(int(0.1 * GSF))
    out = preprocess_ieeg(raw, reference="group_average")
    assert out.attrs["artifact_bad_channels"] == ["DPI4"] and "DPI4" not in out.channel.values
    assert out.attrs["artifact_segments"] == [] and np.isfinite(out.values).all()
    assert json.loads(out.attrs["reference_groups"])["DPI"] == 5
    with pytest.raises(ConfigError, match="bad_segments='keep'"):
        preprocess_ieeg(raw, reference="group_average", bad_segments="keep")


def test_amplitude_threshold_flags_a_step():
    """artifact_amplitude: a 1 s offset of 0.3 mV (a saturated amplifier: no high-gamma burst inside it)
    on one contact is found by the absolute threshold alone."""
    from brainalign.preprocess.ieeg import detect_artifacts

    raw = make_groups_raw(seed=4, dur=20.0, response=False)
    i = raw.ch_names.index("DPI2")
    raw._data[i, int(10 * GSF):int(11 * GSF)] += 3e-4
    found = detect_artifacts(raw.copy(), threshold=1e9, amplitude=2e-4, pad=0.1, max_fraction=0.2,
                             out_sfreq=50.0)
    assert found["contacts"] == {"DPI2": 1} and found["bad_channels"] == []
    ((start, end),) = found["segments"]
    assert start == pytest.approx(9.9, abs=0.01) and end == pytest.approx(11.1, abs=0.01)
    assert detect_artifacts(raw.copy(), threshold=1e9, amplitude=None)["segments"] == []
