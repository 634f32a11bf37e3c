"""Memorization check: does the model compress the test abstracts suspiciously well?

Carlini et al. (2021) flag memorized training text by the ratio of a model's log-perplexity to the
text's zlib compressed size: text the model has memorized is far more predictable to it than its
generic compressibility says.  Luo et al. (2024) apply this to BrainBench abstracts and compare with
text the model cannot have seen.  Here every text gets

* ``log_ppl``: mean token NLL (nats/token) of the plain text (no prompt template, as in the
  reference ``dataset_ppl_zlib.py``), and ``zlib_bytes`` = ``len(zlib.compress(utf-8))`` (the paper's
  zlib entropy); ``carlini_ratio = log_ppl / zlib_bytes`` is the paper's quantity;
* ``model_bits_per_char`` = total NLL in bits / characters and ``zlib_bits_per_char`` =
  8 * zlib_bytes / characters, and ``ratio`` = their quotient: the length-normalised form of the same
  comparison (how much better than zlib the model compresses the text), comparable across lengths.

Reference texts the model cannot have seen:

* ``shuffled``: each test abstract with its words shuffled (seeded) - same words, same zlib size,
  no fluent order; a ceiling for text never seen in that order;
* ``unseen``: fluent neuroscience prose written after the model's training cutoff (e.g. the
  held-out part of ``workflow/brainalign/brainbench/corpus``), cut into chunks of the abstracts' median length.

A test set whose ``ratio`` lies well *below* the unseen fluent text's (one-sided Mann-Whitney U,
and the share of abstracts below the unseen texts' 5th percentile) suggests memorization; a test set
in the same range as unseen prose does not.
"""

from __future__ import annotations

import math
import zlib
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from .scoring import sequence_nll


def zlib_bytes(text: str) -> int:
    """Size in bytes of the zlib-compressed UTF-8 text (default level, as the reference code)."""
    return len(zlib.compress(text.encode("utf-8")))


def shuffle_words(text: str, rng: np.random.Generator) -> str:
    """The same words in a random order."""
    words = text.split()
    return " ".join(words[i] for i in rng.permutation(len(words)))


def chunk_text(text: str, target_chars: int) -> list[str]:
    """Cut prose into chunks of about ``target_chars`` characters at sentence ends (last partial chunk
    kept only if at least half as long)."""
    from .parsing import split_sentences

    flat = " ".join(text.split())
    chunks, current = [], ""
    for s, e in split_sentences(flat):
        current = f"{current} {flat[s:e]}".strip()
        if len(current) >= target_chars:
            chunks.append(current)
            current = ""
    if len(current) >= target_chars / 2:
        chunks.append(current)
    return chunks


def memorization_table(model, tokenizer, texts: Sequence[str], ids: Sequence[str],
                       unseen: Sequence[str] = (), seed: int = 0, batch_size: int = 8) -> pd.DataFrame:
    """Per-text log-perplexity and zlib entropy for test texts, their shuffles and unseen prose.

    Parameters
    ----------
    model, tokenizer
        The language model.
    texts, ids
        The test abstracts (original versions) and their identifiers (DOIs).
    unseen
        Documents of fluent text the model cannot have seen (chunked to the abstracts' median length).
    seed
        Seed of the word shuffles.

    Returns
    -------
    pandas.DataFrame
        ``source`` (``testset``/``shuffled``/``unseen``), ``id``, ``n_chars``, ``n_tokens``,
        ``log_ppl``, ``zlib_bytes``, ``carlini_ratio``, ``model_bits_per_char``,
        ``zlib_bits_per_char``, ``ratio``.
    """
    if len(texts) != len(ids):
        raise ValueError(f"{len(texts)} texts vs {len(ids)} ids")
    rng = np.random.default_rng(seed)
    target = int(np.median([len(t) for t in texts])) if texts else 1500
    rows = [("testset", i, t) for i, t in zip(ids, texts)]
    rows += [("shuffled", i, shuffle_words(t, rng)) for i, t in zip(ids, texts)]
    for d, doc in enumerate(unseen):
        rows += [("unseen", f"unseen-{d}-{k}", c) for k, c in enumerate(chunk_text(doc, target))]
    nll = sequence_nll(model, tokenizer, [r[2] for r in rows], batch_size=batch_size)
    df = pd.DataFrame({"source": [r[0] for r in rows], "id": [r[1] for r in rows],
                       "n_chars": [len(r[2]) for r in rows]})
    df["n_tokens"] = nll["n_tokens"].to_numpy()
    df["log_ppl"] = nll["nll_mean"].to_numpy()
    df["zlib_bytes"] = [zlib_bytes(r[2]) for r in rows]
    df["carlini_ratio"] = df["log_ppl"] / df["zlib_bytes"]
    df["model_bits_per_char"] = nll["nll_sum"].to_numpy() / math.log(2) / df["n_chars"]
    df["zlib_bits_per_char"] = 8 * df["zlib_bytes"] / df["n_chars"]
    df["ratio"] = df["model_bits_per_char"] / df["zlib_bits_per_char"]
    return df


def memorization_summary(table: pd.DataFrame) -> dict:
    """Compare the test texts' ``ratio`` with the shuffled and unseen references.

    Returns
    -------
    dict
        Per source: ``n``, ``ratio_median``, ``log_ppl_median``; ``testset_vs_unseen``: one-sided
        Mann-Whitney U p-value (test set lower), ``frac_below_unseen_p05`` (share of test texts whose
        ratio is below the unseen texts' 5th percentile); the same ``testset_vs_shuffled``.
    """
    out: dict = {"per_source": {}}
    for source, sub in table.groupby("source"):
        out["per_source"][source] = {"n": int(len(sub)), "ratio_median": float(sub["ratio"].median()),
                                     "log_ppl_median": float(sub["log_ppl"].median()),
                                     "carlini_ratio_median": float(sub["carlini_ratio"].median())}
    test = table.loc[table["source"] == "testset", "ratio"].to_numpy()
    for ref in ("unseen", "shuffled"):
        other = table.loc[table["source"] == ref, "ratio"].to_numpy()
        if len(test) and len(other) >= 2:
            p = float(sps.mannwhitneyu(test, other, alternative="less").pvalue)
            out[f"testset_vs_{ref}"] = {"mannwhitney_p_less": p,
                                        f"frac_below_{ref}_p05": float(np.mean(test < np.quantile(other, 0.05)))}
    return out
