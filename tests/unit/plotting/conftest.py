"""Fixtures shared by the plotting tests: synthetic Scores with planted regions."""

from __future__ import annotations

import pytest
import xarray as xr

from brainalign.analyses.synthetic import make_scores

REGIONS = {"early": {"depth": 0.2, "latency": 0.1}, "late": {"depth": 0.8, "latency": 0.4},
           "noise": {"amplitude": 0.0}}


@pytest.fixture(scope="module")
def regions() -> dict:
    """The regions planted in :func:`fmri` and :func:`eeg` (a fresh copy per test module)."""
    return {name: dict(spec) for name, spec in REGIONS.items()}


@pytest.fixture(scope="module")
def fmri() -> xr.Dataset:
    return make_scores(REGIONS, n_layers=8, n_subjects=3, seed=0)


@pytest.fixture(scope="module")
def eeg() -> xr.Dataset:
    return make_scores(REGIONS, modality="eeg", n_layers=8, n_subjects=3, targets_per_region=8, seed=1)
