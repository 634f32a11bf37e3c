"""iEEG preprocessing: re-reference, high-gamma envelope, electrode coordinates carried along.

High gamma follows the field's filter-bank recipe (e.g. the naplib / Mesgarani-lab and Mischler et
al. pipelines): the signal is band-passed in ``n_bands`` log-spaced sub-bands spanning
``band`` (70–150 Hz by default), each sub-band's analytic amplitude (Hilbert) is divided by its
own mean (so the 1/f spectrum does not let the lowest sub-band dominate), the sub-bands are
averaged, and the envelope is low-passed and resampled (≤ 50 Hz by default), then z-scored.

Re-referencing: ``"bipolar"`` pairs consecutive contacts of one shaft/grid (names ``<prefix><n>``,
e.g. ``LA1``–``LA2``) into ``LA1-LA2``, placed at the contacts' midpoint; ``"average"`` is a
common average over good channels of each type; ``None`` keeps the recorded reference.

Memory: only the picked channels are read, the references are computed without copying the
recording, and the filter bank, Hilbert transform, low-pass and resampling run on blocks of
channels (:data:`BLOCK_SAMPLES`), so a job peaks at about twice the recording (float64, bipolar:
the recording and its bipolar montage) plus a fixed block, not ten times it
(:mod:`brainalign.preprocess.resources` sizes the job's ``mem_mb`` from this).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import defaultdict
from typing import Sequence

import mne
import numpy as np
import xarray as xr
from scipy.signal import hilbert

from brainalign.errors import ConfigError
from brainalign.preprocess.common import zscore_time
from brainalign.preprocess.meeg import _pick_names, apply_nonfinite, line_noise_freqs, load_data, read_raw, to_dataarray
from brainalign.preprocess.nonfinite import DEFAULT_MAX_FRACTION

log = logging.getLogger(__name__)

# Channels go through the filter bank, Hilbert transform, low-pass and resampling in blocks of about
# this many samples (channels x time; at least one channel). About ten float64 arrays of a block's size
# live at once (the band-passed copy, the analytic signal's FFT buffers, the amplitude, the running
# sum), so a block costs ~10 x 8 x BLOCK_SAMPLES bytes (~170 MB) whatever the recording's length.
# Every step is channel-wise, so the blocks give the same numbers as the whole recording at once.
BLOCK_SAMPLES = 2**21

_CONTACT = re.compile(r"^(.*?)(\d+)$")


def bipolar_pairs(ch_names: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs ``(anode, cathode)`` of consecutive contacts on the same shaft/grid.

    Contacts are named ``<prefix><number>``; ``LA1, LA2, LA3`` give ``(LA1, LA2), (LA2, LA3)``.
    Gaps in the numbering (a dropped bad contact) break the chain rather than pairing distant
    contacts.  Names without a trailing number are left out.
    """
    shafts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for name in ch_names:
        m = _CONTACT.match(name)
        if m:
            shafts[m.group(1)].append((int(m.group(2)), name))
    pairs = []
    for prefix in shafts:  # keeps the recording's shaft order
        contacts = sorted(shafts[prefix])
        for (n1, a), (n2, b) in zip(contacts, contacts[1:]):
            if n2 == n1 + 1:
                pairs.append((a, b))
    return pairs


def bipolar_reference(raw: mne.io.BaseRaw, source: str = "") -> mne.io.BaseRaw:
    """Bipolar montage of consecutive contacts; each new channel sits at its pair's midpoint."""
    pairs = bipolar_pairs(raw.ch_names)
    if not pairs:
        raise ValueError(f"{source}: no bipolar pair found (contacts must be named <shaft><number>)")
    data = raw._data  # the loaded samples themselves: get_data() would copy the whole recording
    idx = {c: i for i, c in enumerate(raw.ch_names)}
    new = np.empty((len(pairs), data.shape[1]), dtype=data.dtype)
    for k, (a, b) in enumerate(pairs):
        np.subtract(data[idx[a]], data[idx[b]], out=new[k])
    chs = []
    for a, b in pairs:
        ch = dict(raw.info["chs"][idx[a]])
        loc = ch["loc"].copy()
        pa, pb = raw.info["chs"][idx[a]]["loc"][:3], raw.info["chs"][idx[b]]["loc"][:3]
        loc[:3] = (pa + pb) / 2.0
        chs.append((f"{a}-{b}", ch["kind"], loc, ch["coord_frame"]))
    types = raw.get_channel_types()
    info = mne.create_info([c[0] for c in chs], raw.info["sfreq"], [types[idx[a]] for a, _ in pairs], verbose="error")
    with info._unlock():
        for ch, (_, _, loc, frame) in zip(info["chs"], chs):
            ch["loc"][:] = loc
            ch["coord_frame"] = frame
        info["line_freq"] = raw.info["line_freq"]
    info.set_meas_date(raw.info["meas_date"])  # else the recording's dated annotations cannot be set on it
    out = mne.io.RawArray(new, info, first_samp=raw.first_samp, verbose="error")
    out.set_annotations(raw.annotations)
    return out


