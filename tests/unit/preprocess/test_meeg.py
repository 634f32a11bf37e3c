"""MEG/EEG preprocessing on six real recordings written into BIDS with mne-bids."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd
import pytest

from brainalign.config_sections import with_defaults
from brainalign.io.timings import read_timings
from brainalign.preprocess.meeg import check_same_sfreq, preprocess_meeg

RECORDINGS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "recordings"
if not RECORDINGS.exists():
    RECORDINGS = Path("/work/shared/data/recordings")

# file, datatype, expected output data channels (after picks; before bads)
FILES = {
    "ctf": ("CTF_somMDYO-18av.ds_raw.fif", "meg"),
    "kit": ("KIT_test_as-raw.con", "meg"),
    "edf": ("EDF_test_reduced.edf", "eeg"),
    "bdf": ("BDF_test_bdf_stim_channel.bdf", "eeg"),
    "eeglab": ("EEGLAB_test_raw_chanloc.set", "eeg"),
    "brainvision": ("BrainVision_test_NO.vhdr", "eeg"),
}
WORDS = ["Once", "upon", "a", "time,", "there", "was"]

pytestmark = pytest.mark.skipif(not RECORDINGS.exists(), reason="shared recordings not available")


def _read_source(key: str, tmp_path: Path) -> mne.io.BaseRaw:
    name, _ = FILES[key]
    path = RECORDINGS / name
    if key == "eeglab":
        # the .set names its data file 'test_raw_chanloc.fdt': link both under that stem
        src = tmp_path / "src"
        src.mkdir(exist_ok=True)
        for ext in (".set", ".fdt"):
            link = src / f"test_raw_chanloc{ext}"
            if not link.exists():
                os.symlink(RECORDINGS / f"EEGLAB_test_raw_chanloc{ext}", link)
        path = src / "test_raw_chanloc.set"
    return mne.io.read_raw(path, preload=key == "ctf", verbose="error")


def good_data_channels(raw):
    return [c for c, t in zip(raw.ch_names, raw.get_channel_types())
            if t in ("mag", "grad", "eeg") and c not in raw.info["bads"]]


def write_bids(key: str, tmp_path: Path, bad_channel: bool = True, bad_segment: tuple | None = None):
    """Write one real recording into a BIDS tree with word events (a `word` column)."""
    raw = _read_source(key, tmp_path)
    raw.info["line_freq"] = 50.0
    dur = raw.n_times / raw.info["sfreq"]
    onsets = np.linspace(0.05, 0.8, len(WORDS)) * dur
    samples = raw.first_samp + np.round(onsets * raw.info["sfreq"]).astype(int)
    events = np.column_stack([samples, np.zeros(len(WORDS), int), np.ones(len(WORDS), int)])
    raw.set_annotations(None)  # the recordings' own test annotations are not word events
    _, datatype = FILES[key]
    root = tmp_path / "bids"
    bids_path = mne_bids.BIDSPath(subject=key.replace("_", ""), task="story", root=root, datatype=datatype)
    kw = {"allow_preload": True, "format": "FIF"} if key == "ctf" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(raw, bids_path, events=events, event_id={"word": 1},
                                event_metadata=pd.DataFrame({"word": WORDS}),
                                extra_columns_descriptions={"word": "the word heard"},
                                overwrite=True, verbose=False, **kw)
        if bad_channel:
            mne_bids.mark_channels(bids_path, ch_names=[good_data_channels(raw)[1]], status="bad",
                                   descriptions=["noisy"], verbose=False)
    if bad_segment is not None:  # an annotated artefact, as BIDS stores it: a row of events.tsv
        events_tsv = bids_path.copy().update(suffix="events", extension=".tsv").fpath
        ev = pd.read_csv(events_tsv, sep="\t", dtype=str)
        row = {"onset": str(bad_segment[0]), "duration": str(bad_segment[1] - bad_segment[0]),
               "trial_type": "BAD_muscle", "value": "2", "sample": str(int(bad_segment[0] * raw.info["sfreq"])),
               "word": "n/a"}
        pd.concat([ev, pd.DataFrame([row])]).to_csv(events_tsv, sep="\t", index=False)
    return bids_path, raw, onsets


@pytest.mark.parametrize("key", list(FILES))
def test_real_recording_through_bids(key, tmp_path):
    bids_path, raw, onsets = write_bids(key, tmp_path)
    data_ch = good_data_channels(raw)  # the CTF file has 7 bad channels of its own
    sfreq = raw.info["sfreq"]
    dur = raw.n_times / sfreq
    out = preprocess_meeg(bids_path, l_freq=None if dur < 1 else 0.5, h_freq=20.0, resample=50.0)
    # shape: every data channel but the one marked bad in channels.tsv, 50 Hz over the duration
    assert out.dims == ("time", "channel") and out.dtype == np.float32
    assert out.sizes["channel"] == len(data_ch) - 1 and data_ch[1] not in out.channel.values
    assert sorted(out.attrs["bads"]) == sorted(raw.info["bads"] + [data_ch[1]])
    assert out.sizes["time"] == int(round(raw.n_times * 50.0 / sfreq))
    assert out.attrs["sfreq"] == 50.0
    np.testing.assert_allclose(out.time.values, np.arange(out.sizes["time"]) / 50.0)
    vals = out.values
    assert np.isfinite(vals).all()
    np.testing.assert_allclose(vals.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(vals.std(0), 1, atol=1e-3)
    assert set(out.ch_type.values) <= {"mag", "grad", "eeg"}
    if key in ("ctf", "kit"):
        meg = out.sel(channel=out.ch_type == "mag")
        assert meg.sizes["channel"] >= 143  # (the KIT file also holds a few EEG channels)
        assert np.isfinite(meg.pos_x.values).all()
        r = np.sqrt(meg.pos_x**2 + meg.pos_y**2 + meg.pos_z**2).values
        assert 0.05 < np.median(r) < 0.2  # MEG sensors lie ~ 10 cm from the head origin
    if key == "eeglab":
        assert np.isfinite(out.pos_x.values).all() and out.attrs["montage"] == "from file"
    # the word events written beside the recording read back as the word table, at sample precision
    events_tsv = bids_path.copy().update(suffix="events", extension=".tsv").fpath
    words = read_timings(events_tsv, duration=dur)
    assert words["word"].tolist() == WORDS and words["story"].iloc[0] == "story"
    np.testing.assert_allclose(words["onset"], onsets, atol=1.0 / sfreq)


def test_output_round_trips_through_the_store(tmp_path):
    from brainalign.io.store import read_zarr, write_zarr

    bids_path, *_ = write_bids("eeglab", tmp_path)
    out = preprocess_meeg(bids_path, l_freq=None, h_freq=20.0)
    back = read_zarr(write_zarr(out, tmp_path / "sub-eeglab" / "story.zarr"), load=True)["data"]
    np.testing.assert_array_equal(back.values, out.values)
    np.testing.assert_array_equal(back.pos_x.values, out.pos_x.values)
    assert back.channel.values.tolist() == out.channel.values.tolist()
    assert back.attrs["sfreq"] == 50.0 and back.attrs["bads"] == out.attrs["bads"]


def test_preprocessing_matches_mne_by_hand(tmp_path):
    """Same steps done directly with MNE give the same numbers (EDF, average reference)."""
    bids_path, raw, _ = write_bids("edf", tmp_path)
    out = preprocess_meeg(bids_path, l_freq=1.0, h_freq=20.0, resample=50.0, notch=None, reference="average")
    ref = mne.io.read_raw(RECORDINGS / "EDF_test_reduced.edf", preload=True, verbose="error")
    ref.pick("eeg").drop_channels([ref.ch_names[1]])
    ref.set_eeg_reference("average", projection=False, verbose="error")
    ref.filter(1.0, 20.0, verbose="error").resample(50.0, method="polyphase", verbose="error")
    x = ref.get_data().T
    x = (x - x.mean(0)) / x.std(0)
    np.testing.assert_allclose(out.values, x, atol=1e-4)
    assert "reference:average" in out.attrs["steps"]


def test_bad_segments_become_nan(tmp_path):
    bids_path, raw, _ = write_bids("bdf", tmp_path, bad_channel=False, bad_segment=(2.0, 3.0))
    out = preprocess_meeg(bids_path, l_freq=0.5, h_freq=20.0, resample=50.0)
    t = out.time.values
    nan_rows = np.isnan(out.values).all(axis=1)
    inside = (t >= 2.0) & (t < 3.0)
    assert nan_rows[inside].all() and not nan_rows[(t < 1.9) | (t > 3.1)].any()
    assert out.attrs["n_bad_samples"] == int(nan_rows.sum())
    good = out.values[~nan_rows]
    np.testing.assert_allclose(good.mean(0), 0, atol=1e-5)  # statistics from good samples only
    keep = preprocess_meeg(bids_path, l_freq=0.5, h_freq=20.0, resample=50.0, bad_segments="keep")
    assert np.isfinite(keep.values).all()


def test_bad_channel_interpolation_and_keep(tmp_path):
    bids_path, raw, _ = write_bids("eeglab", tmp_path)
    bad = good_data_channels(raw)[1]
    interp = preprocess_meeg(bids_path, l_freq=None, h_freq=20.0, bad_channels="interpolate")
    assert bad in interp.channel.values and interp.sizes["channel"] == 61
    assert "interpolate_bads" in interp.attrs["steps"]
    kept = preprocess_meeg(bids_path, l_freq=None, h_freq=20.0, bad_channels="keep", reference=None)
    assert kept.sizes["channel"] == 61
    # interpolated channel differs from the recorded one; neighbours agree
    assert not np.allclose(interp.sel(channel=bad).values, kept.sel(channel=bad).values, atol=1e-2)


def test_different_sampling_rates_are_caught(tmp_path):
    a, *_ = write_bids("bdf", tmp_path / "a")
    b, *_ = write_bids("edf", tmp_path / "b")
    ra = preprocess_meeg(a, l_freq=None, h_freq=None, resample=None, notch=None)
    rb = preprocess_meeg(b, l_freq=None, h_freq=None, resample=None, notch=None)
    with pytest.raises(ValueError, match=r"different sampling rates \(sub-bdf: 500 Hz, sub-edf: 512 Hz\)"):
        check_same_sfreq({"sub-bdf": ra, "sub-edf": rb})
    # resampling to one rate is the documented fix
    same = [preprocess_meeg(p, l_freq=None, h_freq=20.0, resample=50.0) for p in (a, b)]
    assert check_same_sfreq({"a": same[0], "b": same[1]}) == 50.0


def test_planted_line_noise_and_band(tmp_path):
    """A synthetic EEG: 3 Hz signal + 50 Hz line noise + drift; output keeps only the 3 Hz part."""
    sfreq, n = 250.0, 250 * 60
    t = np.arange(n) / sfreq
    rng = np.random.default_rng(0)
    sig = np.sin(2 * np.pi * 3 * t)
    data = np.stack([sig * (k + 1) * 1e-6 + 5e-6 * np.sin(2 * np.pi * 50 * t) + 1e-5 * t / 60
                     + 1e-8 * rng.standard_normal(n) for k in range(4)])
    info = mne.create_info(["Fz", "Cz", "Pz", "Oz"], sfreq, "eeg")
    info["line_freq"] = 50.0
    raw = mne.io.RawArray(data, info, verbose="error")
    out = preprocess_meeg(raw, l_freq=1.0, h_freq=20.0, resample=50.0, reference=None, montage="easycap-M1",
                          channel_groups={"frontal": ["Fz"], "posterior": ["Pz", "Oz"]})
    expected = sig[:: 5][: out.sizes["time"]]
    mid = slice(100, -100)  # away from filter edges
    for ch in out.channel.values:
        assert np.corrcoef(out.sel(channel=ch).values[mid], expected[mid])[0, 1] > 0.999  # no time shift (MNE 1.13 FFT resampling shifts ~10 ms)
    assert out.region.values.tolist() == ["frontal", "", "posterior", "posterior"]
    assert np.isfinite(out.pos_x.values).all() and out.attrs["montage"] == "easycap-M1"
    with pytest.raises(ValueError, match="h_freq=30.0 Hz is not below the Nyquist frequency of resample=50.0"):
        preprocess_meeg(raw, h_freq=30.0, resample=50.0)


def test_ica_removes_blinks(tmp_path):
    """Planted blinks shared with an EOG channel are removed by ICA, the neural sources survive."""
    sfreq, n = 100.0, 100 * 120
    rng = np.random.default_rng(1)
    t = np.arange(n) / sfreq
    blinks = np.zeros(n)
    for start in rng.integers(0, n - 40, 60):
        blinks[start:start + 30] += np.hanning(30)
    sources = np.stack([np.sin(2 * np.pi * 7 * t), np.sign(np.sin(2 * np.pi * 2.3 * t)), rng.standard_normal(n),
                        rng.standard_normal(n), rng.standard_normal(n)])
    mixing = rng.standard_normal((8, 5))
    blink_weights = np.linspace(12, 4, 8)
    eeg = (mixing @ sources + np.outer(blink_weights, blinks)) * 1e-6
    info = mne.create_info([f"E{i}" for i in range(8)] + ["EOG"], sfreq, ["eeg"] * 8 + ["eog"])
    raw = mne.io.RawArray(np.vstack([eeg, blinks * 1e-4 + 1e-7 * rng.standard_normal(n)]), info, verbose="error")
    clean = preprocess_meeg(raw, l_freq=None, h_freq=None, resample=None, notch=None, reference=None,
                            ica=with_defaults("preprocess.meeg.ica", {"enabled": True, "n_components": 6, "ecg": False}))
    dirty = preprocess_meeg(raw, l_freq=None, h_freq=None, resample=None, notch=None, reference=None)
    assert clean.sizes["channel"] == 8 and "EOG" not in clean.channel.values
    r_dirty = abs(np.corrcoef(dirty.values[:, 0], blinks)[0, 1])
    r_clean = abs(np.corrcoef(clean.values[:, 0], blinks)[0, 1])
    assert r_dirty > 0.5 and r_clean < 0.1
    assert any(s.startswith("ica:[") and s != "ica:[]" for s in clean.attrs["steps"])


# ------------------------------------------------------------------------ phases of preprocess_meeg
def _sine_raw(freqs_hz, sfreq=500.0, seconds=20.0):
    t = np.arange(int(sfreq * seconds)) / sfreq
    data = np.stack([np.sin(2 * np.pi * f * t) for f in freqs_hz])
    info = mne.create_info([f"EEG{i}" for i in range(len(freqs_hz))], sfreq, "eeg")
    return mne.io.RawArray(data * 1e-5, info, verbose="error")


def test_filter_and_resample_keeps_the_band_and_records_the_steps():
    from brainalign.preprocess.meeg import _filter_and_resample

    raw = _sine_raw([5.0, 16.0, 40.0])
    # 16 Hz is notched; a notch above 1.25 x h_freq is left to the low-pass
    steps = _filter_and_resample(raw, [16.0, 50.0], 0.1, 20.0, 100.0, 1)
    assert steps == ["notch:[16.0]", "filter:0.1-20.0", "resample:100.0"]
    assert raw.info["sfreq"] == 100.0
    rms = raw.get_data()[:, 500:1500].std(axis=1) / (1e-5 / np.sqrt(2))  # away from the edges
    assert 0.9 < rms[0] < 1.1  # 5 Hz passes
    assert rms[1] < 0.1 and rms[2] < 0.05  # 16 Hz notched, 40 Hz stopped


def test_output_samples_blank_bad_annotations_and_zscore():
    from brainalign.preprocess.meeg import _output_samples

    raw = _sine_raw([3.0], sfreq=100.0, seconds=10.0)
    raw.set_annotations(mne.Annotations([2.0], [1.0], ["BAD_x"]))
    values, n_bad = _output_samples(raw, "nan", True, "r")
    assert n_bad == 100 and np.isnan(values[200:300]).all() and values.dtype == np.float32
    assert abs(np.nanmean(values)) < 1e-5 and abs(np.nanstd(values) - 1) < 1e-3
    kept, n_kept = _output_samples(raw, "keep", False, "r")
    assert n_kept == 0 and np.isfinite(kept).all()
