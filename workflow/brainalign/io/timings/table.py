"""The word table: its columns, the normalised word, and reading/writing it.

The word table (``results/{ds}/words/{story}.tsv``) has one row per word and the columns
``story, word_index, word, onset, offset, flags`` (see docs/architecture.md), plus ``norm``, the
normalised form of the word used for matching (lower case, no surrounding punctuation).  ``word``
keeps punctuation and casing because it is what the language model reads.  It is a TSV without
quoting, like every BIDS table (:mod:`brainalign.io.tsv`): a word ``"Keep`` is written and read as
``"Keep``.  Every reader builds its table with :func:`make_word_table`.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from brainalign.errors import InputError, MissingInputError
from brainalign.io.tsv import numeric_column, read_bids_tsv, write_bids_tsv

WORD_COLUMNS = ["story", "word_index", "word", "onset", "offset", "flags"]

_PUNCT_CATEGORIES = ("P", "S")  # unicode punctuation and symbols


def normalize_word(word: str) -> str:
    """Normalised form of a word for matching across sources.

    Unicode NFKC, lower case, curly quotes made straight, punctuation and symbols stripped from
    both ends (internal apostrophes and hyphens are kept: ``"Don't,"`` -> ``"don't"``).
    """
    text = unicodedata.normalize("NFKC", str(word)).replace("\u2019", "'").replace("\u2018", "'")
    text = text.lower().strip()
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start])[0] in _PUNCT_CATEGORIES:
        start += 1
    while end > start and unicodedata.category(text[end - 1])[0] in _PUNCT_CATEGORIES:
        end -= 1
    return text[start:end]


def make_word_table(story: str, words: Iterable[str], onsets, offsets, flags=None) -> pd.DataFrame:
    """A word table of one story: ``word_index`` from 0, ``flags`` empty unless given, ``norm`` computed."""
    words = [str(w) for w in words]
    n = len(words)
    flags = [""] * n if flags is None else [str(f) for f in flags]
    df = pd.DataFrame({
        "story": [str(story)] * n,
        "word_index": np.arange(n, dtype=np.int64),
        "word": words,
        "onset": np.asarray(onsets, dtype=np.float64),
        "offset": np.asarray(offsets, dtype=np.float64),
        "flags": flags,
    })
    df["norm"] = [normalize_word(w) for w in words]
    return df


def add_flag(df: pd.DataFrame, mask, flag: str) -> None:
    """Append ``flag`` to the ``flags`` of the rows selected by ``mask`` (``;``-separated), in place."""
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        cur = df.loc[mask, "flags"].astype(str)
        df.loc[mask, "flags"] = [f"{c};{flag}" if c else flag for c in cur]


def read_word_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a word table written by :func:`write_word_table`.

    The table is read as a BIDS TSV without quoting and without missing values: every word is
    read verbatim (``"Keep``, ``NA``, ``null``, ``nan`` and ``n/a`` are words).

    Raises
    ------
    MissingInputError
        If the file does not exist or is empty (a ``FileNotFoundError``).
    InputError
        If a required column is missing, a row is ragged, or a time or index is not a number,
        naming the file, column and line (a ``ValueError``).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, "word table not found", expected="the output of rule 'words'")
    df = read_bids_tsv(path, what="word table", na=False, allow_empty=False)
    missing = [c for c in WORD_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(path, f"word table lacks column(s) {missing}; it has {list(df.columns)}",
                         field="header", expected=f"columns {WORD_COLUMNS}")
    out = df.copy()
    for col in ("onset", "offset"):
        out[col] = numeric_column(df, col, source=path, expected="seconds from the start of the recording")
    index = numeric_column(df, "word_index", source=path, expected="an integer word index")
    if not np.array_equal(index, np.round(index)):
        i = int(np.flatnonzero(index != np.round(index))[0])
        raise InputError(path, f"{df['word_index'][i]!r} is not an integer", field=f"column 'word_index', line {i + 2}",
                         expected="an integer word index")
    out["word_index"] = index.astype(np.int64)
    if "norm" not in out.columns:
        out["norm"] = [normalize_word(w) for w in out["word"]]
    return out[WORD_COLUMNS + ["norm"] + [c for c in out.columns if c not in WORD_COLUMNS + ["norm"]]]


def write_word_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a word table atomically as a TSV without quoting (columns of the contract first, then ``norm``).

    Raises
    ------
    ValueError
        If a column of the contract is missing, or a value holds a tab or a line break (which a
        TSV without quoting cannot hold).
    """
    missing = [c for c in WORD_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: cannot write word table without column(s) {missing}")
    out = df.copy()
    if "norm" not in out.columns:
        out["norm"] = [normalize_word(w) for w in out["word"]]
    out["flags"] = out["flags"].fillna("").astype(str)
    for col in ("story", "word", "norm"):
        out[col] = out[col].astype(str)
    extra = [c for c in out.columns if c not in WORD_COLUMNS + ["norm"]]
    # repr-exact floats: onsets survive a write/read round trip bit for bit.
    for col in ("onset", "offset"):
        out[col] = [repr(float(v)) for v in out[col]]
    return write_bids_tsv(out[WORD_COLUMNS + ["norm"] + extra], path)