def high_gamma_envelope(data: np.ndarray, sfreq: float, band: tuple[float, float] = (70.0, 150.0),
                        n_bands: int = 8, n_jobs: int = 1) -> np.ndarray:
    """Mean normalised Hilbert amplitude over log-spaced sub-bands of ``band``.

    Parameters
    ----------
    data
        ``channel x time`` signal.
    sfreq
        Sampling rate (Hz); ``band[1]`` must lie below Nyquist.

    Returns
    -------
    numpy.ndarray
        ``channel x time`` envelope (each sub-band's amplitude divided by its mean, then averaged).
    """
    lo, hi = band
    if hi >= sfreq / 2:
        raise ValueError(f"high-gamma band {band} Hz reaches the Nyquist frequency ({sfreq / 2:g} Hz)")
    edges = np.geomspace(lo, hi, n_bands + 1)
    env = np.zeros_like(data, dtype=np.float64)
    for f0, f1 in zip(edges[:-1], edges[1:]):
        sub = mne.filter.filter_data(data, sfreq, f0, f1, n_jobs=n_jobs, verbose="error")
        amp = np.abs(hilbert(sub, axis=-1))
        env += amp / np.maximum(amp.mean(axis=-1, keepdims=True), np.finfo(float).tiny)
    return env / n_bands


