"""Simulated EEG runs on a real montage: word-locked responses, background EEG, line noise, drifts.

A planted channel group receives its region's latents, each word's value convolved with a
Gaussian response kernel (peak ``kernel_peak``, width ``kernel_width``, support
``0..kernel_length`` s) and mixed by channel-specific weights.  Every channel carries background
EEG: 1/f-like (AR(1), coefficient 0.98) sources plus a 10 Hz alpha rhythm, mixed across channels by
a smooth spatial covariance so that neighbours correlate (as volume conduction makes them), a
``line_freq`` Hz sinusoid with its first harmonic and a slow drift (< 0.1 Hz).  The SNR is the
variance of the planted signal over the variance of the background EEG after a 0.5-20 Hz
band-pass (what a standard preprocessing keeps), per planted channel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import butter, fftconvolve, lfilter, sosfiltfilt


def montage_positions(montage: str) -> tuple[list[str], np.ndarray]:
    """Channel names and head-frame positions (m) of an MNE standard montage."""
    import mne

    mon = mne.channels.make_standard_montage(montage)
    pos = mon.get_positions()["ch_pos"]
    names = list(mon.ch_names)
    return names, np.array([pos[n] for n in names])


def channel_groups(names: list[str], pos: np.ndarray, n_groups: int, seed: int) -> pd.DataFrame:
    """Deterministic k-means groups of channels by scalp position.

    Groups are numbered by their centroid (front to back, then left to right) and named ``G1``...

    Returns
    -------
    pandas.DataFrame
        Columns ``channel, group``.
    """
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=int(n_groups), n_init=1, random_state=int(seed)).fit(pos)
    c = km.cluster_centers_
    order = np.lexsort((c[:, 0], -c[:, 1]))
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(1, len(order) + 1)
    return pd.DataFrame({"channel": names, "group": [f"G{rank[k]}" for k in km.labels_]})


def response_kernel(sfreq: float, peak: float, width: float, length: float) -> np.ndarray:
    """Gaussian word-response kernel sampled at ``sfreq`` from 0 to ``length`` s (unit peak)."""
    t = np.arange(int(round(length * sfreq)) + 1) / sfreq
    k = np.exp(-0.5 * ((t - peak) / width) ** 2)
    return k / k.max()


def word_locked(latents: np.ndarray, onsets: np.ndarray, n_times: int, kernel: np.ndarray,
                sfreq: float) -> np.ndarray:
    """Latents as word impulses at their onsets convolved with ``kernel``: ``(n_times, k)``.

    Sample ``i`` is at ``i / sfreq`` s; words before 0 or after the last sample are left out.
    """
    imp = np.zeros((n_times, latents.shape[1]))
    idx = np.round(np.asarray(onsets) * sfreq).astype(int)
    # a negative index would wrap around to the end of the run
    ok = (idx >= 0) & (idx < n_times)
    np.add.at(imp, idx[ok], latents[ok])
    return fftconvolve(imp, kernel[:, None], axes=0)[:n_times]


def _band(x: np.ndarray, sfreq: float) -> np.ndarray:
    sos = butter(4, [0.5, 20.0], btype="band", fs=sfreq, output="sos")
    return sosfiltfilt(sos, x, axis=0)


def simulate_eeg(names: list[str], pos: np.ndarray, planted: dict[str, tuple[np.ndarray, np.ndarray]],
                 n_times: int, params: dict, rng: np.random.Generator) -> np.ndarray:
    """One EEG run (V), ``(n_channels, n_times)``.

    Parameters
    ----------
    names, pos
        Channel names and positions (m).
    planted
        ``{region: (channel_index, signal)}`` with ``signal`` ``(n_times, n_channels_of_region)``.
    n_times
        Samples.
    params
        The resolved ``eeg`` block.
    rng
        Seeded generator for this run.
    """
    sfreq = float(params["sfreq"])
    n_ch = len(names)
    t = np.arange(n_times) / sfreq
    # spatial mixing: smooth covariance over the scalp (length scale 4 cm)
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    mix = np.linalg.cholesky(np.exp(-dist / 0.04) + 1e-6 * np.eye(n_ch))
    sources = lfilter([1.0], [1.0, -0.98], rng.standard_normal((n_times, n_ch)), axis=0)
    alpha_env = np.abs(lfilter([1.0], [1.0, -0.999], rng.standard_normal((n_times, 1)), axis=0))
    alpha = (alpha_env / alpha_env.std()) * np.sin(2 * np.pi * 10.0 * t[:, None] + rng.uniform(0, 2 * np.pi, n_ch))
    background = (sources / sources.std(axis=0) + 0.5 * alpha) @ mix.T
    band_sd = _band(background, sfreq).std(axis=0)
    background *= float(params["background_amplitude"]) / band_sd.mean()
    band_sd = band_sd * float(params["background_amplitude"]) / band_sd.mean()
    data = background
    for idx, signal in planted.values():
        s = signal - signal.mean(axis=0)
        s = s / np.maximum(_band(s, sfreq).std(axis=0), 1e-30)
        data[:, idx] += np.sqrt(float(params["snr"])) * band_sd[idx] * s
    line = float(params["line_freq"])
    phase = rng.uniform(0, 2 * np.pi, n_ch)
    amp = float(params["line_amplitude"]) * rng.uniform(0.5, 1.5, n_ch)
    data += amp * np.sin(2 * np.pi * line * t[:, None] + phase)
    data += 0.2 * amp * np.sin(2 * np.pi * 2 * line * t[:, None] + 2 * phase)
    # slow drift: integrated noise low-passed below 0.1 Hz
    sos = butter(2, 0.1, btype="low", fs=sfreq, output="sos")
    drift = sosfiltfilt(sos, np.cumsum(rng.standard_normal((n_times, n_ch)), axis=0), axis=0)
    drift -= drift.mean(axis=0)
    data += float(params["drift_amplitude"]) * drift / np.maximum(drift.std(axis=0), 1e-30)
    return data.T
