"""Fixtures shared by the feature tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.models.tiny import tiny_model


@pytest.fixture(scope="module")
def tiny():
    """A 3-layer GPT-2 with random weights and the tiny tokenizer (brainalign.models.tiny): fast."""
    return tiny_model(n_layer=3, n_embd=32, n_positions=256)


TEXT = ("Once upon a time there was a small village by the sea. The fishermen went out every "
        "morning, and the children played on the beach while their mothers sold bread at the "
        "market. Über naïve café! A stranger arrived with a box; nobody knew what it held.")


@pytest.fixture(scope="module")
def words() -> pd.DataFrame:
    """The word table of :data:`TEXT` (one story, a word every 0.4 s): punctuation and non-ASCII words."""
    seq = TEXT.split()
    n = len(seq)
    return pd.DataFrame({"story": "s1", "word_index": np.arange(n), "word": seq,
                         "onset": np.arange(n) * 0.4, "offset": np.arange(n) * 0.4 + 0.3, "flags": ""})
