"""Phases of :func:`brainalign.analyses.sensitivity.sensitivity_analysis`: host draws, planting of one
run (column layout, SNR, time shifts) and the host-pool checks."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign.analyses import sensitivity as sens
from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError


def test_draw_hosts_planted_distinct_and_null_copies_without_repeats():
    pool = np.arange(100, 112)
    hosts, nulls, copy = sens._draw_hosts(np.random.default_rng(0), pool, 5, 30, 3)
    assert len(set(hosts)) == 5 and set(hosts) <= set(pool)
    assert nulls.size == copy.size == 30 and set(nulls) <= set(pool)
    assert list(np.bincount(copy)) == [12, 12, 6]
    for c in range(3):  # within a copy no host repeats: no two columns of one copy share their noise
        assert len(set(nulls[copy == c])) == (copy == c).sum()
    again = sens._draw_hosts(np.random.default_rng(0), pool, 5, 30, 3)
    assert all(np.array_equal(a, b) for a, b in zip((hosts, nulls, copy), again))


def _plan(shift: bool, n_copies: int = 1) -> sens._Plan:
    s = sens.check_settings(with_defaults("analyses.sensitivity", {
        "depths": [0.3, 0.6], "snrs": [0.1, 2.0], "n_targets": [3], "n_null": 20, "shift_hosts": shift}))
    labels = np.arange(12)
    return sens._Plan(s=s, seed=0, modality="fmri", stories=["a"], subjects=["01"], layers=[0, 1], n_blocks=1,
                      depth_layers=[0, 1], dim="voxel", peaks=pd.DataFrame({"target": labels}), labels=labels,
                      usable=np.ones(12, bool), pool=labels, n_copies=n_copies)


def _run(rng: np.random.Generator) -> xr.DataArray:
    times = (np.arange(200) + 0.5) * 1.5
    return xr.DataArray(rng.standard_normal((200, 12)), dims=("time", "voxel"),
                        coords={"time": times, "voxel": np.arange(12)}, attrs={"tr": 1.5})


@pytest.mark.parametrize("shift", [False, True])
def test_plant_run_layout_snr_and_shifts(shift):
    rng = np.random.default_rng(1)
    rec = _run(rng)
    plan = _plan(shift, n_copies=2)
    hosts, nulls, copy = np.array([4, 7, 9]), np.r_[np.arange(12), np.arange(8)], np.r_[[0] * 12, [1] * 8]
    latents = [rng.standard_normal((40, 2)) for _ in range(2)]
    weights = [sens.mixing_weights(rng, 2, 3) for _ in range(2)]
    onsets = np.linspace(5, 250, 40)
    data, measured = sens._plant_run(plan, rec, hosts, nulls, copy, latents, weights, onsets, [0, 14, 0, 0, 0])
    assert data.shape == (200, plan.n_columns) == (200, 2 * 2 * 3 + 20)
    np.testing.assert_allclose(measured, np.broadcast_to(np.array([0.1, 2.0])[None, :, None], (2, 2, 3)), rtol=1e-9)
    host = rec.values[:, hosts]
    if shift:
        host = sens.shift_run(host, np.random.default_rng([0, 14, 0, 0, 0, 0]))
    for block in range(4):  # [depth][snr] blocks of the planted hosts: the host plus a signal
        d_i, n_i = divmod(block, 2)
        added = data[:, 3 * block:3 * block + 3] - host
        np.testing.assert_allclose(added.var(axis=0) / host.var(axis=0), [0.1, 2.0][n_i], rtol=1e-9)
    nulls_out = data[:, 12:]
    if not shift:
        np.testing.assert_array_equal(nulls_out, rec.values[:, nulls])
    else:  # each copy is its own rotation in time of the real runs
        np.testing.assert_array_equal(nulls_out[:, :12], sens.shift_run(rec.values[:, :12],
                                                                        np.random.default_rng([0, 14, 0, 0, 0, 0])))
        np.testing.assert_array_equal(nulls_out[:, 12:], sens.shift_run(rec.values[:, :8],
                                                                        np.random.default_rng([0, 14, 0, 0, 0, 1])))
        assert not np.array_equal(nulls_out[:, :8], nulls_out[:, 12:])


def test_checked_pool_counts_copies_and_names_the_setting():
    peaks = pd.DataFrame({"target": np.arange(10), "peak_score": np.linspace(0, 1, 10)})
    usable = np.ones(10, bool)
    s = sens.check_settings(with_defaults("analyses.sensitivity", {"n_targets": [4], "n_null": 25, "hosts": "random",
                                                                 "shift_hosts": True}))
    pool, n_copies = sens._checked_pool(peaks, usable, s)
    assert pool.size == 10 and n_copies == 3
    with pytest.raises(ConfigError, match="n_null"):
        sens._checked_pool(peaks, usable, {**s, "shift_hosts": False})
    with pytest.raises(ConfigError, match="n_targets"):
        sens._checked_pool(peaks, usable, {**s, "n_targets": [11]})
