"""Memory of preprocessing jobs: the request follows the input's size, the peak stays within it, and the
block-wise iEEG pipeline gives the numbers of the whole-recording one it replaced."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pytest
from scipy.signal import hilbert

from brainalign.preprocess import ieeg
from brainalign.preprocess.ieeg import bipolar_pairs, preprocess_ieeg
from brainalign.preprocess.meeg import line_noise_freqs
from brainalign.preprocess.common import zscore_time
from brainalign.preprocess.resources import (FACTOR, FALLBACK_MB, MARGIN, image_shape, memory_mb,
                                             preprocess_resources, recording_shape, runtime_minutes)

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("preprocess_memory", REPO / "benchmarks" / "preprocess_memory.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


# ------------------------------------------------------------- the pipeline before blocks (reference)
def _reference_ieeg(raw: mne.io.BaseRaw, reference, band=(70.0, 150.0), n_bands=8, resample=50.0):
    """preprocess_ieeg as it was (commit 4f9a7d4): every channel through each step at once, from copies."""
    raw = raw.copy().load_data()
    raw.pick([c for c in raw.ch_names if c not in raw.info["bads"]])
    if reference == "bipolar":
        data = raw.get_data()
        idx = {c: i for i, c in enumerate(raw.ch_names)}
        pairs = bipolar_pairs(raw.ch_names)
        new = np.stack([data[idx[a]] - data[idx[b]] for a, b in pairs])
        info = mne.create_info([f"{a}-{b}" for a, b in pairs], raw.info["sfreq"],
                               [raw.get_channel_types()[idx[a]] for a, _ in pairs], verbose="error")
        with info._unlock():
            info["line_freq"] = raw.info["line_freq"]
        info.set_meas_date(raw.info["meas_date"])
        out = mne.io.RawArray(new, info, first_samp=raw.first_samp, verbose="error")
        out.set_annotations(raw.annotations)
        raw = out
    else:
        data = raw.get_data()
        types = np.array(raw.get_channel_types())
        for t in set(types):
            data[types == t] -= data[types == t].mean(axis=0)
        raw._data[:] = data
    freqs = [f for f in line_noise_freqs(raw, "auto", None) if band[0] - 5 <= f <= band[1] + 5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if freqs:
            raw.notch_filter(freqs, picks="all", verbose="error")
        data, sfreq = raw.get_data(), raw.info["sfreq"]
        edges = np.geomspace(band[0], band[1], n_bands + 1)
        env = np.zeros_like(data, dtype=np.float64)
        for f0, f1 in zip(edges[:-1], edges[1:]):
            amp = np.abs(hilbert(mne.filter.filter_data(data, sfreq, f0, f1, verbose="error"), axis=-1))
            env += amp / np.maximum(amp.mean(axis=-1, keepdims=True), np.finfo(float).tiny)
        env_raw = mne.io.RawArray(env / n_bands, raw.info.copy(), first_samp=raw.first_samp, verbose="error")
        env_raw.set_annotations(raw.annotations)
        env_raw.filter(None, 0.4 * resample, picks="all", verbose="error")
        env_raw.resample(resample, method="polyphase", verbose="error")
    return env_raw, zscore_time(env_raw.get_data(reject_by_annotation="NaN").T)


def _recording(n_channels=11, seconds=20.0, sfreq=1000.0, seed=3) -> mne.io.RawArray:
    """Noise on two shafts (sEEG) and a grid (ECoG) with line noise, one bad contact and a BAD segment."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    names = [f"LA{i + 1}" for i in range(4)] + [f"G{i + 1}" for i in range(n_channels - 4)]
    data = np.cumsum(rng.standard_normal((n_channels, n)), axis=1) * 1e-7 + 1e-6 * rng.standard_normal((n_channels, n))
    data += 2e-6 * np.sin(2 * np.pi * 60.0 * np.arange(n) / sfreq)
    info = mne.create_info(names, sfreq, ["seeg"] * 4 + ["ecog"] * (n_channels - 4))
    info["line_freq"] = 60.0
    info["bads"] = ["G3"]
    raw = mne.io.RawArray(data, info, first_samp=250, verbose="error")
    raw.set_meas_date(1_500_000_000.0)  # recordings carry one; annotations are then absolute times
    raw.set_annotations(mne.Annotations([raw.first_samp / sfreq + 6.0], [1.5], ["BAD_artefact"]))
    return raw


