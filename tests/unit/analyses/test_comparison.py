"""Model comparison: trained vs control, peak scores, perplexity, BrainBench quality
(brainalign.analyses.comparison)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign import analyses as A
from brainalign.analyses.synthetic import make_scores
from brainalign.analyses.units import to_units


def test_trained_beats_random_control(fmri, planted):
    control = make_scores({k: {**v, "amplitude": 0.05 * (v.get("amplitude", 1) > 0)} for k, v in planted.items()},
                          n_layers=10, n_subjects=4, seed=7)
    cmp = A.compare_to_control(fmri, control).set_index("region")
    for name in ("early", "middle", "late"):
        assert cmp.loc[name, "difference"] > 0.2 and cmp.loc[name, "p"] < 0.001
    assert abs(cmp.loc["noise", "difference"]) < 0.03


def test_peak_scores_uses_group_best_layer(fmri):
    peaks = A.peak_scores(fmri, model="m")
    late = peaks[peaks["region"] == "late"]
    assert len(late) == 4 and set(late["layer"]) == {8}
    units = to_units(fmri["r"]).sel(region="late", layer=8)
    np.testing.assert_allclose(late["score"].to_numpy(), units.values, rtol=1e-6)


def test_model_perplexity_is_token_weighted():
    def story(ppl, n_words, tokens_per_word):
        return xr.Dataset({"perplexity": ((), ppl), "n_tokens": ("word", np.full(n_words, tokens_per_word))})
    ppl = A.model_perplexity([story(10.0, 10, 1), story(40.0, 10, 3)])
    assert ppl == pytest.approx(np.exp((10 * np.log(10) + 30 * np.log(40)) / 40))
    with pytest.raises(ValueError, match="perplexity"):
        A.model_perplexity([xr.Dataset({"n_tokens": ("word", [1])})])


def test_read_brainbench_summary_formats(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"accuracy": 0.655, "n": 100}))
    (tmp_path / "b.tsv").write_text("accuracy\tsem\n72.5\t3.1\n")
    assert A.read_brainbench_summary(tmp_path / "a.json") == pytest.approx(0.655)
    assert A.read_brainbench_summary(tmp_path / "b.tsv") == pytest.approx(0.725)
    (tmp_path / "summary.json").write_text(json.dumps({"acc": 1}))
    with pytest.raises(ValueError, match="accuracy"):
        A.read_brainbench_summary(tmp_path / "summary")
    with pytest.raises(FileNotFoundError):
        A.read_brainbench_summary(tmp_path / "missing")


def test_brain_vs_quality_correlates_across_models():
    brain = pd.DataFrame({"model": ["a", "b", "c", "d"] * 2, "region": ["x"] * 4 + ["y"] * 4,
                          "score": [0.1, 0.2, 0.3, 0.4, 0.2, 0.3, 0.35, 0.5]})
    quality = A.quality_table({"a": 80.0, "b": 40.0, "c": 20.0, "d": 10.0}, {"a": 0.5, "b": 0.6, "c": 0.7})
    table, corr = A.brain_vs_quality(brain, quality)
    assert set(table["region"]) == {"x", "y", "mean"}
    c = corr.set_index(["region", "quality"])
    assert c.loc[("mean", "perplexity"), "spearman_rho"] == pytest.approx(-1.0)
    assert c.loc[("x", "brainbench_accuracy"), "n_models"] == 3
    assert c.loc[("x", "brainbench_accuracy"), "spearman_rho"] == pytest.approx(1.0)
