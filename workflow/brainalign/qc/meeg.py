"""MEG/EEG/iEEG QC: power spectra before and after preprocessing, bad channels and segments, the
ICA/SSP components removed.

"Before" is the recording the preprocessing job read (read again with
:func:`brainalign.preprocess.meeg.read_raw`: the same files, bad channels from ``channels.tsv``,
``BAD`` segments from ``events.tsv``); "after" is what it wrote (the preprocessing store: notched,
band-passed, resampled, z-scored; for iEEG the high-gamma envelope).  The store's ``steps`` attribute
records the ICA components and SSP projectors that were removed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from scipy.signal import welch

#: Longest Welch segment (s): ~0.25 Hz resolution, enough to see a 50/60 Hz notch and a 0.1 Hz edge.
WELCH_SECONDS = 4.0


def psd(data: np.ndarray, sfreq: float, seconds: float = WELCH_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density per channel, ignoring samples that are NaN in any channel.

    Parameters
    ----------
    data
        ``channel x time``.
    sfreq
        Sampling rate (Hz).
    seconds
        Segment length (s), shortened to the recording when it is shorter.

    Returns
    -------
    (freqs, power)
        Frequencies (Hz) and ``channel x freq`` power (units² / Hz).  Samples inside bad segments
        (NaN in the preprocessing store) are left out; the spectra then join the good stretches,
        which leaves the band shape intact.

    Raises
    ------
    ValueError
        Fewer than 8 finite samples.
    """
    data = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(data).all(axis=0)
    data = data[:, finite]
    if data.shape[1] < 8:
        raise ValueError(f"{data.shape[1]} finite samples: too few for a power spectrum")
    nper = int(min(data.shape[1], round(seconds * sfreq)))
    freqs, power = welch(data, fs=sfreq, nperseg=nper, axis=-1, detrend="constant")
    return freqs, power


def bad_segments(annotations) -> pd.DataFrame:
    """The ``BAD*`` annotations of a recording: ``onset`` (s, from the first sample), ``duration`` (s),
    ``description``."""
    rows = [{"onset": float(a["onset"]), "duration": float(a["duration"]), "description": str(a["description"])}
            for a in annotations if str(a["description"]).upper().startswith("BAD")]
    return pd.DataFrame(rows, columns=["onset", "duration", "description"])


def removed_components(steps) -> dict[str, list]:
    """ICA components and SSP projectors removed, from the preprocessing store's ``steps``.

    ``"ica:[0, 3]"`` -> ``{"ica": [0, 3]}``; ``"ssp_eog:2"`` -> ``{"ssp_eog": [2]}`` (projectors added).
    Nothing removed: ``{}``.
    """
    out: dict[str, list] = {}
    for step in [steps] if isinstance(steps, str) else list(steps or []):
        step = str(step)
        if step.startswith("ica:"):
            out["ica"] = [int(i) for i in re.findall(r"\d+", step[4:])]
        elif step.startswith("ssp_"):
            kind, _, n = step.partition(":")
            out[kind] = [int(n)] if n.isdigit() else []
    return out