@pytest.mark.parametrize("reference", ["bipolar", "average"])
def test_block_pipeline_equals_whole_recording(monkeypatch, reference):
    raw = _recording()
    expected_raw, expected = _reference_ieeg(raw, reference)
    # blocks of 3 channels (the last one shorter), so block boundaries and a partial block are exercised
    monkeypatch.setattr(ieeg, "BLOCK_SAMPLES", 3 * raw.n_times)
    out = preprocess_ieeg(raw, reference=reference, resample=50.0)
    assert out.channel.values.tolist() == expected_raw.ch_names
    np.testing.assert_array_equal(np.isnan(out.values), np.isnan(expected))
    assert np.isnan(expected).any()  # the BAD segment is NaN in both
    diff = np.nanmax(np.abs(out.values - expected))
    assert diff <= 1e-6, f"max abs diff {diff}"
    np.testing.assert_allclose(out.time.values, expected_raw.times)
    assert out.attrs["sfreq"] == expected_raw.info["sfreq"] == 50.0


def test_block_size_does_not_change_the_envelope(monkeypatch):
    raw = _recording(n_channels=9, seconds=10.0)
    raw.load_data()
    whole = ieeg.envelope_raw(raw, (70.0, 150.0), 4, 50.0, block_samples=10**12)
    for block in (1, 2 * raw.n_times, 5 * raw.n_times):
        part = ieeg.envelope_raw(raw, (70.0, 150.0), 4, 50.0, block_samples=block)
        assert np.abs(part.get_data() - whole.get_data()).max() <= 1e-15 * np.abs(whole.get_data()).max()
        assert part.first_samp == whole.first_samp and part.info["sfreq"] == whole.info["sfreq"]


def test_podcast_options_do_not_depend_on_the_block_size(monkeypatch):
    """Group-wise reference and artefact detection (the Podcast profile) give the same output whether
    the artefact scores and the envelope see the whole recording at once or blocks of three contacts."""
    raw = _recording(n_channels=10, seconds=40.0)  # the padded transient: under 5 % of the run
    raw._data[5, 9000:9200] += 1e-3 * np.random.default_rng(0).standard_normal(200)  # a broadband transient
    options = dict(reference="group_average", artifacts=True, artifact_threshold=8.0, resample=50.0)
    assert 10 * raw.n_times < ieeg.BLOCK_SAMPLES  # one block
    whole = preprocess_ieeg(raw, **options)
    monkeypatch.setattr(ieeg, "BLOCK_SAMPLES", 3 * raw.n_times)
    blocks = preprocess_ieeg(raw, **options)
    assert whole.attrs["artifact_segments"] == blocks.attrs["artifact_segments"] != []
    assert whole.channel.values.tolist() == blocks.channel.values.tolist()
    np.testing.assert_array_equal(np.isnan(whole.values), np.isnan(blocks.values))
    assert np.nanmax(np.abs(whole.values - blocks.values)) <= 1e-6


def test_group_reference_in_place_equals_the_indexed_formula():
    """Row-by-row, in place (no copy of a group that may hold most of the recording): the same numbers as
    ``data[group] -= data[good contacts of the group].mean(axis=0)``, for consecutive and interleaved groups."""
    raw = _recording()
    raw.load_data()
    raw.pick([c for c in raw.ch_names if c not in raw.info["bads"]])
    groups = {"LA1": "A", "LA2": "B", "LA3": "A", "LA4": "B"}  # interleaved; G1..G7 one consecutive group
    groups.update({c: "G" for c in raw.ch_names if c.startswith("G")})
    before = raw._data.copy()
    expected = before.copy()
    for group in ("A", "B", "G"):
        idx = [i for i, c in enumerate(raw.ch_names) if groups[c] == group]
        good = [i for i in idx if raw.ch_names[i] != "G2"]
        expected[idx] -= before[good].mean(axis=0)
    ieeg.group_average_reference(raw, groups, exclude=["G2"], single="keep", source="test")
    np.testing.assert_array_equal(raw._data, expected)


# ----------------------------------------------------------------------------------- the model
def _bids_run(root: Path, n_channels: int, seconds: float, sfreq: float, modality: str = "ieeg") -> Path:
    return bench.write_recording(root, n_channels, seconds / 60.0, sfreq, modality=modality)


def test_sizes_from_sidecar_channels_tsv_and_header(tmp_path):
    recording = _bids_run(tmp_path, 12, 20.0, 512.0)
    files = bench.run_files(recording)
    shape = recording_shape(files, "ieeg")
    # channels.tsv lists every channel of the file, the bad ones too: the reader holds them all
    assert shape["n_channels"] == 12 and shape["n_times"] == 20 * 512 and shape["sfreq"] == 512.0
    assert shape["source"].endswith("_ieeg.json")
    # without the sidecar's duration and the channels table: the header (no sample read) gives the same
    sidecar = next(Path(f) for f in files if f.endswith("_ieeg.json"))
    meta = json.loads(sidecar.read_text())
    del meta["RecordingDuration"]
    sidecar.write_text(json.dumps(meta))
    header = recording_shape([f for f in files if not f.endswith("_channels.tsv")], "ieeg")
    assert (header["n_channels"], header["n_times"]) == (12, 20 * 512) and header["source"].endswith(".vhdr")
    assert recording_shape([str(tmp_path / "nothing_ieeg.json")], "ieeg") is None


