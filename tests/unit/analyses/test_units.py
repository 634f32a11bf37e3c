"""Target-to-unit reduction and per-subject statistics (brainalign.analyses.units)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from brainalign import analyses as A
from brainalign.analyses.units import to_units


def test_to_units_is_the_mean_of_each_regions_targets(fmri):
    units = to_units(fmri["r"])
    idx = np.flatnonzero(fmri["region"].values == "middle")
    expected = fmri["r"].isel(voxel=idx).mean("voxel")
    np.testing.assert_allclose(units.sel(region="middle").values, expected.values, rtol=1e-6)
    assert list(units["region"].values) == ["early", "late", "middle", "noise"]   # natural order
    assert units["n_targets"].values.tolist() == [6, 6, 6, 6]


def test_subject_stats_matches_scipy():
    from scipy import stats

    values = np.array([0.1, 0.3, 0.2, 0.25])
    st = A.subject_stats(xr.DataArray(values, dims="subject"))
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / 2
    assert float(st["ci_high"]) == pytest.approx(values.mean() + half)
    assert float(st["p"]) == pytest.approx(stats.ttest_1samp(values, 0, alternative="greater").pvalue)
