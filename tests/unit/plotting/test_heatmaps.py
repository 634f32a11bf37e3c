"""The model-to-model similarity heatmap (brainalign.plotting.heatmaps)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from brainalign import analyses as A
from brainalign import plotting as P
from tests.figure_checks import is_png


def test_similarity_heatmap(tmp_path):
    def feats(seed):
        x = np.random.default_rng(seed).standard_normal((80, 4, 8)).astype(np.float32)
        return xr.DataArray(x, dims=("word", "layer", "feature"),
                            coords={"layer": np.arange(4), "relative_depth": ("layer", np.arange(4) / 3)})
    table = A.similarity_table({"a": feats(0), "b": feats(1)}, debiased=True)
    assert is_png(P.plot_similarity(table, tmp_path / "cka.png"))
