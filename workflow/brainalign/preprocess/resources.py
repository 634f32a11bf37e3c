"""Memory and run time a preprocessing job needs, from the size of its input (read from headers).

A constant request cannot fit iEEG: a 263-channel, 30-minute recording at 512 Hz holds 1.9 GB of
float64 samples, the same patient at 2048 Hz four times that, and the demo's runs a few megabytes.
The workflow therefore sizes each job from its own run (``workflow/rules/common.smk``):

MEG/EEG/iEEG
    channels x samples, from the BIDS sidecar (``SamplingFrequency``, ``RecordingDuration``) and
    the rows of ``channels.tsv`` (every channel of the file: the reader sees them all), else from
    the recording's header (``mne.io.read_raw(preload=False)``: no sample is read).
fMRI
    voxels x volumes from the NIfTI header of the largest image the job reads.

The request is ``(base + factor x input) x margin x attempt`` MB, with the factor measured on
synthetic recordings of realistic shape (``benchmarks/preprocess_memory.py``,
``tests/unit/preprocess/test_resources.py``): the job's peak resident memory over its input's float64
size.  ``attempt`` (Snakemake's retry counter) scales the request of a retried job, as every rule
of the workflow does.  When no size can be read (the demo plans its jobs before its files exist), the
request falls back to :data:`FALLBACK_MB`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

log = logging.getLogger(__name__)

MB = 1e6
# Resident memory of a preprocessing job before it reads a sample (Python, numpy/scipy, MNE,
# mne-bids, xarray imports: ~160 MB measured; nilearn's ~80 MB more), with room for the fixed
# blocks (brainalign.preprocess.ieeg.BLOCK_SAMPLES: ~170 MB).
BASE_MB = {"meeg": 400.0, "ieeg": 400.0, "fmri": 400.0}
# Peak memory over the float64 size of the input (values x 8 bytes), measured on two shared cores
# (benchmarks/preprocess_memory.py): iEEG 1.7 above the imports (the recording and its bipolar
# montage, or a copy while contacts are dropped; the filter bank runs on blocks of channels);
# EEG 1.8 (MNE's average reference copies the EEG channels), 3 kept for MEG systems and
# interpolation; ICA fits on a high-passed copy (+1). fMRI 3.9 (the slope between a 48x48x32x200 and
# a 64x64x40x300 run with a full-grid mask: the image in float64, the masked copy, nilearn's cleaning).
FACTOR = {"meeg": 3.0, "ieeg": 2.0, "fmri": 4.5}
ICA_FACTOR = 1.0
# Head-room for what the factor does not see (allocator fragmentation, a longer channels.tsv).
MARGIN = 1.25
# The request when the input's size cannot be read (same as the former constant request).
FALLBACK_MB = 4000
# Run time (minutes): a fixed start-up plus a rate per million values of the input, from the same
# measurements on two shared cores (iEEG 39 M values: 78 s; 242 M, 263 ch x 30 min x 512 Hz: 18 min
# beside other jobs; EEG 38 M: 20 s; fMRI 49 M: 45 s), with head-room for slower or busier nodes.
BASE_MINUTES = 5.0
MINUTES_PER_MSAMPLE = {"meeg": 0.04, "ieeg": 0.12, "fmri": 0.04}
FALLBACK_MINUTES = 15

_CHANNEL_COUNTS = ("MEGChannelCount", "MEGREFChannelCount", "EEGChannelCount", "ECOGChannelCount",
                   "SEEGChannelCount", "DBSChannelCount", "EOGChannelCount", "ECGChannelCount",
                   "EMGChannelCount", "MiscChannelCount", "TriggerChannelCount")
_SIDECAR_SUFFIX = {"meg": "_meg.json", "eeg": "_eeg.json", "ieeg": "_ieeg.json"}
_RECORDING_EXT = (".vhdr", ".edf", ".bdf", ".fif", ".fif.gz", ".set", ".con", ".sqd", ".ds", ".mef", ".nwb",
                  ".snirf", ".mff", ".EDF", ".BDF")


def _section(modality: str) -> str:
    return "fmri" if modality == "fmri" else ("ieeg" if modality == "ieeg" else "meeg")


def _count_tsv_rows(path: Path) -> int | None:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = [line for line in handle if line.strip()]
    except OSError:
        return None
    return len(lines) - 1 if len(lines) > 1 else None


def recording_shape(files: Sequence[str | os.PathLike], modality: str) -> dict | None:
    """Channels and samples of a MEG/EEG/iEEG run, from its sidecar and ``channels.tsv`` or its header.

    Parameters
    ----------
    files
        The files of the run (recording, companions, sidecars), as the workflow's plan lists them.
    modality
        ``"meg"``, ``"eeg"`` or ``"ieeg"``.

    Returns
    -------
    dict or None
        ``n_channels``, ``n_times``, ``sfreq`` and ``source`` (where they were read); None when no
        file gives them.
    """
    paths = [Path(f) for f in files]
    suffix = _SIDECAR_SUFFIX.get(modality, f"_{modality}.json")
    sidecar = next((p for p in paths if p.name.endswith(suffix) and p.is_file()), None)
    channels_tsv = next((p for p in paths if p.name.endswith("_channels.tsv") and p.is_file()), None)
    n_channels = _count_tsv_rows(channels_tsv) if channels_tsv else None
    sfreq = duration = None
    if sidecar is not None:
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            meta = {}  # a damaged sidecar is the input check's business; size from the header instead
        sfreq, duration = meta.get("SamplingFrequency"), meta.get("RecordingDuration")
        if n_channels is None:
            counts = [meta.get(k) for k in _CHANNEL_COUNTS if isinstance(meta.get(k), (int, float))]
            n_channels = int(sum(counts)) if counts else None
    if n_channels and isinstance(sfreq, (int, float)) and isinstance(duration, (int, float)) and sfreq > 0:
        # RecordingDuration is (samples - 1) / rate as mne-bids writes it (1799.998046875 s at 512 Hz for
        # 921,600 samples); one sample more where a writer used samples / rate is immaterial
        return {"n_channels": int(n_channels), "n_times": int(round(float(duration) * float(sfreq))) + 1,
                "sfreq": float(sfreq), "source": str(sidecar)}
    recording = next((p for p in paths if p.name.endswith(_RECORDING_EXT) and p.exists()), None)
    if recording is None:
        return None
    try:  # the header only: no sample is read
        import mne

        raw = mne.io.read_raw(recording, preload=False, verbose="error")
    except Exception as err:  # an unreadable header is the input check's and the job's to report
        log.debug("%s: header not read for sizing (%s)", recording, err)
        return None
    return {"n_channels": len(raw.ch_names), "n_times": int(raw.n_times), "sfreq": float(raw.info["sfreq"]),
            "source": str(recording)}


def image_shape(files: Sequence[str | os.PathLike]) -> dict | None:
    """Voxels and volumes of the largest NIfTI image among ``files``, from its header (no data read).

    Returns
    -------
    dict or None
        ``n_voxels`` (the full grid), ``n_volumes`` and ``source``; None without a readable image.
    """
    images = [Path(f) for f in files if str(f).endswith((".nii", ".nii.gz")) and Path(f).is_file()]
    best = None
    for path in images:
        try:
            import nibabel as nib

            shape = nib.load(str(path)).shape
        except Exception as err:  # an empty placeholder or damaged file: the job reports it
            log.debug("%s: header not read for sizing (%s)", path, err)
            continue
        n_voxels = int(math.prod(shape[:3])) if len(shape) >= 3 else 0
        n_volumes = int(shape[3]) if len(shape) > 3 else 1
        if best is None or n_voxels * n_volumes > best["n_voxels"] * best["n_volumes"]:
            best = {"n_voxels": n_voxels, "n_volumes": n_volumes, "source": str(path)}
    return best


def input_values(files: Sequence[str | os.PathLike], modality: str) -> int | None:
    """Number of values (channels x samples, voxels x volumes) a preprocessing job reads; None if unknown."""
    if modality == "fmri":
        shape = image_shape(files)
        return shape["n_voxels"] * shape["n_volumes"] if shape else None
    shape = recording_shape(files, modality)
    return shape["n_channels"] * shape["n_times"] if shape else None


def _ica_enabled(options: Mapping | None) -> bool:
    """Whether the ``preprocess.meeg`` section switches ICA on (``ica.enabled``; no section: off)."""
    return bool(options and (options.get("ica") or {}).get("enabled"))


def memory_mb(n_values: int | None, modality: str, options: Mapping | None = None, attempt: int = 1) -> int:
    """``mem_mb`` of a preprocessing job reading ``n_values`` float64 values (see the module docstring)."""
    if n_values is None:
        return int(FALLBACK_MB * attempt)
    section = _section(modality)
    factor = FACTOR[section] + (ICA_FACTOR if section == "meeg" and _ica_enabled(options) else 0.0)
    need = (BASE_MB[section] + factor * 8.0 * n_values / MB) * MARGIN
    return int(math.ceil(need / 100.0) * 100) * int(attempt)


def runtime_minutes(n_values: int | None, modality: str, attempt: int = 1) -> int:
    """``runtime`` (minutes) of a preprocessing job reading ``n_values`` values."""
    if n_values is None:
        return int(FALLBACK_MINUTES * attempt)
    minutes = BASE_MINUTES + MINUTES_PER_MSAMPLE[_section(modality)] * n_values / MB
    return int(math.ceil(minutes)) * int(attempt)


def preprocess_resources(files: Sequence[str | os.PathLike], modality: str, options: Mapping | None = None,
                         attempt: int = 1) -> dict:
    """``mem_mb`` and ``runtime`` of the preprocessing job of one run.

    Parameters
    ----------
    files
        The files the job reads (the plan's list: recording, companions, sidecars).
    modality
        ``"fmri"``, ``"meg"``, ``"eeg"`` or ``"ieeg"``.
    options
        The job's ``preprocess.<section>`` options (ICA adds a copy of the recording).
    attempt
        Snakemake's attempt counter (1 on the first try): the request grows with each retry.

    Returns
    -------
    dict
        ``mem_mb``, ``runtime`` (minutes) and ``n_values`` (None when the size could not be read).
    """
    n_values = input_values(files, modality)
    return {"mem_mb": memory_mb(n_values, modality, options, attempt),
            "runtime": runtime_minutes(n_values, modality, attempt), "n_values": n_values}
