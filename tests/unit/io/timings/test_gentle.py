"""Gentle alignments: missing words interpolated, punctuation kept (brainalign.io.timings.gentle)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainalign.io.timings import read_timings


def test_gentle_interpolates_missing_words_and_keeps_punctuation(tmp_path, gentle_doc):
    path = tmp_path / "pieman" / "align.json"
    path.parent.mkdir()
    path.write_text(json.dumps(gentle_doc, indent=2))
    words = read_timings(path)
    assert words["story"].iloc[0] == "pieman"
    assert words["word"].tolist() == ["Once", "upon", "a", "time,", '"Tara"', "went", "to", "twenty-one", "shops."]
    assert words["norm"].tolist()[4] == "tara"
    # the two unaligned words share the gap 1.6 .. 2.2 equally
    np.testing.assert_allclose(words["onset"], [0.5, 0.8, 1.1, 1.2, 1.6, 1.9, 2.2, 2.3, 2.8])
    np.testing.assert_allclose(words["offset"], [0.8, 1.1, 1.2, 1.6, 1.9, 2.2, 2.3, 2.8, 3.3])
    assert words["flags"].tolist() == [""] * 4 + ["interpolated"] * 2 + [""] * 3


def test_gentle_leading_and_trailing_missing(tmp_path, gentle_doc):
    doc = gentle_doc                   # a fresh copy for each test (function-scoped fixture)
    for i in (0, 10):
        doc["words"][i] = {k: v for k, v in doc["words"][i].items() if k in ("startOffset", "endOffset", "word")}
        doc["words"][i]["case"] = "not-found-in-audio"
    path = tmp_path / "align.json"
    path.write_text(json.dumps(doc))
    words = read_timings(path, fmt="gentle", story="x")
    med = np.median([0.3, 0.1, 0.4, 0.1, 0.5])  # durations of the aligned words (twenty-one merged)
    assert words["onset"].iloc[0] == pytest.approx(0.8 - med)
    assert words["onset"].iloc[-1] == pytest.approx(2.8)
    assert words["offset"].iloc[-1] == pytest.approx(2.8 + med)
    assert words["flags"].iloc[0] == "interpolated" and words["flags"].iloc[-1] == "interpolated"
