"""Words aligned to tokens: leading spaces, merged tokens, non-ASCII text, errors named
(brainalign.features.alignment)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.features import align_words, assign_tokens


def test_assign_tokens_leading_space_and_merged_token():
    # text "ab cd ef": words at 0-2, 3-5, 6-8.  Tokens: "ab" | " c" | "d e" (spans two words) | "f"
    words = np.array([[0, 2], [3, 5], [6, 8]])
    tokens = np.array([[0, 2], [2, 4], [4, 7], [7, 8]])
    start, stop = assign_tokens(words, tokens)
    # " c" belongs to "cd" (the space is nobody's); "d e" goes to the later word "ef".
    assert start.tolist() == [0, 1, 2] and stop.tolist() == [1, 2, 4]


def test_assign_tokens_word_whose_only_token_is_merged_shares_it():
    words = np.array([[0, 1], [2, 3]])            # "a b" tokenised as one token
    tokens = np.array([[0, 3]])
    start, stop = assign_tokens(words, tokens)
    assert start.tolist() == [0, 0] and stop.tolist() == [1, 1]


def test_merged_tokens_with_a_real_tokenizer():
    from tokenizers import Tokenizer, models, trainers
    from transformers import PreTrainedTokenizerFast

    # BPE without a whitespace pre-tokenizer learns tokens that cross word boundaries.
    tok = Tokenizer(models.BPE())
    tok.train_from_iterator(["of the of the of the cat"] * 50,
                            trainers.BpeTrainer(vocab_size=60, show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok)
    al = align_words(fast, ["of", "the", "cat"])
    enc = fast(al.text, add_special_tokens=False, return_offsets_mapping=True)
    crossing = [i for i, (a, b) in enumerate(enc["offset_mapping"]) if a < 2 < b]
    assert crossing, "the test tokenizer should merge across the space"
    assert al.word_start[1] <= crossing[0] < al.word_stop[1]     # assigned to the later word
    assert (al.n_tokens >= 1).all()


def test_alignment_non_ascii_and_leading_space(tiny):
    al = align_words(tiny.tokenizer, ["Über", "naïve", "café!", "sea"])
    enc = tiny.tokenizer(al.text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    decoded = [tiny.tokenizer.decode(ids[s:e]) for s, e in zip(al.word_start, al.word_stop)]
    assert [d.strip() for d in decoded] == ["Über", "naïve", "café!", "sea"]
    # tokens between words (a lone space token, if the vocabulary has no " n...") are whitespace
    for prev, nxt in zip(al.word_stop[:-1], al.word_start[1:]):
        assert tiny.tokenizer.decode(ids[prev:nxt]).strip() == ""
    assert decoded[-1] == " sea"                                  # leading-space marker kept
    assert al.word_stop[-1] == len(enc["input_ids"])


def test_alignment_errors(tiny):
    with pytest.raises(ValueError, match="empty story"):
        align_words(tiny.tokenizer, pd.DataFrame({"word": []}))
    with pytest.raises(ValueError, match="row 1"):
        align_words(tiny.tokenizer, ["a", " ", "b"])
    with pytest.raises(ValueError, match="missing column 'word'"):
        align_words(tiny.tokenizer, pd.DataFrame({"token": ["a"]}))

    class Slow:
        is_fast = False

    with pytest.raises(ValueError, match="offsets"):
        align_words(Slow(), ["a"])