def test_request_scales_with_channels_times_samples_and_attempt():
    n = 263 * 30 * 60 * 512  # the Podcast patient that peaked at 16.7 GB under the old pipeline
    one, two = memory_mb(n, "ieeg"), memory_mb(2 * n, "ieeg")
    assert abs((two - one) - FACTOR["ieeg"] * 8 * n / 1e6 * MARGIN) <= 100  # linear in channels x samples
    assert 4000 < one < 16_700 / 2  # above the former constant, well below the old peak
    assert memory_mb(4 * n, "ieeg") > 3.5 * one * (1 - 0.1)  # 2048 Hz: about four times as much
    assert memory_mb(n, "ieeg", attempt=2) == 2 * one
    assert memory_mb(n, "meg", {"ica": {"enabled": True}}) > memory_mb(n, "meg")
    assert memory_mb(n, "meg", {"ica": {"enabled": False}}) == memory_mb(n, "meg")
    assert memory_mb(None, "ieeg", attempt=3) == 3 * FALLBACK_MB
    assert runtime_minutes(4 * n, "ieeg") > runtime_minutes(n, "ieeg") > runtime_minutes(n // 100, "ieeg")
    assert runtime_minutes(n, "ieeg", attempt=2) == 2 * runtime_minutes(n, "ieeg")


def test_fmri_size_from_the_nifti_header(tmp_path):
    import nibabel as nib

    small, big = tmp_path / "mask.nii.gz", tmp_path / "sub-01_task-a_bold.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 5, 6), np.int8), np.eye(4)), small)
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6, 30), np.float32), np.eye(4)), big)
    empty = tmp_path / "placeholder_bold.nii.gz"
    empty.touch()  # an empty placeholder (as in the dry-run benchmark) is skipped, not an error
    shape = image_shape([small, big, empty, tmp_path / "confounds.tsv"])
    assert shape == {"n_voxels": 120, "n_volumes": 30, "source": str(big)}
    request = preprocess_resources([small, big], "fmri")
    assert request["n_values"] == 120 * 30 and request["mem_mb"] == memory_mb(3600, "fmri")
    assert preprocess_resources([empty], "fmri")["mem_mb"] == FALLBACK_MB


# ---------------------------------------------------------------------------- measured peak memory
def test_peak_memory_of_ieeg_preprocessing_stays_within_its_request(tmp_path):
    """A realistic montage (128 contacts at 2048 Hz, 2 minutes: 250 MB of float64) preprocessed in a fresh
    process, as a job would: its peak resident memory lies within the mem_mb the model asks for it, and
    above the imports it stays near the model's factor (the old pipeline held ~8 copies at once)."""
    recording = bench.write_recording(tmp_path, 128, 2.0, 2048.0)
    files = bench.run_files(recording)
    request = preprocess_resources(files, "ieeg")
    data_mb = request["n_values"] * 8 / 1e6
    assert request["n_values"] == 128 * 2 * 60 * 2048
    # two of eight sub-bands keep the test short: the bands run one after the other, so the peak is the same
    got = bench.measure(recording, "ieeg", {"n_bands": 2}, timeout=600)
    # every tenth contact is marked bad (13), and a bad contact breaks its bipolar chain: 102 pairs
    assert got["shape"] == [2 * 60 * 50, 102]
    assert got["peak_mb"] <= request["mem_mb"], (got, request)
    block_mb = 10 * 8 * ieeg.BLOCK_SAMPLES / 1e6
    assert got["peak_mb"] - got["imported_mb"] <= FACTOR["ieeg"] * data_mb + block_mb, (got, data_mb)


def test_peak_memory_of_fmri_preprocessing_stays_within_its_request(tmp_path):
    """A 48x48x32 grid, 150 volumes (float32 on disk, 88 MB as float64), every voxel in the mask: the
    job's measured peak lies within the request sized from the NIfTI header."""
    bold = bench.write_bold(tmp_path, (48, 48, 32), 150)
    request = preprocess_resources(bench.run_files(bold), "fmri")
    assert request["n_values"] == 48 * 48 * 32 * 150
    got = bench.measure(bold, "fmri", timeout=600)
    assert got["shape"] == [150, 48 * 48 * 32]
    assert got["peak_mb"] <= request["mem_mb"], (got, request)
    assert got["peak_mb"] - got["imported_mb"] <= FACTOR["fmri"] * request["n_values"] * 8 / 1e6 + 200, got
