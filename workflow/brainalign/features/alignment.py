"""Word-to-token alignment through character offsets.

The story's words are joined with single spaces and tokenised once with
``return_offsets_mapping=True``.  (``is_split_into_words=True`` is not used: it drops the
leading-space marker that byte-level BPE tokenizers such as SmolLM2's put on every word but the
first, which changes the tokens.)  A token belongs to the word whose character span it overlaps;
the space joining two words belongs to no word, so ``" world"`` (offsets covering the space)
belongs to ``world``.

Tokens that overlap two words (a tokenizer that merges across the space) are assigned to the
**later** word, whose features then carry the merged token; the earlier word keeps its other
tokens, and if the merged token was its only one it shares that token with the later word (so
every word has at least one token).  ``n_tokens`` counts a word's tokens including shared ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("word",)


@dataclass(frozen=True)
class Alignment:
    """A story's token ids and where each word's tokens lie.

    Attributes
    ----------
    text
        The words joined with single spaces (what was tokenised).
    input_ids
        Token ids of ``text`` (no special tokens), shape ``(T,)``.
    word_start, word_stop
        Per word, the half-open token range ``[start, stop)`` of its tokens.
    prefix_ids
        Special tokens the tokenizer puts before any text (e.g. Gemma's ``<bos>``; empty for
        GPT-2 and SmolLM2).  Every forward pass starts with them; they never count as context.
    """

    text: str
    input_ids: np.ndarray
    word_start: np.ndarray
    word_stop: np.ndarray
    prefix_ids: tuple[int, ...]

    @property
    def n_words(self) -> int:
        return len(self.word_start)

    @property
    def n_tokens(self) -> np.ndarray:
        return self.word_stop - self.word_start


def words_of(words: pd.DataFrame | list[str]) -> list[str]:
    """The words, in order, of a word table (its ``word`` column) or of a plain list."""
    if isinstance(words, pd.DataFrame):
        if "word" not in words.columns:
            raise ValueError(f"word table: missing column 'word' (columns: {list(words.columns)})")
        seq = words["word"].tolist()
    else:
        seq = list(words)
    if len(seq) == 0:
        raise ValueError("empty story: the word table has no rows")
    out = []
    for i, word in enumerate(seq):
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"word table row {i}: field 'word' must be a non-empty string, got {word!r}")
        out.append(word.strip())
    return out


def prefix_ids(tokenizer) -> tuple[int, ...]:
    """Special tokens the tokenizer adds before text by default (e.g. ``<bos>``)."""
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    n = len(with_special) - len(plain)
    if n > 0 and with_special[n:] == plain:
        return tuple(int(i) for i in with_special[:n])
    return ()


def assign_tokens(word_spans: np.ndarray, token_spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map character spans to token ranges.

    Parameters
    ----------
    word_spans
        ``(N, 2)`` half-open character spans of the words in the joined text.
    token_spans
        ``(T, 2)`` character offsets of the tokens, in order.

    Returns
    -------
    start, stop
        Per word, the token range ``[start, stop)``; see the module docstring for tokens that
        overlap two words.

    Raises
    ------
    ValueError
        If a word overlaps no token (offsets that do not cover the text).
    """
    n_words = len(word_spans)
    owner = np.full(len(token_spans), -1)
    # For each token, the last word it overlaps (later word wins for merged tokens).
    w = 0
    for t, (a, b) in enumerate(token_spans):
        if b <= a:
            continue
        while w < n_words and word_spans[w, 1] <= a:
            w += 1
        last = -1
        k = w
        while k < n_words and word_spans[k, 0] < b:
            if word_spans[k, 1] > a:
                last = k
            k += 1
        owner[t] = last
    start = np.full(n_words, -1)
    stop = np.full(n_words, -1)
    for t in np.flatnonzero(owner >= 0):
        k = owner[t]
        if start[k] < 0:
            start[k] = t
        stop[k] = t + 1
    # Words whose only token was merged into the next word share that token.
    for k in np.flatnonzero(start < 0):
        a, b = word_spans[k]
        hits = np.flatnonzero((token_spans[:, 0] < b) & (token_spans[:, 1] > a))
        if len(hits) == 0:
            raise ValueError(f"word {k} (characters {a}-{b}) is covered by no token: the tokenizer's "
                             "offsets do not cover the text")
        start[k], stop[k] = hits[0], hits[-1] + 1
    return start, stop


def align_words(tokenizer, words: pd.DataFrame | list[str]) -> Alignment:
    """Tokenise a story and locate each word's tokens.

    Parameters
    ----------
    tokenizer
        A fast ``transformers`` tokenizer.
    words
        The story's word table (column ``word``) or a list of words.

    Raises
    ------
    ValueError
        Empty story, empty word, or a tokenizer that cannot return character offsets.
    """
    seq = words_of(words)
    text = " ".join(seq)
    spans = np.empty((len(seq), 2), dtype=np.int64)
    pos = 0
    for i, word in enumerate(seq):
        spans[i] = (pos, pos + len(word))
        pos += len(word) + 1
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"tokenizer {type(tokenizer).__name__} cannot return character offsets "
                         "(not a fast tokenizer); word-token alignment needs them")
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    except (NotImplementedError, ValueError, TypeError) as err:
        raise ValueError(f"tokenizer {type(tokenizer).__name__} cannot return character offsets: {err}") from err
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    start, stop = assign_tokens(spans, offsets)
    return Alignment(text=text, input_ids=ids, word_start=start, word_stop=stop,
                     prefix_ids=prefix_ids(tokenizer))
