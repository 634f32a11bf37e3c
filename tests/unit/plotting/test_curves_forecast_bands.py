"""The forecast figure's gain per band (plotting/curves.py: plot_forecast_bands)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.plotting.curves import BAND_LABELS, plot_forecast_bands


def _bands() -> pd.DataFrame:
    rows = []
    for region in ("early", "forecast"):
        for d in (5, 10, 20):
            for band in BAND_LABELS:
                gain = 0.05 if (region, d, band) == ("forecast", 20, "unique_window") else 0.0
                rows.append({"region": region, "distance": d, "band": band, "mean": gain, "sem": 0.01,
                             "ci_low": gain - 0.02, "ci_high": gain + 0.02, "t": np.nan, "p": np.nan,
                             "n_subjects": 3})
    return pd.DataFrame(rows)


def test_one_panel_per_region_with_one_line_per_band(tmp_path, monkeypatch):
    import brainalign.plotting.curves as curves

    seen = {}

    def keep(fig, path):
        seen["fig"] = fig
        return path

    monkeypatch.setattr(curves, "save_figure", keep)
    plot_forecast_bands(_bands(), tmp_path / "bands.png", units=["forecast"])
    ax = [a for a in seen["fig"].axes if a.get_visible()]
    assert len(ax) == 1 and ax[0].get_title() == "forecast"
    lines = {ln.get_label(): ln for ln in ax[0].get_lines() if not ln.get_label().startswith("_")}
    assert set(lines) == set(BAND_LABELS.values())
    window = lines[BAND_LABELS["unique_window"]]
    assert list(window.get_xdata()) == [5, 10, 20]
    assert list(window.get_ydata()) == pytest.approx([0.0, 0.0, 0.05])


def test_writes_the_file(tmp_path):
    out = plot_forecast_bands(_bands(), tmp_path / "bands.png")
    assert out.exists() and out.stat().st_size > 0
