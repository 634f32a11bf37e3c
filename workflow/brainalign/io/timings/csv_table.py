"""Plain-table word timings, CSV or TSV (:func:`read_csv_timings`).

A table with a word column and onset/offset columns (synonyms such as ``start``/``end`` and
``token`` are recognised; ``columns=`` maps explicitly).  Missing onsets are an error unless
``on_missing='interpolate'``.  A ``.tsv``/``.tab`` file is read without quoting, as BIDS TSVs.
(The module is not named ``csv`` so that it never shadows the standard library's.)
"""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from brainalign.errors import InputError, MissingInputError
from brainalign.io.timings.common import EXPECTED, interpolate_missing, log_left_out, read_text, story_from_path
from brainalign.io.timings.table import add_flag, make_word_table
from brainalign.io.tsv import NA, read_bids_tsv

log = logging.getLogger(__name__)

_CSV_SYNONYMS = {
    "word": ("word", "words", "token", "text", "label", "item"),
    "onset": ("onset", "start", "start_time", "starttime", "tmin", "begin", "xmin"),
    "offset": ("offset", "end", "end_time", "endtime", "stop", "tmax", "xmax"),
}


def read_csv_timings(
    path: str | os.PathLike,
    *,
    story: str | None = None,
    columns: Mapping[str, str] | None = None,
    time_scale: float = 1.0,
    on_missing: str = "error",
    sep: str | None = None,
    **_: object,
) -> pd.DataFrame:
    """Words of a plain table (CSV or TSV) with word, onset and offset columns.

    Parameters
    ----------
    columns
        Explicit mapping ``{"word": ..., "onset": ..., "offset": ...}`` to the file's column names;
        otherwise common synonyms are recognised (``start``/``end``, ``token`` ...).  Without an
        offset column, each word ends at the next onset.
    time_scale
        Multiplier to seconds (e.g. 0.001 for milliseconds).
    on_missing
        Rows with an empty onset: ``"error"`` (default), ``"interpolate"`` (flag ``interpolated``,
        as for Gentle) or ``"drop"`` (logged).

    Rows whose word is empty or ``n/a`` are not words: they are left out and counted in the log.

    Raises
    ------
    MissingInputError
        The file is missing or empty.
    InputError
        Another separator than expected (e.g. ``;``), a ragged or unbalanced-quote row, no word or
        onset column, a time that is not a number, rows without onset (``on_missing='error'``) --
        naming the file, column and line.
    """
    path = Path(path)
    if on_missing not in ("error", "interpolate", "drop"):
        raise ValueError(f"on_missing={on_missing!r}: expected 'error', 'interpolate' or 'drop'")
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    table = _read_table(path, sep)
    cols = _find_columns(table, columns, path)
    text_words = table[cols["word"]].str.strip()
    not_word = (text_words == "") | (text_words == NA)
    log_left_out(path, {"with no word (empty or n/a)": int(not_word.sum())}, len(table))
    table = table[~not_word]
    words = text_words[~not_word].tolist()
    if not words:
        raise InputError(path, "no rows with a word", field=f"column '{cols['word']}'", expected=EXPECTED["csv"])
    on = _times(table, cols["onset"], path, time_scale)
    off = _times(table, cols["offset"], path, time_scale) if cols["offset"] else np.r_[on[1:], np.nan]
    if cols["offset"] is None and len(on):
        off[-1] = on[-1] + 0.3 if np.isfinite(on[-1]) else np.nan
    words, on, off, interp = _fill_missing_onsets(path, table, words, on, off, on_missing)
    # a known onset with an unknown offset ends at the next onset
    gap = ~np.isfinite(off)
    off[gap] = np.r_[on[1:], on[-1] + 0.3][gap]
    df = make_word_table(story or story_from_path(path), words, on, off)
    add_flag(df, interp, "interpolated")
    return df


def _read_table(path: Path, sep: str) -> pd.DataFrame:
    """The file as a table of strings (no missing values), with a header and at least one row.

    A separator other than ``sep`` in the header, a ragged or unbalanced-quote row, or a header
    without rows is an error naming the file and line.
    """
    text = read_text(path, "csv")
    header = text.splitlines()[0]
    if sep not in header:
        other = next((c for c in (";", "\t", ",", "|") if c != sep and c in header), None)
        if other is not None:
            raise InputError(path, f"the header line has no {sep!r} but {other!r} ({header[:80]!r}): the file looks "
                             f"{other!r}-separated", field="line 1", expected=EXPECTED["csv"],
                             hint="save it comma-separated (or name it .tsv for tabs)")
    if sep == "\t":
        # A TSV has no quoting (as BIDS): a word '"Keep' is the word '"Keep'.
        table = read_bids_tsv(path, what="timing table", na=False, allow_empty=False)
    else:
        table = _parse_quoted(path, text, sep)
    if table.empty:
        raise InputError(path, "timing table has a header but no rows", expected=EXPECTED["csv"])
    return table


