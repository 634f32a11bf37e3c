"""Fixtures shared by the analyses tests: synthetic Scores with planted, known answers."""

from __future__ import annotations

import pytest
import xarray as xr

from brainalign.analyses.synthetic import make_scores

# Per region: the relative depth of the planted best layer; "noise" carries no signal.
PLANTED = {"early": {"depth": 0.2}, "middle": {"depth": 0.5}, "late": {"depth": 0.8},
           "noise": {"amplitude": 0.0}}


@pytest.fixture(scope="module")
def planted() -> dict:
    """The regions planted in :func:`fmri` (a fresh copy, so a test cannot alter another's)."""
    return {name: dict(spec) for name, spec in PLANTED.items()}


@pytest.fixture(scope="module")
def fmri() -> xr.Dataset:
    return make_scores(PLANTED, n_layers=10, n_subjects=4, seed=1)


@pytest.fixture(scope="module")
def meg() -> xr.Dataset:
    regions = {"early": {"depth": 0.2, "latency": 0.1}, "middle": {"depth": 0.5, "latency": 0.25},
               "late": {"depth": 0.8, "latency": 0.4}}
    return make_scores(regions, modality="meg", n_layers=10, n_subjects=3, seed=2)
