"""A Podcast-ECoG-like BIDS iEEG run made of the real metadata of one patient and a synthetic recording.

The real ``channels.tsv`` (124 channels: ECOG grid, strips and depth contacts, bad channels, EKG and
DC), both ``electrodes.tsv`` (``space-MNI152NLin2009aSym`` and ``space-Other``, the patient's native
space) and their ``coordsystem.json`` are copied from ``../shared/data/podcast-ecog-metadata``; the
recording is a few seconds of noise at the real 512 Hz written by ``mne_bids.write_raw_bids``
(BrainVision), with channel names and types from that ``channels.tsv``.  Importable from every test
folder as ``tests.podcast_ieeg_tree`` (``tests/`` is a package and pytest puts the repository root on ``sys.path``).

Also a whole multi-patient tree (:func:`write_podcast_tree`) in the image of the release, for the
end-to-end test of the Podcast profile: every patient's real metadata (channels, both electrode
spaces, ``ieeg.json`` with ``RecordingDuration`` set to the synthetic length), the podcast's real word
timings (``stimuli/podcast_transcript.csv``, rebuilt from the shared token-level transcript) and
BrainVision recordings at each patient's real rate (512 Hz; 2,048 Hz for sub-07) carrying 1/f
background and 60 Hz line noise, a 70-150 Hz carrier whose amplitude follows a word-locked driver on
the *planted* contacts (a model layer's features projected, responding ``lag`` s after each word) and
optional transients (an electrode pop on a few grid contacts).
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import butter, fftconvolve, sosfiltfilt

METADATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "podcast-ecog-metadata"
MNI = "MNI152NLin2009aSym"
SPACES = (MNI, "Other")
TASK = "podcast"
LINE_FREQ = 60.0
BAND = (70.0, 150.0)


def real_ieeg_dir(sub: str = "01") -> Path:
    """The real metadata folder ``sub-<sub>/ieeg``."""
    return METADATA / f"sub-{sub}" / "ieeg"


def write_podcast_run(root: Path, sub: str = "01", *, spaces=SPACES, duration: float = 8.0,
                      sfreq: float = 512.0, seed: int = 0):
    """Write ``sub-<sub>_task-podcast_ieeg`` under ``root`` with the real metadata of ``spaces``.

    Returns
    -------
    mne_bids.BIDSPath
        The recording's path (root set).
    """
    import mne
    import mne_bids

    from brainalign.io.tsv import read_bids_tsv

    real = real_ieeg_dir(sub)
    channels = read_bids_tsv(real / f"sub-{sub}_task-podcast_channels.tsv", what="channels.tsv")
    names = [str(n) for n in channels["name"]]
    info = mne.create_info(names, sfreq, [str(t).lower() for t in channels["type"]])
    info["line_freq"] = 60.0
    data = np.random.default_rng(seed).standard_normal((len(names), int(duration * sfreq))) * 1e-5
    raw = mne.io.RawArray(data, info, verbose="error")
    bids_path = mne_bids.BIDSPath(subject=sub, task="podcast", root=root, datatype="ieeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(raw, bids_path, allow_preload=True, format="BrainVision", overwrite=True,
                                verbose=False)
    folder = bids_path.directory
    for p in [*folder.glob("*_electrodes.*"), *folder.glob("*_coordsystem.json")]:
        p.unlink()  # mne-bids' own (empty) position files: the real ones replace them
    shutil.copy(real / f"sub-{sub}_task-podcast_channels.tsv", folder / f"sub-{sub}_task-podcast_channels.tsv")
    for space in spaces:
        for suffix in ("electrodes.tsv", "coordsystem.json"):
            name = f"sub-{sub}_space-{space}_{suffix}"
            shutil.copy(real / name, folder / name)
    return bids_path


def electrode_table(sub: str, space: str) -> dict[str, tuple[float, float, float]]:
    """The real ``electrodes.tsv`` of a space: name -> (x, y, z) as written (mm)."""
    from brainalign.io.tsv import read_bids_tsv

    table = read_bids_tsv(real_ieeg_dir(sub) / f"sub-{sub}_space-{space}_electrodes.tsv", what="electrodes.tsv")
    return {str(n): (float(x), float(y), float(z)) for n, x, y, z in zip(table["name"], table["x"], table["y"],
                                                                          table["z"])}


@dataclass
class Planted:
    """Contacts of one patient whose high-gamma envelope follows ``driver`` at ``lag`` seconds.

    Attributes
    ----------
    channels : contact names (from the patient's channels.tsv, status good).
    driver : (n_words, k) per-word latents (unit variance), e.g. a model layer's features projected.
    lag : seconds from a word's onset to the peak of its high-gamma response.
    gain : envelope modulation depth (the envelope is ``1 + gain * response``, kept positive).
    """

    channels: list[str]
    driver: np.ndarray
    lag: float = 0.2
    gain: float = 0.6


@dataclass
class Transient:
    """A brief, large deflection on a few contacts (an electrode pop: an abrupt jump of ``amplitude``
    background SDs decaying over ``duration`` s)."""

    channels: list[str]
    onset: float
    duration: float = 0.15
    amplitude: float = 60.0  # in units of the background's standard deviation


@dataclass
class Patient:
    """One patient of the tree: its real metadata's subject label and what is planted in it."""

    subject: str
    planted: Planted | None = None
    transients: list[Transient] = field(default_factory=list)


def podcast_words(n_words: int | None = None) -> pd.DataFrame:
    """The podcast's words with their real onsets (``word, start, end``), from the token-level transcript.

    The shared ``transcript.tsv`` has one row per GPT-2 token (several per word); a word starts at its
    first token and ends at its last. ``n_words`` keeps the first words only (a shorter recording).
    """
    tokens = pd.read_csv(METADATA / "stimuli" / "gpt2-xl" / "transcript.tsv", sep="\t", quoting=3,
                         keep_default_na=False, dtype={"word": str})
    words = tokens.groupby("word_idx", sort=True).agg(word=("word", "first"), start=("start", "first"),
                                                      end=("end", "last")).reset_index(drop=True)
    for col in ("start", "end"):
        words[col] = pd.to_numeric(words[col].replace("", np.nan))
    return words if n_words is None else words.iloc[:n_words].reset_index(drop=True)


def channel_table(subject: str) -> pd.DataFrame:
    """The patient's real ``channels.tsv`` (BIDS TSV: no quoting, ``n/a`` kept as text)."""
    path = METADATA / f"sub-{subject}" / "ieeg" / f"sub-{subject}_task-{TASK}_channels.tsv"
    return pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def sidecar(subject: str) -> dict:
    """The patient's real ``ieeg.json``."""
    return json.loads((METADATA / f"sub-{subject}" / "ieeg" / f"sub-{subject}_task-{TASK}_ieeg.json").read_text())


def _pink(rng: np.random.Generator, n_times: int, n_channels: int) -> np.ndarray:
    """1/f noise (unit SD per channel): white noise shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal((n_times, n_channels)), axis=0)
    f = np.arange(spec.shape[0], dtype=float)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f)[:, None], n=n_times, axis=0)
    return x / x.std(axis=0)


def _carrier(rng: np.random.Generator, n_times: int, n_channels: int, sfreq: float) -> np.ndarray:
    sos = butter(4, BAND, btype="band", fs=sfreq, output="sos")
    x = sosfiltfilt(sos, rng.standard_normal((n_times, n_channels)), axis=0)
    return x / x.std(axis=0)


def word_response(driver: np.ndarray, onsets: np.ndarray, n_times: int, sfreq: float, lag: float,
                  width: float = 0.05) -> np.ndarray:
    """``(n_times,)`` sum over latents of word impulses (latent values at onsets) convolved with a
    Gaussian peaking ``lag`` s after the onset, scaled to unit SD."""
    t = np.arange(int(round((lag + 4 * width) * sfreq)) + 1) / sfreq
    kernel = np.exp(-0.5 * ((t - lag) / width) ** 2)
    imp = np.zeros(n_times)
    idx = np.round(np.asarray(onsets, float) * sfreq).astype(int)
    ok = (idx >= 0) & (idx < n_times)
    np.add.at(imp, idx[ok], np.asarray(driver, float).reshape(len(onsets), -1).sum(axis=1)[ok])
    out = fftconvolve(imp, kernel)[:n_times]
    return out / max(out.std(), 1e-12)


def write_patient(root: Path, patient: Patient, words: pd.DataFrame, duration: float, *, seed: int = 0,
                  sfreq: float | None = None) -> Path:
    """Write one patient's run and metadata under ``root``; returns the ``.vhdr`` path.

    ``sfreq`` overrides the real sampling rate (and is then written into the sidecar and
    channels.tsv), e.g. to make a test faster; by default each patient keeps its own.
    """
    import pybv

    sub = patient.subject
    src = METADATA / f"sub-{sub}" / "ieeg"
    out = root / f"sub-{sub}" / "ieeg"
    out.mkdir(parents=True, exist_ok=True)
    meta = sidecar(sub)
    fs = float(sfreq or meta["SamplingFrequency"])
    channels = channel_table(sub)
    names = channels["name"].tolist()
    n_times = int(round(duration * fs))
    rng = np.random.default_rng(seed)
    # background: 1/f plus line noise at the patient's power-line frequency and its first harmonic
    data = _pink(rng, n_times, len(names))
    t = np.arange(n_times) / fs
    phase = rng.uniform(0, 2 * np.pi, len(names))
    data += 0.3 * np.sin(2 * np.pi * LINE_FREQ * t[:, None] + phase)
    if patient.planted is not None:
        # the planted contacts get a 70-150 Hz carrier whose amplitude follows the words; the others'
        # high gamma is the background's own (1/f: constant power over time)
        p = patient.planted
        missing = sorted(set(p.channels) - set(names))
        if missing:
            raise ValueError(f"sub-{sub}: planted channels {missing} are not in its channels.tsv")
        resp = word_response(p.driver, words["start"].to_numpy(float), n_times, fs, p.lag)
        env = np.maximum(1.0 + p.gain * resp, 0.05)
        cols = [names.index(ch) for ch in p.channels]
        data[:, cols] += 0.5 * env[:, None] * _carrier(rng, n_times, len(cols), fs)
    for tr in patient.transients:
        # an electrode pop: an abrupt jump (broadband, high gamma included) relaxing exponentially
        i0 = int(round(tr.onset * fs))
        shape = np.exp(-np.arange(int(round(tr.duration * fs))) / (tr.duration * fs / 4.0))
        for ch in tr.channels:
            data[i0:i0 + len(shape), names.index(ch)] += tr.amplitude * shape[: n_times - i0]
    stem = f"sub-{sub}_task-{TASK}"
    # 20 microvolts per unit: a plausible ECoG scale, well inside float32 resolution
    pybv.write_brainvision(data=(data.T * 20.0).astype(np.float32), sfreq=fs, ch_names=names,
                           fname_base=f"{stem}_ieeg", folder_out=str(out), overwrite=True, unit="µV")
    meta.update(SamplingFrequency=fs, RecordingDuration=round(n_times / fs, 6))
    (out / f"{stem}_ieeg.json").write_text(json.dumps(meta, indent=2) + "\n")
    channels["sampling_frequency"] = f"{fs:.1f}"
    channels.to_csv(out / f"{stem}_channels.tsv", sep="\t", index=False, quoting=3)
    for f in src.glob(f"sub-{sub}_space-*"):  # both electrode spaces and their coordinate systems
        shutil.copy(f, out / f.name)
    return out / f"{stem}_ieeg.vhdr"


def write_podcast_tree(root: Path, patients: list[Patient], words: pd.DataFrame, *, tail: float = 3.0,
                       seed: int = 0, sfreq: dict[str, float] | None = None) -> Path:
    """The whole tree: ``dataset_description.json``, ``participants.tsv``, the word timings as the
    release's ``stimuli/podcast_transcript.csv`` (``word, start, end``) and each patient's run, long
    enough for the last word plus ``tail`` seconds."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps(
        {"Name": "synthetic podcast ECoG", "BIDSVersion": "1.9.0", "DatasetType": "raw"}, indent=2) + "\n")
    part = pd.DataFrame({"participant_id": [f"sub-{p.subject}" for p in patients]})
    part.to_csv(root / "participants.tsv", sep="\t", index=False)
    stim = root / "stimuli"
    stim.mkdir(exist_ok=True)
    words[["word", "start", "end"]].to_csv(stim / "podcast_transcript.csv", index=False)
    duration = float(np.nanmax(words["end"].to_numpy(float))) + tail
    for i, p in enumerate(patients):
        write_patient(root, p, words, duration, seed=seed + i, sfreq=(sfreq or {}).get(p.subject))
    return root