@dataclass
class MeegQC:
    """QC of one MEG/EEG/iEEG run (see :func:`meeg_qc`).

    Attributes
    ----------
    freqs_before, psd_before
        Spectrum of the recording's data channels as read (``channel x freq``, V²/Hz or T²/Hz).
    freqs_after, psd_after
        Spectrum of the preprocessed channels (z-scored units² / Hz; iEEG: of the envelope).
    channels_before, channels_after
        Channel names of each spectrum.
    bads
        Channels marked bad in the recording (``channels.tsv``).
    segments
        ``BAD*`` annotations (:func:`bad_segments`).
    duration
        Length of the recording (s).
    removed
        :func:`removed_components` of the store's ``steps``.
    positions
        ``channel -> (x, y, z)`` (m) of the data channels as read, NaN when unknown.
    marks
        Frequencies to mark: ``l_freq``, ``h_freq``, ``notch`` (list), ``band`` (iEEG high gamma).
    modality, n_bad_samples, steps
        From the store.
    """

    freqs_before: np.ndarray
    psd_before: np.ndarray
    freqs_after: np.ndarray
    psd_after: np.ndarray
    channels_before: list[str]
    channels_after: list[str]
    bads: list[str]
    segments: pd.DataFrame
    duration: float
    removed: dict[str, list]
    positions: dict[str, tuple[float, float, float]]
    marks: dict = field(default_factory=dict)
    modality: str = "eeg"
    n_bad_samples: int = 0
    steps: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """One row of the run's QC summary table."""
        return {
            "n_channels_recorded": len(self.channels_before), "n_channels_kept": len(self.channels_after),
            "bad_channels": ",".join(self.bads), "n_bad_segments": int(len(self.segments)),
            "bad_seconds": round(float(self.segments["duration"].sum()), 3) if len(self.segments) else 0.0,
            "recording_seconds": round(self.duration, 3), "n_bad_samples_out": int(self.n_bad_samples),
            "ica_removed": ",".join(str(i) for i in self.removed.get("ica", [])),
            "ssp_projectors": ",".join(f"{k}:{v[0]}" for k, v in self.removed.items() if k.startswith("ssp") and v),
            "steps": " | ".join(self.steps),
        }


def _raw_positions(raw, names: list[str]) -> dict[str, tuple[float, float, float]]:
    """The recording's own channel positions (MEG/EEG montages); channels without one are left out."""
    pos = {}
    for ch in raw.info["chs"]:
        loc = np.asarray(ch["loc"][:3], dtype=float)
        if ch["ch_name"] in names and np.isfinite(loc).all() and np.abs(loc).sum() > 0:
            pos[ch["ch_name"]] = tuple(float(v) for v in loc)
    return pos


def electrode_positions(preproc: xr.DataArray) -> dict[str, tuple[float, float, float]]:
    """iEEG contact positions (mm) of the run: every contact of the electrodes.tsv the preprocessing
    read (attr ``electrodes_file``; the bad ones included, which the store itself drops), else the
    store's ``pos_x/pos_y/pos_z`` coords.  A recording read from EDF/BrainVision has no montage, so
    without these the bad-channel panel would have nothing to place."""
    pos: dict[str, tuple[float, float, float]] = {}
    if {"pos_x", "pos_y", "pos_z"} <= set(preproc.coords):
        xyz = np.stack([np.asarray(preproc[c].values, dtype=float) for c in ("pos_x", "pos_y", "pos_z")], axis=1)
        pos.update({str(n): tuple(v) for n, v in zip(preproc["channel"].values, xyz) if np.isfinite(v).all()})
    source = preproc.attrs.get("electrodes_file")
    if source and Path(str(source)).is_file():
        table = pd.read_csv(source, sep="\t", na_values=["n/a"])
        if {"name", "x", "y", "z"} <= set(table.columns):
            for row in table.itertuples():
                xyz = np.array([row.x, row.y, row.z], dtype=float)
                if np.isfinite(xyz).all():
                    pos[str(row.name)] = tuple(xyz)
    return pos


def artifact_segments(attrs: Mapping) -> pd.DataFrame:
    """The artefacts the iEEG preprocessing detected (attr ``artifact_segments``: ``[start, end]`` s),
    as :func:`bad_segments` rows (``BAD_artifact (detected)``)."""
    raw = attrs.get("artifact_segments")
    spans = json.loads(raw) if isinstance(raw, str) else list(raw if raw is not None else [])
    rows = [{"onset": float(a), "duration": float(b) - float(a), "description": "BAD_artifact (detected)"}
            for a, b in spans]
    return pd.DataFrame(rows, columns=["onset", "duration", "description"])


