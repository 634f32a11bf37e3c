"""BIDS ``events.tsv`` word timings (:func:`read_bids_events`).

Read as BIDS defines it (tabs, no quoting, ``n/a`` = missing).  Either a ``word`` column, or
MEG-MASC's ``trial_type`` holding a Python dict literal (``{'story': 'lw1', 'kind': 'word',
'word': 'Tara', ...}``; only ``kind == 'word'`` rows are kept).  With a ``word`` column,
``trial_type=`` (config ``dataset.timings.trial_type``) names the ``trial_type`` values of word rows;
other rows (music, silence, sentence markers) are left out.  Without it, rows whose word is ``n/a``
or empty are left out, and a file whose remaining rows carry several ``trial_type`` values is an
error (a music row with a label is not a word).  Every left-out row is counted in the log; ``n/a``
is never a word.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from brainalign.errors import InputError
from brainalign.io.timings.common import EXPECTED, log_left_out, story_from_path
from brainalign.io.timings.table import make_word_table
from brainalign.io.tsv import NA, read_bids_tsv


def read_bids_events(
    path: str | os.PathLike,
    *,
    story: str | None = None,
    word_column: str = "word",
    trial_type: str | Sequence[str] | None = None,
    kind: str = "word",
    **_: object,
) -> pd.DataFrame:
    """Word rows of a BIDS ``events.tsv``, read as BIDS defines it (tabs, no quoting, ``n/a`` missing).

    Parameters
    ----------
    path
        The events file.
    story
        Story name; default: the dict's ``story`` key (MEG-MASC) or the ``task-`` entity.  With
        MEG-MASC dicts, when given, only rows whose ``story`` matches are kept if any do.
    word_column
        Column holding the word (plain BIDS events).
    trial_type
        Plain events: the ``trial_type`` value(s) of word rows (config ``dataset.timings.trial_type``,
        e.g. ``"word"``); every other row (music, silence, sentence markers) is left out, and a word
        row whose word is ``n/a`` or empty is an error.  Default: rows whose word is ``n/a`` or
        empty are left out, and the remaining rows must share one ``trial_type`` (else an error
        listing the values: a ``music`` row with a label would otherwise become a word).
    kind
        MEG-MASC dicts: the ``kind`` of rows to keep.

    Returns
    -------
    pandas.DataFrame
        Word table; offset = onset + duration, or the next onset where duration is n/a.  Rows left
        out are counted in the log (INFO), by reason.

    Raises
    ------
    MissingInputError
        The file is missing or empty.
    InputError
        No ``onset`` column, no word column (and no dict-like ``trial_type``), a ragged row, a
        non-numeric onset or duration, a malformed dict, several ``trial_type`` values among word
        rows without ``trial_type=``, no word rows -- naming the file, line and column.
    """
    path = Path(path)
    ev = read_bids_tsv(path, what="events file", required=["onset"], allow_empty=False)
    story_name = story
    reasons: dict[str, int] = {}
    if word_column in ev.columns:
        rows, words = _plain_word_rows(ev, path, word_column, _as_values(trial_type), reasons)
    elif "trial_type" in ev.columns and ev["trial_type"].map(lambda t: str(t or "").lstrip().startswith("{")).any():
        rows, words, story_name = _dict_word_rows(ev, path, story, kind, reasons)
    else:
        raise InputError(path, f"no '{word_column}' column and no dict-like 'trial_type' (MEG-MASC style); "
                         f"columns: {list(ev.columns)}",
                         expected=f"a '{word_column}' column", hint="set dataset.timings.word_column")
    log_left_out(path, reasons, len(ev))
    if len(rows) == 0:
        raise InputError(path, f"no word events found (of {len(ev)} rows)", expected=EXPECTED["bids_events"])
    onset, offset = _onsets_offsets(rows, path)
    return make_word_table(story_name or story_from_path(path), words, onset, offset)


def _plain_word_rows(ev: pd.DataFrame, path: Path, word_column: str, wanted: list[str] | None,
                     reasons: dict[str, int]) -> tuple[pd.DataFrame, list[str]]:
    """The word rows of plain events (a word column) and their words; ``reasons`` counts the others.

    With ``wanted`` (the ``trial_type`` values of word rows), the rows of other ``trial_type`` are
    left out and a word row without a word is an error; without it, rows without a word are left
    out and the remaining rows must share one ``trial_type``.
    """
    text = ev[word_column].map(lambda w: "" if w is None else str(w).strip())
    if wanted is not None:
        rows = _rows_of_trial_types(ev, path, word_column, text, wanted, reasons)
    else:
        empty = text == ""
        reasons["with no word (n/a or empty)"] = int(empty.sum())
        rows = ev[~empty]
        _check_one_trial_type(rows, path)
    return rows, rows[word_column].map(lambda w: str(w).strip()).tolist()


def _rows_of_trial_types(ev: pd.DataFrame, path: Path, word_column: str, text: pd.Series, wanted: list[str],
                         reasons: dict[str, int]) -> pd.DataFrame:
    """The rows whose ``trial_type`` is one of ``wanted``, each with a word (else an error)."""
    if "trial_type" not in ev.columns:
        raise InputError(path, f"dataset.timings.trial_type={wanted} but the events file has no "
                         f"'trial_type' column (columns: {list(ev.columns)})", field="header",
                         expected="a 'trial_type' column, or no dataset.timings.trial_type")
    is_word = ev["trial_type"].isin(wanted)
    for value, count in ev.loc[~is_word, "trial_type"].map(lambda v: NA if v is None else v) \
            .value_counts(sort=False).items():
        reasons[f"with trial_type {value!r}"] = int(count)
    empty = is_word & (text == "")
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError(path, f"a row of trial_type {ev['trial_type'].iloc[i]!r} has no word "
                         f"({ev[word_column].iloc[i] or NA!r})", field=f"column '{word_column}', line {i + 2}",
                         expected="a word in every row whose trial_type is listed in dataset.timings.trial_type")
    return ev[is_word]


def _check_one_trial_type(rows: pd.DataFrame, path: Path) -> None:
    """Rows with a word share one ``trial_type`` (a ``music`` row with a label would otherwise become a word)."""
    if "trial_type" not in rows.columns:
        return
    values = rows["trial_type"].map(lambda v: NA if v is None else v).value_counts(sort=False)
    if len(values) > 1:
        listed = ", ".join(f"{v!r} ({c} rows)" for v, c in values.items())
        raise InputError(
            path, f"rows with a word have {len(values)} different trial_type values: {listed}",
            field="column 'trial_type'", expected="one kind of row with a word, or a list of the "
            "trial_type values of word rows",
            hint="set dataset.timings.trial_type to the values that are words (e.g. [word]); other "
                 "rows (music, silence) are then left out")


def _dict_word_rows(ev: pd.DataFrame, path: Path, story: str | None, kind: str,
                    reasons: dict[str, int]) -> tuple[pd.DataFrame, list[str], str | None]:
    """MEG-MASC events: the rows whose dict-like ``trial_type`` has ``kind``, their words, and the story.

    With ``story`` given, only the rows of that story are kept if any are; without it, the story is
    the dicts' ``story`` when they all share one.  ``reasons`` counts the rows left out.
    """
    dicts, keep = [], []
    not_dict = 0
    other: dict[str, int] = {}
    for i, text in enumerate(ev["trial_type"]):
        if text is None or not text.lstrip().startswith("{"):
            not_dict += 1
            continue
        d = _parse_dict_literal(text, path, i + 2)
        if d.get("kind") == kind:
            dicts.append(d)
            keep.append(i)
        else:
            other[str(d.get("kind"))] = other.get(str(d.get("kind")), 0) + 1
    reasons["whose trial_type is not a dict"] = not_dict
    reasons.update({f"of kind {k!r}": c for k, c in other.items()})
    rows = ev.iloc[keep]
    story_name = story
    stories = [str(d.get("story", "")) for d in dicts]
    if story is not None and story in stories:
        mask = np.array([s == story for s in stories])
        reasons["of other stories"] = int((~mask).sum())
        rows, dicts = rows[mask], [d for d, m in zip(dicts, mask) if m]
    elif story is None and stories and len(set(stories)) == 1 and stories[0]:
        story_name = stories[0]
    words = [str(d.get("word", "") if d.get("word") is not None else "").strip() for d in dicts]
    if any(w == "" for w in words):
        i = words.index("")
        raise InputError(path, f"a kind={kind!r} row has no 'word' key in trial_type",
                         field=f"column 'trial_type', line {rows.index[i] + 2}",
                         expected="a 'word' entry in every word row's dict")
    return rows, words, story_name


def _onsets_offsets(rows: pd.DataFrame, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Onsets of the word rows and their offsets: onset + duration, or the next onset where duration is n/a."""
    onset = _times(rows, "onset", path, allow_missing=False, expected="seconds from the start of the recording")
    if "duration" in rows.columns:
        duration = _times(rows, "duration", path, allow_missing=True, expected="seconds, or n/a")
    else:
        duration = np.full(len(rows), np.nan)
    nxt = np.r_[onset[1:], np.nan]
    offset = np.where(np.isfinite(duration), onset + np.nan_to_num(duration), nxt)
    if np.isnan(offset[-1]):
        offset[-1] = onset[-1] + (np.nanmedian(np.diff(onset)) if len(onset) > 1 else 0.3)
    return onset, offset


