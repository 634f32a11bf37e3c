"""brainalign.brainbench.stats: intervals, accuracy tables, calibration, the summary."""

import numpy as np
import pandas as pd
import pytest

from brainalign.brainbench.stats import accuracy_table, bootstrap_ci, calibration, sem, summarize


def test_sem_closed_form():
    c = np.array([1] * 63 + [0] * 37, dtype=bool)
    assert sem(c) == pytest.approx(np.sqrt(0.63 * 0.37 / 100))


def test_bootstrap_is_seeded_and_brackets_the_accuracy():
    rng = np.random.default_rng(3)
    c = rng.random(200) < 0.7
    lo, hi = bootstrap_ci(c, n_boot=2000, seed=5)
    assert (lo, hi) == bootstrap_ci(c, n_boot=2000, seed=5)
    assert lo < c.mean() < hi
    # width close to the normal approximation 2 * 1.96 * SEM
    assert hi - lo == pytest.approx(2 * 1.96 * sem(c), rel=0.15)
    assert bootstrap_ci(np.ones(10, bool), n_boot=100) == (1.0, 1.0)


def test_accuracy_table_per_group():
    items = pd.DataFrame({"journal_section": ["a"] * 4 + ["b"] * 6,
                          "correct": [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]}).astype({"correct": bool})
    t = accuracy_table(items, by="journal_section", n_boot=200)
    assert list(t["group"]) == ["a", "b"]
    assert list(t["n"]) == [4, 6] and list(t["n_correct"]) == [3, 1]
    assert t["accuracy"].tolist() == pytest.approx([0.75, 1 / 6])
    assert accuracy_table(items, n_boot=200)["group"].tolist() == ["all"]


def test_calibration_planted_monotone():
    conf = np.arange(100, dtype=float)
    correct = conf >= 40  # right exactly when confident
    bins, corr = calibration(pd.DataFrame({"confidence": conf, "correct": correct}), n_bins=5)
    assert bins["n"].tolist() == [20] * 5
    assert bins["accuracy"].tolist() == [0, 0, 1, 1, 1]
    assert corr["spearman_rho"] > 0.7 and corr["pointbiserial_r"] > 0.7
    _, none = calibration(pd.DataFrame({"confidence": conf, "correct": np.ones(100, bool)}))
    assert np.isnan(none["spearman_rho"])


def test_summary_fields():
    items = pd.DataFrame({"correct": [True, False, True, True], "confidence": [1, 0.1, 2, 3],
                          "tie": [False, True, False, False], "reference_parse_differs": [False, False, True, False],
                          "journal_section": ["a"] * 4})
    s = summarize(items, items, n_boot=200)
    assert s["accuracy"] == 0.75 and s["n_ties"] == 1 and s["n_reference_parse_differs"] == 1
    assert s["accuracy_where_reference_parse_agrees"] == pytest.approx(2 / 3)
    assert s["isolated"]["accuracy"] == 0.75
    assert (s["human_experts"], s["llm_mean"]) == (0.634, 0.814)


def test_summary_counts_rows_left_out_of_the_isolated_condition():
    items = pd.DataFrame({"correct": [True, False, True], "confidence": [1, 0.1, 2], "tie": [False] * 3,
                          "row": [1, 2, 3], "markup_problem": ["", "span 1 '[[2.5,5]]' has no comma", ""],
                          "journal_section": ["a"] * 3})
    s = summarize(items, items.iloc[[0, 2]], n_boot=200)
    assert s["n"] == 3 and s["n_markup_unparsed"] == 1 and s["markup_unparsed_rows"] == [2]
    assert s["isolated"]["n"] == 2 and s["isolated"]["n_left_out"] == 1 and s["isolated"]["accuracy"] == 1.0
    empty = summarize(items, items.iloc[:0], n_boot=200)  # no case with usable markup
    assert empty["isolated"] == {"n": 0, "accuracy": None, "ci_low": None, "ci_high": None, "sem": None,
                                 "n_left_out": 3}