def ieeg_steps(attrs: Mapping) -> list[str]:
    """What the iEEG preprocessing did, from its store's attributes (it records no ``steps`` list)."""
    steps = []
    if attrs.get("reference") is not None:
        steps.append(f"reference:{attrs['reference']}")
    if attrs.get("notch") is not None:
        steps.append(f"notch:{attrs['notch']}")
    if attrs.get("band") is not None:
        steps.append(f"high-gamma envelope:{attrs['band']} Hz" + (f" ({attrs['n_bands']} bands)"
                                                                 if attrs.get("n_bands") is not None else ""))
    if attrs.get("sfreq") is not None:
        steps.append(f"resample:{attrs['sfreq']}")
    return steps


def meeg_qc(raw, preproc: xr.DataArray, options: Mapping, modality: str) -> MeegQC:
    """QC measures of one MEG/EEG/iEEG run.

    Parameters
    ----------
    raw
        The recording as the preprocessing job read it: an ``mne.io.Raw`` (loaded) from
        :func:`brainalign.preprocess.meeg.read_raw`.
    preproc
        The run's preprocessing store (``time x channel``; attrs ``sfreq``, ``steps``, ``bads``,
        ``n_bad_samples``).
    options
        ``preprocess.meeg`` or ``preprocess.ieeg`` (frequencies to mark: ``l_freq``, ``h_freq``,
        ``notch``, ``band``).
    modality
        ``meg``, ``eeg`` or ``ieeg``.

    Returns
    -------
    MeegQC
    """
    from brainalign.config_sections import require
    from brainalign.preprocess.meeg import DATA_TYPES, line_noise_freqs

    options = require(options, "preprocess.ieeg" if modality == "ieeg" else "preprocess.meeg")
    types = raw.get_channel_types()
    names = [c for c, t in zip(raw.ch_names, types) if t in DATA_TYPES]
    good = [c for c in names if c not in raw.info["bads"]] or names
    freqs_b, psd_b = psd(raw.get_data(picks=good), raw.info["sfreq"])
    after = np.asarray(preproc.transpose("channel", "time").values)
    freqs_a, psd_a = psd(after, float(preproc.attrs["sfreq"]))
    band = options["band"] if modality == "ieeg" else None
    notch = options["notch"]
    h_freq = None if modality == "ieeg" else options["h_freq"]
    notch_freqs = line_noise_freqs(raw, notch, h_freq)
    if band is not None:  # iEEG notches only the harmonics inside the high-gamma band (preprocess_ieeg)
        notch_freqs = [f for f in notch_freqs if band[0] - 5 <= f <= band[1] + 5]
    marks = {"l_freq": None if modality == "ieeg" else options["l_freq"], "h_freq": h_freq,
             "notch": notch_freqs, "band": list(band) if band is not None else None}
    # every data channel, placed where the recording or (iEEG) the electrodes.tsv places it
    known = {**electrode_positions(preproc), **_raw_positions(raw, names)}
    pos = {n: known.get(n, (np.nan, np.nan, np.nan)) for n in names}
    if modality == "ieeg":
        steps = ieeg_steps(preproc.attrs)
        segments = pd.concat([bad_segments(raw.annotations), artifact_segments(preproc.attrs)], ignore_index=True)
    else:
        steps = [str(s) for s in np.atleast_1d(preproc.attrs.get("steps", []))]
        segments = bad_segments(raw.annotations)
    return MeegQC(freqs_before=freqs_b, psd_before=psd_b, freqs_after=freqs_a, psd_after=psd_a,
                  channels_before=good, channels_after=[str(c) for c in preproc["channel"].values],
                  bads=[str(b) for b in raw.info["bads"]], segments=segments,
                  duration=float(raw.n_times / raw.info["sfreq"]), removed=removed_components(steps),
                  positions=pos, marks=marks, modality=modality,
                  n_bad_samples=int(preproc.attrs.get("n_bad_samples", 0)), steps=steps)
