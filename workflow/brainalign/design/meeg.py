"""Word features and MEG/EEG/iEEG recordings on a common footing: word-locked lags.

The samples are the words.  For each word the response is read at lags ``tmin..tmax`` after its
onset, giving ``word x channel x lag`` targets; the encoder then predicts every (channel, lag) from
the word's features.  A lag is an exact sample of the recording (onset rounded to the nearest
sample), so no interpolation smooths the signal.  (A TRF design, continuous targets with each
feature at every lag, was removed unused: no rule or ``design.meeg.method`` reached it.)
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr


def _sampling(recording: xr.DataArray) -> tuple[np.ndarray, float]:
    if "time" not in recording.dims:
        raise ValueError(f"recording must have a 'time' dimension, got {recording.dims}")
    times = np.asarray(recording.time.values, dtype=np.float64)
    sfreq = float(recording.attrs.get("sfreq", np.nan))
    if not np.isfinite(sfreq) and times.size > 1:
        sfreq = 1.0 / np.median(np.diff(times))
    if not sfreq > 0:
        raise ValueError("recording has no 'sfreq' attribute and its time coordinate does not give one")
    if times.size > 1 and not np.allclose(np.diff(times), 1.0 / sfreq, rtol=1e-3, atol=1e-6):
        raise ValueError(f"recording times are not evenly spaced at sfreq={sfreq} Hz")
    return times, sfreq


def lag_samples(tmin: float, tmax: float, sfreq: float) -> np.ndarray:
    """Integer sample lags from ``tmin`` to ``tmax`` (s) inclusive."""
    if tmax < tmin:
        raise ValueError(f"design.tmax={tmax} < design.tmin={tmin}")
    return np.arange(int(round(tmin * sfreq)), int(round(tmax * sfreq)) + 1)


def word_locked(recording: xr.DataArray, onsets: np.ndarray, tmin: float = 0.0, tmax: float = 0.8,
                ) -> xr.DataArray:
    """``word x channel x lag`` responses read at lags after each word onset.

    Parameters
    ----------
    recording
        ``time x channel`` preprocessed data (attr ``sfreq``; coord ``time`` in s).
    onsets
        (n_words,) word onsets (s, same clock as ``time``).
    tmin, tmax
        Lag window (s), inclusive.

    Returns
    -------
    xr.DataArray
        dims ``(word, channel, lag)`` with coord ``lag`` (s) and the recording's channel coords.
        Words whose window leaves the recording are dropped (warning with their number); the
        ``word`` coord keeps the original word indices so features can be matched.
    """
    times, sfreq = _sampling(recording)
    lags = lag_samples(tmin, tmax, sfreq)
    onsets = np.asarray(onsets, dtype=np.float64)
    timed = np.isfinite(onsets)
    start = np.rint((np.where(timed, onsets, times[0]) - times[0]) * sfreq).astype(np.int64)
    idx = start[:, None] + lags[None, :]  # word x lag
    inside = timed & (idx >= 0).all(1) & (idx < times.size).all(1)
    if not inside.all():
        warnings.warn(f"{int((~inside).sum())} of {inside.size} words have no onset or a [{tmin}, {tmax}] s window "
                      "outside the recording and are dropped", UserWarning, stacklevel=2)
    data = recording.transpose("time", ...).values
    out = data[idx[inside]]  # word x lag x channel
    word_index = np.flatnonzero(inside)
    channel_dim = [d for d in recording.dims if d != "time"][0]
    coords = {"word": word_index, "lag": lags / sfreq}
    for name, c in recording.coords.items():
        if c.dims == (channel_dim,):
            coords[name] = c
    return xr.DataArray(np.moveaxis(out, 1, 2), dims=("word", channel_dim, "lag"), coords=coords,
                        attrs={"sfreq": sfreq, "tmin": float(tmin), "tmax": float(tmax)})
