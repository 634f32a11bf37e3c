"""Group significance at each target's best layer (brainalign.analyses.group_maps)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from brainalign.analyses.group_maps import group_significant_at


def _scores(n_sub: int, n_layer: int, n_vox: int) -> xr.Dataset:
    return xr.Dataset({"r": (("subject", "layer", "voxel"), np.zeros((n_sub, n_layer, n_vox)))},
                      coords={"subject": [f"{i + 1:02d}" for i in range(n_sub)], "layer": np.arange(n_layer),
                              "voxel": np.arange(n_vox)})


def test_group_significant_at_reads_each_targets_own_layer():
    scores = _scores(2, 3, 4)
    assert group_significant_at(scores, xr.DataArray([0, 1, 2, -1], dims="voxel", coords={"voxel": np.arange(4)})) is None
    sig = np.zeros((3, 4), bool)
    sig[1, 0] = sig[2, 1] = sig[0, 3] = True
    scores["significant_group"] = (("layer", "voxel"), sig)
    best = xr.DataArray([1, 1, 2, -1], dims="voxel", coords={"voxel": np.arange(4)})
    assert group_significant_at(scores, best).values.tolist() == [True, False, False, False]