def _parse_quoted(path: Path, text: str, sep: str) -> pd.DataFrame:
    """A CSV with quoting: every line the same number of fields, no quote left open across lines."""
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as err:
        m = re.search(r"line (\d+)|row (\d+)", str(err))
        raise InputError(path, f"not a well-formed table: {str(err).strip()}",
                         field=f"line {m.group(1) or m.group(2)}" if m else None,
                         expected=EXPECTED["csv"] + " with the same number of fields on every line "
                                  "and balanced double quotes") from None
    except pd.errors.EmptyDataError:
        raise MissingInputError(path, "timing table has no header line", expected=EXPECTED["csv"]) from None
    for col in table.columns:
        broken = table[col].str.contains("\n|\r", regex=True)
        if broken.any():
            i = int(np.flatnonzero(broken.to_numpy())[0])
            raise InputError(path, f"a value spans several lines ({table[col].iloc[i][:60]!r}): an unbalanced "
                             "double quote has swallowed the following line(s)", field=f"column '{col}', row {i + 2}",
                             expected="a double quote only around a whole field (\"...\"), doubled inside it")
    return table


def _find_columns(table: pd.DataFrame, columns: Mapping[str, str] | None, path: Path) -> dict[str, str | None]:
    """The file's word, onset and offset columns: those named in ``columns``, else the first synonym
    present (case-insensitive); a word and an onset column are required."""
    lower = {c.strip().lower(): c for c in table.columns}
    cols = {}
    for key, names in _CSV_SYNONYMS.items():
        if columns and key in columns:
            if columns[key] not in table.columns:
                raise InputError(path, f"column {columns[key]!r} (for {key}) not found; columns: {list(table.columns)}",
                                 expected=f"a column {columns[key]!r}",
                                 hint="check dataset.timings.columns")
            cols[key] = columns[key]
        else:
            cols[key] = next((lower[n] for n in names if n in lower), None)
    for key in ("word", "onset"):
        if cols[key] is None:
            raise InputError(path, f"no {key} column (looked for {list(_CSV_SYNONYMS[key])}); columns: "
                             f"{list(table.columns)}", expected=f"a column holding the {key}s",
                             hint=f"name it in dataset.timings.columns ({{{key}: ...}})")
    return cols


def _times(table: pd.DataFrame, col: str, path: Path, time_scale: float) -> np.ndarray:
    """A time column in seconds; empty, ``nan``, ``n/a``, ``na`` and ``none`` are missing (NaN)."""
    vals = pd.to_numeric(table[col].str.strip().replace("", "nan"), errors="coerce")
    bad = vals.isna() & ~table[col].str.strip().str.lower().isin(["", "nan", "n/a", "na", "none"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"{table[col].iloc[i]!r} is not a number", field=f"column '{col}', line {table.index[i] + 2}",
                         expected="a number of seconds" + (f" (x {time_scale:g})" if time_scale != 1 else "")
                                  + "; '.' as decimal point")
    vals = vals.to_numpy(float)
    if np.isinf(vals).any():
        i = int(np.flatnonzero(np.isinf(vals))[0])
        raise InputError(path, f"{table[col].iloc[i]!r} is not a finite number",
                         field=f"column '{col}', line {table.index[i] + 2}", expected="a number of seconds")
    return vals * time_scale


def _fill_missing_onsets(path: Path, table: pd.DataFrame, words: list[str], on: np.ndarray, off: np.ndarray,
                         on_missing: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``on_missing`` to the words without an onset: raise, drop them (logged), or interpolate
    their times; returns the words, onsets, offsets and which were interpolated."""
    missing = ~np.isfinite(on)
    off = np.where(missing, np.nan, off)
    if missing.any():
        rows = (table.index[missing] + 2).tolist()
        if on_missing == "error":
            raise InputError(path, f"{int(missing.sum())} row(s) without an onset (first: row {rows[0]})",
                             expected="an onset in every row with a word",
                             hint="set dataset.timings.on_missing to 'interpolate' or 'drop'")
        if on_missing == "drop":
            log.warning("%s: dropped %d word(s) without onset (rows %s)", path, int(missing.sum()), rows[:10])
            keep = ~missing
            words = [w for w, k in zip(words, keep) if k]
            on, off, missing = on[keep], off[keep], missing[keep]
    on, off, interp = interpolate_missing(on, off, str(path)) if missing.any() else (on, off, missing)
    return words, on, off, interp
