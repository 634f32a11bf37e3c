"""The forecast-depth figure: one heatmap per region with its best cell boxed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from brainalign.analyses.forecast_depth import DEPTH_DIM, best_forecast_depth, depth_gain_table  # noqa: E402
from brainalign.plotting.forecast_depth import plot_forecast_depth  # noqa: E402


def _gain() -> xr.DataArray:
    rng = np.random.default_rng(0)
    data = rng.normal(0, 0.003, (3, 2, 2, 3))
    data[:, 0, 1, 2] += 0.08          # region "ahead": d = 20, k = 24
    return xr.DataArray(data, dims=("subject", "region", "distance", DEPTH_DIM), coords={
        "subject": ["01", "02", "03"], "region": ["ahead", "flat"], "distance": [5, 20], DEPTH_DIM: [0, 12, 24],
        "depth_relative_depth": (DEPTH_DIM, [0.0, 0.5, 1.0])})


def test_heatmap_per_region_titles_name_d_star_and_k_star(tmp_path, monkeypatch):
    gain = _gain()
    table, best = depth_gain_table(gain), best_forecast_depth(gain)
    titles = []
    import matplotlib.axes

    original = matplotlib.axes.Axes.set_title
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                        lambda self, label, *a, **k: (titles.append(label), original(self, label, *a, **k))[1])
    path = plot_forecast_depth(table, best, tmp_path / "gain.png")
    assert path.stat().st_size > 5_000
    assert titles == ["ahead: d* = 20, k* = 24 *", "flat: no significant gain"]
    plot_forecast_depth(table, best, tmp_path / "one.svg", units=["flat"])
    assert (tmp_path / "one.svg").read_text().count("<svg") == 1
