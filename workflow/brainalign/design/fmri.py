"""Word features -> fMRI time base (one row per retained TR).

Both methods are a linear operator from words to TRs, built once per story and applied to every
layer (``time x word`` matrix times ``word x feature`` features):

* ``hrf``: each word is an impulse at its onset, convolved with a canonical HRF (SPM or Glover,
  nilearn's models) and evaluated exactly at each TR's time stamp:
  ``X[t] = sum_w h(t - onset_w) F[w]``.  The HRF is taken from nilearn on a fine grid
  (``t_r / oversampling``) and linearly interpolated at the word-to-TR time differences.
* ``fir``: words are summed per TR (a word belongs to the TR whose time stamp ``t`` satisfies
  ``t - tr/2 <= onset < t + tr/2``, i.e. the acquisition window centred on ``t``) and the sums are
  repeated at ``delays`` TRs later, one copy per delay (a finite impulse response).

Rows are aligned **by time coordinate**, not by position: the recording's ``time`` coordinate says
which TRs exist (initial TRs dropped in preprocessing are simply absent), and words heard before
the first retained TR still contribute through the HRF / delays.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import xarray as xr

HRF_MODELS = ("spm", "glover")


def hrf(times: np.ndarray, tr: float, model: str = "spm", time_length: float = 32.0,
        oversampling: int = 50) -> np.ndarray:
    """Canonical HRF evaluated at arbitrary times (s after the impulse), peak normalised to 1.

    Parameters
    ----------
    times
        Delays after the event (s); negative delays and delays beyond ``time_length`` give 0.
    tr
        Repetition time (s): sets nilearn's sampling grid (``tr / oversampling``).
    model
        ``"spm"`` or ``"glover"`` (nilearn.glm.first_level.hemodynamic_models).
    time_length, oversampling
        Passed to nilearn.
    """
    from nilearn.glm.first_level import hemodynamic_models as hm

    if model not in HRF_MODELS:
        raise ValueError(f"hrf_model={model!r}: expected one of {HRF_MODELS}")
    kernel = (hm.spm_hrf if model == "spm" else hm.glover_hrf)(tr, oversampling=oversampling,
                                                               time_length=time_length)
    grid = np.arange(kernel.size) * (tr / oversampling)
    kernel = kernel / kernel.max()
    return np.interp(np.asarray(times, dtype=np.float64), grid, kernel, left=0.0, right=0.0)


def _check_times(times: np.ndarray, tr: float) -> np.ndarray:
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size == 0:
        raise ValueError("the recording's time coordinate must be a non-empty 1-D array")
    if not tr > 0:
        raise ValueError(f"tr={tr}: expected a positive repetition time (s)")
    if np.any(np.diff(times) <= 0):
        raise ValueError("the recording's time coordinate must be strictly increasing")
    return times


def hrf_operator(onsets: np.ndarray, times: np.ndarray, tr: float, model: str = "spm") -> np.ndarray:
    """(n_times, n_words) matrix ``h(time - onset)``."""
    times = _check_times(times, tr)
    onsets = np.asarray(onsets, dtype=np.float64)
    return hrf(times[:, None] - onsets[None, :], tr, model).astype(np.float32)


def tr_bins(onsets: np.ndarray, times: np.ndarray, tr: float, delay: int = 0) -> np.ndarray:
    """(n_times, n_words) 0/1 matrix: word ``w`` falls in the TR centred ``delay`` TRs before ``time``."""
    times = _check_times(times, tr)
    onsets = np.asarray(onsets, dtype=np.float64)
    centre = times - delay * tr
    # Half-open window [centre - tr/2, centre + tr/2); the small epsilon absorbs float jitter in times.
    lo = centre[:, None] - tr / 2 - 1e-9
    hi = centre[:, None] + tr / 2 - 1e-9
    return ((onsets[None, :] >= lo) & (onsets[None, :] < hi)).astype(np.float32)


def fmri_operator(onsets: np.ndarray, times: np.ndarray, tr: float, method: str = "hrf",
                  delays: Sequence[int] = (1, 2, 3, 4), hrf_model: str = "spm") -> xr.DataArray:
    """The ``time x [delay x] word`` operator mapping word features to TRs.

    Parameters
    ----------
    onsets
        (n_words,) word onsets (s from the story start).
    times
        (n_times,) the recording's ``time`` coordinate (s).
    tr
        Repetition time (s).
    method
        ``"hrf"`` or ``"fir"``.
    delays
        FIR delays in TRs (``fir`` only).
    hrf_model
        ``"spm"`` or ``"glover"`` (``hrf`` only).

    Returns
    -------
    xr.DataArray
        dims ``(time, word)`` for ``hrf``; ``(time, delay, word)`` for ``fir``.
    """
    times = _check_times(times, tr)
    onsets = np.asarray(onsets, dtype=np.float64)
    missing = ~np.isfinite(onsets)
    if missing.any():
        # A word without a time stamp cannot be placed: it contributes nothing (its column is 0).
        warnings.warn(f"{int(missing.sum())} of {onsets.size} words have no finite onset and are left out of the "
                      "design", UserWarning, stacklevel=2)
        onsets = np.where(missing, -1e9, onsets)  # far before the recording: 0 under the HRF and every bin
    if method == "hrf":
        op = hrf_operator(onsets, times, tr, hrf_model)
        return xr.DataArray(op, dims=("time", "word"), coords={"time": times})
    if method == "fir":
        delays = [int(d) for d in delays]
        if not delays or any(d < 0 for d in delays):
            raise ValueError(f"design.delays={delays}: expected a non-empty list of non-negative TR delays")
        op = np.stack([tr_bins(onsets, times, tr, d) for d in delays], axis=1)
        return xr.DataArray(op, dims=("time", "delay", "word"), coords={"time": times, "delay": delays})
    raise ValueError(f"design.method={method!r}: expected 'hrf' or 'fir'")


def apply_operator(operator: xr.DataArray, words: xr.DataArray) -> xr.DataArray:
    """Apply a ``time x [delay x] word`` operator to ``word x ...`` features.

    Returns
    -------
    xr.DataArray
        dims ``time x feature`` for ``hrf``; for ``fir`` the delays are stacked onto the feature axis
        as a MultiIndex-free pair of coords: ``feature`` runs over (delay, original feature) with
        coords ``delay`` and ``source_feature`` on it, delay-major.
    """
    if "word" not in words.dims:
        raise ValueError(f"features must have a 'word' dimension, got {words.dims}")
    if words.sizes["word"] != operator.sizes["word"]:
        raise ValueError(f"operator has {operator.sizes['word']} words but features have {words.sizes['word']}")
    feat_dims = [d for d in words.dims if d != "word"]
    f = words.transpose("word", *feat_dims).values.reshape(words.sizes["word"], -1).astype(np.float32)
    op = operator.values
    if op.ndim == 2:
        out = op @ f
        coords = {"time": operator.time.values}
        if len(feat_dims) == 1 and feat_dims[0] in words.coords:
            coords["feature"] = words[feat_dims[0]].values
        return xr.DataArray(out, dims=("time", "feature"), coords=coords)
    n_t, n_d, n_w = op.shape
    out = (op.reshape(n_t * n_d, n_w) @ f).reshape(n_t, n_d * f.shape[1])
    return xr.DataArray(out, dims=("time", "feature"), coords={
        "time": operator.time.values,
        "delay": ("feature", np.repeat(operator.delay.values, f.shape[1])),
        "source_feature": ("feature", np.tile(np.arange(f.shape[1]), n_d)),
    })


def fmri_design(words: xr.DataArray, recording: xr.DataArray, method: str = "hrf",
                delays: Sequence[int] = (1, 2, 3, 4), hrf_model: str = "spm",
                tr: float | None = None) -> xr.DataArray:
    """Word features -> ``time x feature`` design on a recording's TRs.

    Parameters
    ----------
    words
        ``word x feature`` features with an ``onset`` coordinate on ``word`` (s).
    recording
        Preprocessed ``time x voxel`` data (only its ``time`` coord and ``tr`` attr are used).
    method, delays, hrf_model
        See :func:`fmri_operator`.
    tr
        Repetition time; default ``recording.attrs["tr"]``.
    """
    if "onset" not in words.coords:
        raise ValueError("word features need an 'onset' coordinate (s) on the word dimension")
    tr = float(tr if tr is not None else recording.attrs.get("tr", np.nan))
    if not np.isfinite(tr):
        raise ValueError("recording has no 'tr' attribute; pass tr=")
    op = fmri_operator(words.onset.values, recording.time.values, tr, method, delays, hrf_model)
    return apply_operator(op, words)
