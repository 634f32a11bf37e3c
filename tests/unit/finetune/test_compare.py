"""Fine-tuned vs base brain scores per region: planted gains found, unchanged regions not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.analyses.synthetic import make_scores
from brainalign.finetune.compare import COLUMNS, compare_finetuned, plot_comparison

REGIONS = {"early": {"depth": 0.2, "amplitude": 0.3}, "forecast": {"depth": 0.6, "amplitude": 0.25}}


def _scores(gain: float, seed: int):
    regions = {k: dict(v) for k, v in REGIONS.items()}
    regions["forecast"]["amplitude"] += gain
    return make_scores(regions, n_subjects=6, noise=0.01, seed=seed)


def test_a_planted_gain_is_significant_and_no_gain_is_not():
    base = _scores(0.0, seed=0)
    tuned = {"next_token": _scores(0.0, seed=1), "long_range": _scores(0.05, seed=2)}
    table = compare_finetuned(base, tuned, models={"long_range": "m-ft-long-range"})
    assert list(table.columns) == COLUMNS and len(table) == 4
    row = table.set_index(["objective", "region"])
    gain = row.loc[("long_range", "forecast")]
    assert gain["delta"] == pytest.approx(0.05, abs=0.015) and gain["q"] < 0.01
    assert gain["model"] == "m-ft-long-range" and gain["n_subjects"] == 6
    assert gain["sem"] > 0 and gain["score_finetuned"] > gain["score_base"]
    for key in [("next_token", "forecast"), ("next_token", "early"), ("long_range", "early")]:
        assert abs(row.loc[key, "delta"]) < 0.02 and row.loc[key, "q"] > 0.05
    # q-values: Benjamini-Hochberg over all rows
    p = table["p"].to_numpy()
    order = np.argsort(p)
    bh = np.minimum.accumulate((p[order] * len(p) / np.arange(1, len(p) + 1))[::-1])[::-1]
    assert np.allclose(np.sort(table["q"].to_numpy()), np.minimum(bh, 1))


def test_no_finetuned_scores_is_an_error():
    with pytest.raises(ValueError, match="no fine-tuned scores"):
        compare_finetuned(_scores(0.0, 0), {})


def test_figure_is_written(tmp_path):
    table = compare_finetuned(_scores(0.0, 0), {"long_range": _scores(0.05, 2)})
    out = tmp_path / "fig.png"
    plot_comparison(table, out)
    assert out.stat().st_size > 1000
    assert isinstance(table, pd.DataFrame)
