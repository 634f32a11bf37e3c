"""Memorization probes: zlib ratio and shuffled-word baselines (brainalign.brainbench.memorization)."""

import zlib

import numpy as np
import pandas as pd

from brainalign.brainbench.memorization import chunk_text, memorization_summary, shuffle_words, zlib_bytes


def test_zlib_and_shuffle():
    text = "the cat sat on the mat " * 10
    assert zlib_bytes(text) == len(zlib.compress(text.encode()))
    shuffled = shuffle_words(text, np.random.default_rng(0))
    assert sorted(shuffled.split()) == sorted(text.split())
    chunks = chunk_text("One two three. " * 40, target_chars=100)
    assert all(len(c) >= 100 for c in chunks[:-1]) and len(chunks[-1]) >= 50
    assert all(c.endswith(".") for c in chunks) and " ".join(chunks) == ("One two three. " * 40).strip()


def test_memorization_summary_detects_planted_low_ratio():
    rng = np.random.default_rng(0)
    table = pd.concat([
        pd.DataFrame({"source": "testset", "ratio": rng.normal(0.3, 0.02, 50)}),
        pd.DataFrame({"source": "unseen", "ratio": rng.normal(0.5, 0.02, 20)}),
        pd.DataFrame({"source": "shuffled", "ratio": rng.normal(0.9, 0.02, 50)}),
    ]).assign(log_ppl=1.0, carlini_ratio=0.001)
    s = memorization_summary(table)
    assert s["testset_vs_unseen"]["mannwhitney_p_less"] < 1e-6
    assert s["testset_vs_unseen"]["frac_below_unseen_p05"] == 1.0
    assert s["per_source"]["unseen"]["n"] == 20
