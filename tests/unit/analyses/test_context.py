"""Score growth with context length (brainalign.analyses.context)."""

from __future__ import annotations

import pytest

from brainalign import analyses as A
from brainalign.analyses.synthetic import make_scores


def test_context_profile_recovers_growth_with_context():
    scores = {c: make_scores({"long": {"depth": 0.6, "amplitude": 0.1 + 0.05 * i}, "flat": {"depth": 0.3}},
                             n_layers=8, n_subjects=3, seed=i)
              for i, c in enumerate([0, 8, 32, 128])}
    table = A.context_scores(scores)
    assert set(table["context"]) == {0, 8, 32, 128} and len(table) == 4 * 2 * 3
    prof = A.context_profile(table)
    gain = A.context_gain(prof).set_index("region")
    assert gain.loc["long", "gain"] == pytest.approx(0.15, abs=0.02)
    assert gain.loc["long", "best_context"] == 128
    assert abs(gain.loc["flat", "gain"]) < 0.02
    assert set(prof["best_relative_depth"][prof["region"] == "long"]) == {0.625}
