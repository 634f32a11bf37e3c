"""Group-level significance on maps: which targets the group test of the scores keeps.

The scores' ``significant_group`` (``encoding.group_test``, :func:`brainalign.encoding.group.group_maps`)
is per layer; a best-layer map needs it at each target's own best layer.  Kept apart from
:mod:`brainalign.encoding` so that the figure jobs import no solver.
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def group_significant_at(scores: xr.DataArray | xr.Dataset, layer: xr.DataArray) -> xr.DataArray | None:
    """``significant_group`` of each target at its own ``layer`` (e.g. its best layer; any lag).

    Returns None when the scores have no group maps (one subject, separate fits, ``method: none``),
    False where ``layer`` is not a layer of the scores (-1: no best layer).
    """
    if "significant_group" not in scores:
        return None
    sig = scores["significant_group"]
    sig = sig.any([d for d in sig.dims if d not in ("layer", layer.dims[0])])
    layers = sig["layer"].values
    dim = layer.dims[0]
    picked = np.zeros(layer.shape, bool)
    values = sig.transpose("layer", dim).values
    pos = {int(v): i for i, v in enumerate(layers)}
    for j, v in enumerate(np.asarray(layer.values).astype(int)):
        if v in pos:
            picked[j] = bool(values[pos[v], j])
    return xr.DataArray(picked, dims=(dim,), coords={dim: layer[dim].values})
