"""Which tokens each word sees: the windows of the three context modes.

A *window* is a half-open range ``[start, stop)`` of the story's tokens; the model sees the
tokenizer's prefix tokens (e.g. ``<bos>``, often none) followed by those tokens, in one fresh
forward pass.  Each word is read from exactly one window that contains all of its tokens.

``fixed`` (context ``C``)
    Word ``w`` with tokens ``[s, e)`` is read from ``[max(0, s - C), e)``: exactly the ``C``
    preceding tokens (fewer at the start of the story) and its own tokens last.  ``C = 0`` gives
    isolated words.
``strided`` (length ``L``, stride ``S``)
    Windows ``[kS, kS + L)`` for ``k = 0, 1, ...`` until one reaches the end of the story.  Each word
    is read from the earliest window containing all its tokens, i.e. the one where it has the most
    preceding context, so it sees between about ``L - S`` and ``L`` tokens.  A word that straddles
    every window boundary (possible only if it has more than ``L - S`` tokens, e.g. ``S = L``) is read
    from an extra window ``[e - L, e)`` ending with it.
``story``
    One window per story (computed in chunks with the KV cache, see :mod:`.extract`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Plan:
    """Windows and the window each word is read from.

    Attributes
    ----------
    starts, stops
        Window token ranges, shape ``(n_windows,)``.
    word_window
        Index of the window each word is read from, shape ``(n_words,)``.
    """

    starts: np.ndarray
    stops: np.ndarray
    word_window: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return self.stops - self.starts


def fixed_plan(word_start: np.ndarray, word_stop: np.ndarray, context: int) -> Plan:
    """One window per word: the ``context`` tokens before the word, then the word.

    Words near the start of the story (fewer than ``context`` tokens before them) all have windows
    starting at token 0, each a prefix of the next; with causal attention a token's hidden state
    does not depend on later tokens, so they are read from one pass over the longest of these
    windows (equal to fresh passes up to float rounding, as tested).
    """
    if context < 0:
        raise ValueError(f"context must be >= 0 tokens, got {context}")
    starts = np.maximum(0, word_start - context)
    return merge_shared_starts(Plan(starts=starts, stops=word_stop.copy(),
                                    word_window=np.arange(len(word_start))))


def merge_shared_starts(plan: Plan) -> Plan:
    """Read words whose windows share a start from the longest of those windows (causal models)."""
    uniq, inverse = np.unique(plan.starts, return_inverse=True)
    if len(uniq) == len(plan.starts):
        return plan
    stops = np.zeros(len(uniq), dtype=np.int64)
    np.maximum.at(stops, inverse, plan.stops)
    return Plan(starts=uniq.astype(np.int64), stops=stops, word_window=inverse[plan.word_window])


def strided_plan(word_start: np.ndarray, word_stop: np.ndarray, n_tokens: int, length: int,
                 stride: int) -> Plan:
    """Windows of ``length`` tokens advanced by ``stride``; each word from its best window."""
    if length < 1 or stride < 1 or stride > length:
        raise ValueError(f"strided context needs 1 <= stride <= length, got length={length}, stride={stride}")
    too_long = np.flatnonzero(word_stop - word_start > length)
    if len(too_long):
        k = too_long[0]
        raise ValueError(f"word {k} has {word_stop[k] - word_start[k]} tokens, more than the window "
                         f"length {length}")
    n_regular = 1 if n_tokens <= length else 1 + int(np.ceil((n_tokens - length) / stride))
    starts = list(np.arange(n_regular) * stride)
    stops = [min(s + length, n_tokens) for s in starts]
    # Earliest regular window whose end covers the word's last token.
    k = np.maximum(0, np.ceil((word_stop - length) / stride)).astype(int)
    k = np.minimum(k, n_regular - 1)
    word_window = k.copy()
    straddling = np.flatnonzero(np.asarray(starts)[k] > word_start)
    for w in straddling:
        starts.append(max(0, int(word_stop[w]) - length))
        stops.append(int(word_stop[w]))
        word_window[w] = len(starts) - 1
    return Plan(starts=np.asarray(starts, dtype=np.int64), stops=np.asarray(stops, dtype=np.int64),
                word_window=word_window)


def strided_token_owner(n_tokens: int, length: int, stride: int) -> np.ndarray:
    """For perplexity: the regular strided window that first contains each token."""
    t = np.arange(n_tokens)
    k = np.maximum(0, np.ceil((t + 1 - length) / stride)).astype(int)
    n_regular = 1 if n_tokens <= length else 1 + int(np.ceil((n_tokens - length) / stride))
    return np.minimum(k, n_regular - 1)
