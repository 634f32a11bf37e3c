"""Small labelled inputs of the design-matrix tests: word features with onsets, a BOLD time grid and an
MEG recording.  Importable from every test folder as ``tests.design_inputs`` (``tests/`` is a package
and pytest puts the repository root on ``sys.path``)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr

#: Repetition time (s) of :func:`bold_grid`.
TR = 1.5


def word_features(onsets: Sequence[float], values: Sequence | np.ndarray | None = None) -> xr.DataArray:
    """``word x feature`` values (one feature of ones by default) with an ``onset`` coordinate in s."""
    onsets = np.asarray(onsets, float)
    values = np.ones((onsets.size, 1), np.float32) if values is None else np.asarray(values, np.float32)
    return xr.DataArray(values, dims=("word", "feature"),
                        coords={"word": np.arange(onsets.size), "onset": ("word", onsets)})


def bold_grid(times: Sequence[float]) -> xr.DataArray:
    """An empty two-voxel BOLD recording sampled at ``times`` (s), TR :data:`TR`."""
    return xr.DataArray(np.zeros((len(times), 2), np.float32), dims=("time", "voxel"),
                        coords={"time": np.asarray(times, float)}, attrs={"tr": TR})


def meg_recording(values: np.ndarray, sfreq: float = 100.0, t0: float = 0.0) -> xr.DataArray:
    """``time x channel`` MEG data holding ``values``, sampled at ``sfreq`` from ``t0``."""
    values = np.asarray(values, np.float32)
    return xr.DataArray(values, dims=("time", "channel"),
                        coords={"time": t0 + np.arange(values.shape[0]) / sfreq,
                                "channel": [f"MEG{i}" for i in range(values.shape[1])],
                                "pos_x": ("channel", np.arange(values.shape[1]) * 0.01)},
                        attrs={"sfreq": sfreq})