def envelope_raw(raw: mne.io.BaseRaw, band: tuple[float, float], n_bands: int, resample: float | None,
                 n_jobs: int = 1, block_samples: int | None = None) -> mne.io.RawArray:
    """High-gamma envelope of every channel of a loaded Raw, low-passed and resampled, block by block.

    Same result as :func:`high_gamma_envelope` on all channels followed by ``filter(None, 0.4 *
    resample)`` and polyphase ``resample`` of the whole envelope (each step is channel-wise), but
    only one block of channels (about ``block_samples`` samples, default :data:`BLOCK_SAMPLES`) is
    ever held at the recording's rate.

    Returns
    -------
    mne.io.RawArray
        The envelope (channels of ``raw``, at ``resample`` Hz or the recording's rate) with the
        recording's annotations.
    """
    n_channels, n_times = len(raw.ch_names), raw.n_times
    step = max(1, int(block_samples or BLOCK_SAMPLES) // max(n_times, 1))
    parts, block = [], None
    for start in range(0, n_channels, step):
        picks = list(range(start, min(start + step, n_channels)))
        env = high_gamma_envelope(raw._data[start:picks[-1] + 1], raw.info["sfreq"], band, n_bands, n_jobs)
        block = mne.io.RawArray(env, mne.pick_info(raw.info, picks), first_samp=raw.first_samp, verbose="error")
        # before filtering: raw.filter skips across 'edge'/'bad_acq_skip' annotations
        block.set_annotations(raw.annotations)
        if resample is not None:
            block.filter(None, 0.4 * resample, picks="all", verbose="error")
            block.resample(resample, method="polyphase", verbose="error")
        parts.append(block._data)
    info = raw.info.copy()
    with info._unlock():  # what the filter and resampling changed in the blocks' info
        for key in ("sfreq", "lowpass", "highpass"):
            info[key] = block.info[key]
    out = mne.io.RawArray(np.concatenate(parts) if len(parts) > 1 else parts[0], info, first_samp=block.first_samp,
                          verbose="error")
    annotations = block.annotations.copy()
    if annotations.orig_time is None:  # relative onsets: set_annotations adds the first sample's time again
        annotations.onset -= out.first_time
    out.set_annotations(annotations)
    return out


def preprocess_ieeg(
    raw_or_bids_path,
    *,
    reference: str | None = "bipolar",
    band: Sequence[float] = (70.0, 150.0),
    n_bands: int = 8,
    notch: str | float | Sequence[float] | None = "auto",
    resample: float | None = 50.0,
    picks: Sequence[str] | str | None = ("ecog", "seeg", "dbs"),
    bad_channels: str = "drop",
    bad_segments: str = "nan",
    standardize: bool = True,
    channel_groups=None,
    n_jobs: int = 1,
    nonfinite: str = "error",
    nonfinite_max_fraction: float = DEFAULT_MAX_FRACTION,
) -> xr.DataArray:
    """Preprocess one iEEG run into a z-scored high-gamma ``time x channel`` DataArray.

    Parameters
    ----------
    raw_or_bids_path
        ``BIDSPath``, a path, or a Raw (see :func:`brainalign.preprocess.meeg.read_raw`).
    reference
        ``"bipolar"`` (default), ``"average"`` (common average per channel type) or ``None``.
    band, n_bands
        High-gamma range (Hz) and number of log-spaced sub-bands of the filter bank.
    notch
        ``"auto"`` (line frequency and harmonics inside ``band``), frequencies, or ``None``.
    resample
        Output rate of the envelope (Hz); it is low-passed at 0.4 × this rate first.
    picks, bad_segments, standardize, channel_groups, n_jobs, nonfinite, nonfinite_max_fraction
        As in :func:`brainalign.preprocess.meeg.preprocess_meeg` (non-finite samples are checked on
        the raw contacts, before re-referencing spreads them).
    bad_channels
        ``"drop"`` (default) or ``"keep"`` the channels marked bad (no interpolation for iEEG:
        contacts have no spherical-spline neighbours).

    Returns
    -------
    xarray.DataArray
        ``data`` (float32, ``time x channel``) with ``ch_type``, ``pos_x/y/z`` (m, in the frame of
        ``electrodes.tsv``, given by attr ``coord_frame``), optional ``region``; attrs ``sfreq``,
        ``montage``, ``reference``, ``band``, the non-finite record (``nonfinite`` ...).
    """
    if reference not in ("bipolar", "average", None):
        raise ValueError(f"reference={reference!r}: expected 'bipolar', 'average' or None")
    if bad_channels not in ("drop", "keep"):
        raise ConfigError("preprocess.ieeg.bad_channels", f"{bad_channels!r} is not supported for iEEG",
                          expected="'drop' or 'keep'")
    if bad_segments not in ("nan", "keep"):
        raise ConfigError("preprocess.ieeg.bad_segments", f"{bad_segments!r} is not supported",
                          expected="'nan' or 'keep'")
    # read the picked channels only (picking a loaded recording would copy it)
    raw, source = read_raw(raw_or_bids_path, preload=False)
    bads = list(raw.info["bads"])
    names = _pick_names(raw, picks)
    if bad_channels == "drop":
        names = [c for c in names if c not in bads]
    if not names:
        raise ValueError(f"{source}: no iEEG channel left (picks={picks!r}, bads={bads})")
    raw.pick(names)
    load_data(raw, source)
    if bad_channels != "drop":
        raw.info["bads"] = []
    nf_attrs = apply_nonfinite(raw, names, policy=nonfinite, max_fraction=nonfinite_max_fraction,
                               bad_segments=bad_segments, source=source, modality="ieeg", out_sfreq=resample)
    if reference == "bipolar":
        raw = bipolar_reference(raw, source)
    elif reference == "average":
        data = raw._data  # in place: get_data() and a boolean index would each copy the recording
        types = np.array(raw.get_channel_types())
        for t in set(types):
            rows = np.flatnonzero(types == t)
            if rows.size == len(types):
                data -= data.mean(axis=0)
            else:
                data[rows] -= data[rows].mean(axis=0)
    freqs = [f for f in line_noise_freqs(raw, notch, None) if band[0] - 5 <= f <= band[1] + 5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if freqs:
            raw.notch_filter(freqs, picks="all", n_jobs=n_jobs, verbose="error")
        env_raw = envelope_raw(raw, tuple(band), n_bands, resample, n_jobs)
    data = env_raw.get_data(reject_by_annotation="NaN" if bad_segments == "nan" else None).T
    values = zscore_time(data, source) if standardize else data.astype(np.float32)
    return to_dataarray(env_raw, values, source=source, montage="electrodes" if np.isfinite(
        [c["loc"][0] for c in env_raw.info["chs"]]).all() else "none", channel_groups=channel_groups,
        extra_attrs={"reference": str(reference), "band": [float(b) for b in band], "n_bands": int(n_bands),
                     "bads": bads, "notch": freqs, **nf_attrs})