def _parse_dict_literal(text: str, path: Path, line: int) -> dict:
    """Parse MEG-MASC's ``trial_type`` (a Python dict literal, possibly with bare ``nan``)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:  # bare nan/inf are not literals; they only appear as values
            value = ast.literal_eval(re.sub(r"(?<![\w'\"])(nan|inf)(?![\w'\"])", "None", text))
        except (ValueError, SyntaxError) as err:
            raise InputError(path, f"trial_type is not a dict literal ({err.__class__.__name__}): {text[:80]!r}",
                             field=f"column 'trial_type', line {line}",
                             expected="a Python dict literal such as {'kind': 'word', 'word': 'Tara', ...}") from None
    if not isinstance(value, dict):
        raise InputError(path, f"trial_type is not a dict literal: {text[:80]!r}", field=f"column 'trial_type', line {line}",
                         expected="a Python dict literal such as {'kind': 'word', 'word': 'Tara', ...}")
    return value


def _line_numbers(table: pd.DataFrame) -> list[int]:
    """File line of each row of a table read by read_bids_tsv (header = line 1; index kept through filters)."""
    return [int(i) + 2 for i in table.index]


def _times(table: pd.DataFrame, column: str, path: Path, *, allow_missing: bool, expected: str) -> np.ndarray:
    """A time column of the rows of ``table`` as float, an error naming the file line otherwise."""
    out = np.empty(len(table), dtype=np.float64)
    for k, (value, line) in enumerate(zip(table[column].tolist(), _line_numbers(table))):
        text = None if value is None else str(value).strip()
        if text is None or text == "" or text == NA:
            if not allow_missing:
                raise InputError(path, f"missing value ({value!r})" if value is not None else "missing value (n/a)",
                                 field=f"column '{column}', line {line}", expected=expected)
            out[k] = np.nan
            continue
        try:
            out[k] = float(text)
        except ValueError:
            raise InputError(path, f"{value!r} is not a number", field=f"column '{column}', line {line}",
                             expected=expected) from None
        if not np.isfinite(out[k]):
            raise InputError(path, f"{value!r} is not a finite number", field=f"column '{column}', line {line}",
                             expected=expected)
    return out


def _as_values(option: str | Sequence[str] | None) -> list[str] | None:
    """A config option that is one value or a list, as a list (``None`` stays ``None``)."""
    if option is None:
        return None
    return [option] if isinstance(option, str) else [str(v) for v in option]
