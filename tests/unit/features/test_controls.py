"""Non-LM controls: word rate, length, frequency, static embedding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.features import align_words, control_features
from brainalign.features.controls import log_frequency, word_length
from brainalign.models.tiny import tiny_model


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


WORDS = pd.DataFrame({"story": "s", "word": ["The", "aardvark,", "said:", "\"Über", "sea."],
                      "onset": [0.0, 0.5, 1.0, 1.5, 2.0], "offset": [0.4, 0.9, 1.4, 1.9, 2.4]})


def test_scalar_controls():
    ds = control_features(WORDS)
    assert ds.word_rate.values.tolist() == [1.0] * 5
    assert ds.word_length.values.tolist() == [3, 8, 4, 4, 3]          # punctuation not counted
    freq = ds.log_frequency.values
    assert freq[0] > 6 > freq[1] > 0                                   # "the" is very frequent
    assert log_frequency("Sea,") == log_frequency("sea")
    assert log_frequency("qzxwv") == 0.0
    assert ds.controls.sel(control="word_length").values.tolist() == ds.word_length.values.tolist()
    np.testing.assert_array_equal(ds.onset.values, WORDS.onset.values)
    assert "embedding" not in ds
    assert word_length("naïve") == 5


def test_static_embedding_is_pooled_input_embedding(tiny):
    ds = control_features(WORDS, tiny)
    al = align_words(tiny.tokenizer, WORDS)
    table = tiny.model.get_input_embeddings().weight.detach().numpy()
    for w in range(len(WORDS)):
        ids = al.input_ids[al.word_start[w]:al.word_stop[w]]
        np.testing.assert_allclose(ds.embedding.values[w], table[ids].mean(axis=0), atol=1e-6)
    last = control_features(WORDS, tiny, pooling="last")
    np.testing.assert_allclose(last.embedding.values, table[al.input_ids[al.word_stop - 1]], atol=0)
    assert ds.embedding.dtype == np.float32 and ds.attrs["weights_sha256"] == tiny.info["weights_sha256"]


def test_empty_story_is_an_error():
    with pytest.raises(ValueError, match="empty story"):
        control_features(pd.DataFrame({"word": []}))
