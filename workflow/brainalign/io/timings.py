"""Word timings: every published format read into one word table.

The word table (``results/{ds}/words/{story}.tsv``) has one row per word and the columns
``story, word_index, word, onset, offset, flags`` (see docs/architecture.md), plus ``norm``, the
normalised form of the word used for matching (lower case, no surrounding punctuation).  ``word``
keeps punctuation and casing because it is what the language model reads.  It is a TSV without
quoting, like every BIDS table (:mod:`brainalign.io.tsv`): a word ``"Keep`` is written and read as
``"Keep``.

Readers (``fmt`` of :func:`read_timings`):

``bids_events``
    BIDS ``events.tsv``, read as BIDS defines it (tabs, no quoting, ``n/a`` = missing).  Either a
    ``word`` column, or MEG-MASC's ``trial_type`` holding a Python dict literal
    (``{'story': 'lw1', 'kind': 'word', 'word': 'Tara', ...}``; only ``kind == 'word'`` rows are
    kept).  With a ``word`` column, ``trial_type=`` (config ``dataset.timings.trial_type``) names
    the ``trial_type`` values of word rows; other rows (music, silence, sentence markers) are left
    out.  Without it, rows whose word is ``n/a`` or empty are left out, and a file whose remaining
    rows carry several ``trial_type`` values is an error (a music row with a label is not a word).
    Every left-out row is counted in the log; ``n/a`` is never a word.
``textgrid``
    Praat TextGrid, long ("ooTextFile" with ``xmin = ...`` labels) or short text format, UTF-8 or
    UTF-16; the interval tier is chosen by name (``tier``); silences/noise labels are skipped.
``gentle``
    Gentle ``align.json``.  Words with ``case != 'success'`` (e.g. ``not-found-in-audio``) get onsets
    interpolated between their aligned neighbours and the flag ``interpolated``.  The word text is
    taken from the transcript with its attached punctuation.
``csv``
    A plain table with a word column and onset/offset columns (synonyms such as ``start``/``end``
    and ``token`` are recognised; ``columns=`` maps explicitly).  Missing onsets are an error unless
    ``on_missing='interpolate'``.  A ``.tsv``/``.tab`` file is read without quoting, as BIDS TSVs.

Stories that share one alignment (Narratives' ``stimuli/gentle/slumlordreach/align.json`` holds
"slumlord" then "reach", timed from the start of the combined audio): :func:`cut_window` keeps the
words that start inside a time window of the alignment's clock and moves them to the story's own
clock (``read_timings(..., window=...)``; config ``dataset.story_runs.<story>.timings_window``).

Validation (all readers, :func:`validate_words`): NaN times, non-monotonic onsets, overlapping
words and words beyond the end of the recording raise an :class:`~brainalign.errors.InputError`
naming the file and row, unless a documented handling is chosen with ``on_overlap`` /
``on_beyond_end``.  No ``on_overlap`` handling removes a word: overlapping speech (two speakers at
once) changes times only, so the text the language model reads is the whole transcript.  A damaged
file (0 bytes, missing or wrong columns, a non-numeric time, malformed JSON or TextGrid, a CSV with
another separator) is an :class:`~brainalign.errors.InputError` naming the file, the line or field,
and what was expected.

Every subject's timing file of a story is compared with the story's (:func:`check_same_words`,
:func:`check_subject_timings`; rules ``words`` and ``words_subject``).
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import unicodedata
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.errors import InputError, MissingInputError
from brainalign.io.tsv import NA, numeric_column, read_bids_tsv, write_bids_tsv

log = logging.getLogger(__name__)

WORD_COLUMNS = ["story", "word_index", "word", "onset", "offset", "flags"]
FORMATS = ("bids_events", "textgrid", "gentle", "csv")
#: Labels that mark silence, noise or breath in forced-alignment tiers (compared case-insensitively).
NON_WORD_LABELS = frozenset({"", "sp", "sil", "sl", "{sl}", "{lg}", "{ns}", "{br}", "{cg}", "{ls}",
                             "<sil>", "<sp>", "<unk>", "#", "spn"})
#: Time tolerance (s) below which touching words are not called overlapping (alignment rounding).
TOLERANCE = 1e-3

_PUNCT_CATEGORIES = ("P", "S")  # unicode punctuation and symbols


# --------------------------------------------------------------------------------------------- norm
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


# ------------------------------------------------------------------------------------ word table
def _table(story: str, words: Iterable[str], onsets, offsets, flags=None) -> pd.DataFrame:
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


def _add_flag(df: pd.DataFrame, mask, flag: str) -> None:
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


# ------------------------------------------------------------------------------------ validation
#: Affected words listed in an overlap message before "... and N more" (all are flagged in the table).
MAX_LISTED = 10


def _overlap_issues(on: np.ndarray, off: np.ndarray, tolerance: float) -> list[tuple[int, str]]:
    """``(word index, kind)`` of every word starting before the previous word (in text order)
    starts (``"non_monotonic"``) or ends (``"overlap"``), beyond ``tolerance``."""
    out = []
    for i in range(1, len(on)):
        if on[i] < on[i - 1] - tolerance:
            out.append((i, "non_monotonic"))
        elif on[i] < off[i - 1] - tolerance:
            out.append((i, "overlap"))
    return out


def _handle_overlaps(df: pd.DataFrame, mode: str, tolerance: float) -> tuple[pd.DataFrame, list[str]]:
    """Apply ``on_overlap`` ``warn`` / ``clip`` / ``drop`` to a word table; never removes a word.

    Overlapping speech (two speakers talking at once) gives words that start before the previous
    word of the transcript ends, or even before it starts.  The transcript's order is the order the
    language model reads, so every word stays where it is; only times change, and each affected
    word is flagged (``flags``):

    ``warn``
        Times kept; the word is flagged ``overlap`` or ``non_monotonic``.
    ``clip``
        An overlapping word keeps its onset and the previous word's offset is clipped to it (flag
        ``clipped`` on the previous word).  A word starting before the previous word started keeps
        its onset (when it was heard) and is flagged ``non_monotonic``: the designs place each word
        by its own onset, whatever the order (:mod:`brainalign.design`).
    ``drop``
        The word's times are dropped (onset and offset NaN, flag ``untimed``): it stays in the
        model's context but is left out of the brain designs, like any word without an onset.

    Returns
    -------
    df, changes
        The adjusted copy, and one line per affected word (index, word, the previous word, what
        changed: old -> new times) in text order.
    """
    df = df.copy()
    on, off = df["onset"].to_numpy(float, copy=True), df["offset"].to_numpy(float, copy=True)
    words = df["word"].tolist()
    flags: dict[int, list[str]] = {}
    changes = []
    for i, kind in _overlap_issues(on, off, tolerance):
        # times of word i and i-1 as read (a previous adjustment may have changed them since)
        what = "starts before" if kind == "non_monotonic" else "overlaps"
        line = (f"word {i} {words[i]!r} at {on[i]:.3f} s {what} word {i - 1} {words[i - 1]!r} "
                f"({on[i - 1]:.3f}-{off[i - 1]:.3f} s)")
        if mode == "warn":
            flags.setdefault(i, []).append(kind)
            line += ": kept"
        elif mode == "drop":
            flags.setdefault(i, []).append("untimed")
            line += f": word {i} {on[i]:.3f}-{off[i]:.3f} s -> no time"
        elif kind == "overlap":
            flags.setdefault(i - 1, []).append("clipped")
            line += f": word {i - 1} offset {off[i - 1]:.3f} -> {on[i]:.3f} s"
        else:
            flags.setdefault(i, []).append("non_monotonic")
            line += ": onset kept"
        changes.append(line)
    new_on, new_off = on.copy(), off.copy()
    if mode == "clip":
        clipped = [i for i, f in flags.items() if "clipped" in f]
        # a clipped word ends where the next word starts (issues were found on the times as read)
        new_off[clipped] = on[np.asarray(clipped, dtype=int) + 1]
    elif mode == "drop":
        untimed = list(flags)
        new_on[untimed], new_off[untimed] = np.nan, np.nan
    df["onset"], df["offset"] = new_on, new_off
    for i, added in flags.items():
        current = str(df.at[i, "flags"])
        df.at[i, "flags"] = ";".join(([current] if current else []) + added)
    return df, changes


def _list_changes(changes: Sequence[str]) -> str:
    """The affected words for a message, at most :data:`MAX_LISTED`, then how many more."""
    more = len(changes) - MAX_LISTED
    return "; ".join(changes[:MAX_LISTED]) + (
        f"; ... and {more} more (each flagged in the word table's flags column)" if more > 0 else "")


def validate_words(
    df: pd.DataFrame,
    source: str | os.PathLike = "<table>",
    *,
    duration: float | None = None,
    on_overlap: str = "error",
    on_beyond_end: str = "error",
    tolerance: float = TOLERANCE,
    overlap_hint: str | None = None,
) -> pd.DataFrame:
    """Check a word table's times; return it (possibly repaired, re-indexed).

    Parameters
    ----------
    df
        Word table (columns of the contract).
    source
        File the table came from, named in every message.
    duration
        Length of the recording (s).  Words starting at or after it are "beyond the end"; words
        running past it have their offset clipped to it (flag ``truncated``).
    on_overlap
        Handling of non-monotonic onsets (a word starting before the previous one) and overlaps
        (a word starting before the previous word's offset, beyond ``tolerance``):
        ``"error"`` (default) raises, listing the words.  The other modes keep every word, in text
        order (the order the language model reads), change times only, flag the affected words and
        log them (index, word, old -> new times; the first :data:`MAX_LISTED`): ``"warn"`` keeps
        the times (flag ``overlap`` / ``non_monotonic``); ``"clip"`` ends the previous word at an
        overlapping word's onset (flag ``clipped`` on the previous word) and keeps an onset that
        goes backwards as it is (flag ``non_monotonic``); ``"drop"`` drops the affected words'
        times (NaN, flag ``untimed``: left out of the brain designs, still in the model's context).
        See :func:`_handle_overlaps`.
    on_beyond_end
        ``"error"`` (default), ``"drop"`` (log and drop) or ``"warn"`` (log and keep).
    tolerance
        Seconds of overlap tolerated (forced aligners round to 10 ms).
    overlap_hint
        Added to the overlap error's hint (e.g. how to leave out rows that are not words).

    Raises
    ------
    InputError
        Naming ``source`` and the row (word index and word) at fault (a ``ValueError``).
    ValueError
        An unknown ``on_overlap`` / ``on_beyond_end``.
    """
    for name, value, allowed in (("on_overlap", on_overlap, ("error", "warn", "clip", "drop")),
                                 ("on_beyond_end", on_beyond_end, ("error", "warn", "drop"))):
        if value not in allowed:
            raise ValueError(f"{name}={value!r}: expected one of {allowed}")
    df = df.reset_index(drop=True).copy()
    if df.empty:
        raise InputError(source, "no words found", expected="at least one word with an onset")
    on, off = df["onset"].to_numpy(float, copy=True), df["offset"].to_numpy(float, copy=True)
    bad = ~np.isfinite(on) | ~np.isfinite(off)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(source, f"word {i} ({df['word'][i]!r}) has no onset/offset (NaN)",
                         expected="a number of seconds for every word",
                         hint="fix the file, or for a csv set dataset.timings.on_missing: interpolate")
    neg = off < on - tolerance
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise InputError(source, f"word {i} ({df['word'][i]!r}) ends before it starts "
                         f"(onset {on[i]:.3f} s, offset {off[i]:.3f} s)", expected="offset >= onset")

    if on_overlap == "error":
        issues = _overlap_issues(on, off, tolerance)
        if issues:
            words = df["word"].tolist()
            listed = [f"word {i} {words[i]!r} at {on[i]:.3f} s "
                      f"{'starts before' if kind == 'non_monotonic' else 'overlaps'} word {i - 1} "
                      f"{words[i - 1]!r} ({on[i - 1]:.3f}-{off[i - 1]:.3f} s)" for i, kind in issues]
            hint = ("set dataset.timings.on_overlap to 'warn', 'clip' or 'drop' to accept (each keeps every word "
                    "and changes or flags times only)")
            raise InputError(source, f"{len(issues)} word(s) overlap the previous word or start before it: "
                             + _list_changes(listed), expected="increasing, non-overlapping words",
                             hint=hint + (f"; {overlap_hint}" if overlap_hint else ""))
    else:
        df, changes = _handle_overlaps(df, on_overlap, tolerance)
        if changes:
            done = {"warn": "times kept", "clip": "overlapped words clipped, earlier onsets kept",
                    "drop": "their times dropped"}[on_overlap]
            log.warning("%s: %d word(s) overlap the previous word or start before it (on_overlap: %s: %s); all %d "
                        "words kept in text order for the language model: %s", source, len(changes), on_overlap,
                        done, len(df), _list_changes(changes))
        on = df["onset"].to_numpy(float, copy=True)

    if duration is not None:
        beyond = on >= duration
        if beyond.any():
            i = int(np.flatnonzero(beyond)[0])
            msg = (f"{int(beyond.sum())} word(s) start at or after the end of the recording "
                   f"({duration:.3f} s), first word {i} ({df['word'][i]!r}) at {on[i]:.3f} s")
            if on_beyond_end == "error":
                raise InputError(source, msg, hint="set dataset.timings.on_beyond_end to 'drop' or 'warn' to accept")
            log.warning("%s: %s; %s", source, msg, "dropped" if on_beyond_end == "drop" else "kept")
            if on_beyond_end == "drop":
                df = df[~beyond].reset_index(drop=True)
                on, off = df["onset"].to_numpy(float, copy=True), df["offset"].to_numpy(float, copy=True)
        late = off > duration
        if late.any() and on_beyond_end != "warn":
            df.loc[late, "offset"] = float(duration)
            _add_flag(df, late, "truncated")
    df["word_index"] = np.arange(len(df), dtype=np.int64)
    return df


# ------------------------------------------------------------------------------------ readers
def _story_from_path(path: Path) -> str:
    m = re.search(r"task-([A-Za-z0-9]+)", path.name)
    if m:
        return m.group(1)
    if path.name.lower() == "align.json":  # Narratives: stimuli/gentle/<story>/align.json
        return path.parent.name
    return path.name.split(".")[0]


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


#: What each format's file must look like, for messages about damaged files.
EXPECTED = {
    "bids_events": "a BIDS events.tsv: tab-separated, a header with 'onset' (and 'duration'), a 'word' column "
                   "(or MEG-MASC's dict-like 'trial_type'), one line per event",
    "textgrid": "a Praat TextGrid text file (long or short format) with an interval tier of words",
    "gentle": "a Gentle align.json: a JSON object with 'transcript' and a list 'words' of "
              "{'word', 'case', 'start', 'end', 'startOffset', 'endOffset'}",
    "csv": "a comma-separated table (tab-separated for .tsv) with a header naming a word column and an onset "
           "column (offset optional), one line per word",
}


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


def _log_left_out(path: Path, reasons: Mapping[str, int], total: int) -> int:
    """Log the rows of a timing file that are not words, by reason; return their count."""
    n = int(sum(reasons.values()))
    if n:
        detail = ", ".join(f"{count} {why}" for why, count in reasons.items() if count)
        log.info("%s: %d of %d row(s) are not words and are left out (%s)", path, n, total, detail)
    return n


def _as_values(option: str | Sequence[str] | None) -> list[str] | None:
    if option is None:
        return None
    return [option] if isinstance(option, str) else [str(v) for v in option]


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
    wanted = _as_values(trial_type)
    reasons: dict[str, int] = {}
    if word_column in ev.columns:
        text = ev[word_column].map(lambda w: "" if w is None else str(w).strip())
        if wanted is not None:
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
            rows = ev[is_word]
        else:
            empty = text == ""
            reasons["with no word (n/a or empty)"] = int(empty.sum())
            rows = ev[~empty]
            if "trial_type" in rows.columns:
                values = rows["trial_type"].map(lambda v: NA if v is None else v).value_counts(sort=False)
                if len(values) > 1:
                    listed = ", ".join(f"{v!r} ({c} rows)" for v, c in values.items())
                    raise InputError(
                        path, f"rows with a word have {len(values)} different trial_type values: {listed}",
                        field="column 'trial_type'", expected="one kind of row with a word, or a list of the "
                        "trial_type values of word rows",
                        hint="set dataset.timings.trial_type to the values that are words (e.g. [word]); other "
                             "rows (music, silence) are then left out")
        words = rows[word_column].map(lambda w: str(w).strip()).tolist()
    elif "trial_type" in ev.columns and ev["trial_type"].map(lambda t: str(t or "").lstrip().startswith("{")).any():
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
    else:
        raise InputError(path, f"no '{word_column}' column and no dict-like 'trial_type' (MEG-MASC style); "
                         f"columns: {list(ev.columns)}",
                         expected=f"a '{word_column}' column", hint="set dataset.timings.word_column")
    _log_left_out(path, reasons, len(ev))
    if len(rows) == 0:
        raise InputError(path, f"no word events found (of {len(ev)} rows)", expected=EXPECTED["bids_events"])
    onset = _times(rows, "onset", path, allow_missing=False, expected="seconds from the start of the recording")
    if "duration" in rows.columns:
        duration = _times(rows, "duration", path, allow_missing=True, expected="seconds, or n/a")
    else:
        duration = np.full(len(rows), np.nan)
    nxt = np.r_[onset[1:], np.nan]
    offset = np.where(np.isfinite(duration), onset + np.nan_to_num(duration), nxt)
    if np.isnan(offset[-1]):
        offset[-1] = onset[-1] + (np.nanmedian(np.diff(onset)) if len(onset) > 1 else 0.3)
    return _table(story_name or _story_from_path(path), words, onset, offset)


def _read_text(path: Path, fmt: str | None = None) -> str:
    """The text of a timing file (UTF-16 with a BOM, UTF-8, else Latin-1); empty is an error."""
    if not path.is_file():
        raise MissingInputError(path, "word-timing file not found")
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    if not text.strip():
        raise MissingInputError(path, f"word-timing file is empty ({len(raw)} bytes{', only blanks' if raw else ''})",
                                expected=EXPECTED.get(fmt or "", "a word-timing file"))
    return text


# Tokens of a Praat text file: quoted strings ("" escapes a quote), <flags>, numbers.  Bracketed
# indices of the long format (``item [1]:``) and the labels (``xmin =``) are not values.
_PRAAT_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(\[\s*\d*\s*\])|(<exists>|<absent>)|'
                          r"(?<![\w.])([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])|(![^\n]*)")
# Long-format lines whose value must be a number, and lines whose value must be a quoted string.
_PRAAT_NUMBER_LINE = re.compile(r"^\s*(xmin|xmax|number|time|size|intervals:\s*size|points:\s*size)\s*=\s*(.*?)\s*$")
_PRAAT_STRING_LINE = re.compile(r"^\s*(class|name|text|mark)\s*=\s*(.*?)\s*$")
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


def _check_praat_lines(text: str, path: Path) -> None:
    """Every value line of a TextGrid is a number, a quoted string or a flag (else the token stream
    would silently shift: ``xmin = 1,5`` or ``xmin = abc`` are not numbers for Praat either)."""
    lines = text.splitlines()
    long_format = any(_PRAAT_NUMBER_LINE.match(line) for line in lines[:40])
    inside = False  # inside a quoted string that spans lines ("" escapes a quote: parity counts)
    for number, line in enumerate(lines, start=1):
        starts_inside = inside
        inside = inside ^ (line.count('"') % 2 == 1)
        if starts_inside or number <= 2:
            continue
        stripped = line.strip()
        if long_format:
            m = _PRAAT_NUMBER_LINE.match(line)
            if m and not _NUMBER.match(m.group(2)):
                raise InputError(path, f"malformed TextGrid: {m.group(1)} = {m.group(2)[:40]!r} is not a number",
                                 field=f"line {number}", expected="a number (seconds or a count; '.' as decimal point)")
            m = _PRAAT_STRING_LINE.match(line)
            if m and not m.group(2).startswith('"'):
                raise InputError(path, f"malformed TextGrid: {m.group(1)} = {m.group(2)[:40]!r} is not a quoted string",
                                 field=f"line {number}", expected='a value in double quotes ("" for a quote inside)')
        elif stripped and not (_NUMBER.match(stripped) or stripped.startswith(('"', "!", "<exists>", "<absent>"))):
            raise InputError(path, f"malformed TextGrid (short format): {stripped[:40]!r} is neither a number nor a "
                             "quoted string", field=f"line {number}", expected="one number or quoted string per line")


def _praat_tokens(text: str) -> list[tuple[object, int]]:
    """Values of a Praat text file with the line each starts on."""
    out = []
    line, last = 1, 0
    for m in _PRAAT_TOKEN.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        string, index, flag, number, comment = m.groups()
        if string is not None:
            out.append((string.replace('""', '"'), line))
        elif flag is not None:
            out.append((flag, line))
        elif number is not None:
            out.append((float(number), line))
    return out


def parse_textgrid(path: str | os.PathLike) -> dict[str, list[tuple[float, float, str]]]:
    """All interval tiers of a Praat TextGrid (long or short text format).

    Returns
    -------
    dict
        Tier name -> list of ``(xmin, xmax, text)``; point tiers are skipped.

    Raises
    ------
    MissingInputError
        The file is missing or empty.
    InputError
        If the file is not a text TextGrid, or a value is malformed or missing, naming the file
        and the line.
    """
    path = Path(path)
    text = _read_text(path, "textgrid")
    _check_praat_lines(text, path)
    tokens = _praat_tokens(text)
    if len(tokens) < 2 or tokens[0][0] != "ooTextFile" or tokens[1][0] != "TextGrid":
        raise InputError(path, "not a Praat TextGrid text file",
                         expected="'File type = \"ooTextFile\"' and 'Object class = \"TextGrid\"' "
                                  "(binary TextGrids are not supported)")
    pos = 2
    n_lines = text.count("\n") + 1

    def take(kind, what):
        nonlocal pos
        if pos >= len(tokens):
            raise InputError(path, f"TextGrid ends early while reading {what}", field=f"line {n_lines}",
                             expected="a complete TextGrid (every tier holds the number of intervals it declares)")
        value, line = tokens[pos]
        if kind is float and not isinstance(value, float) or kind is str and not isinstance(value, str):
            raise InputError(path, f"malformed TextGrid: found {value!r} where {what} should be", field=f"line {line}",
                             expected=f"{what} as {'a number' if kind is float else 'a quoted string'}")
        pos += 1
        return value

    def count(what):
        value = take(float, what)
        if value < 0 or value != int(value):
            raise InputError(path, f"malformed TextGrid: {what} is {value:g}", field=f"line {tokens[pos - 1][1]}",
                             expected="a non-negative whole number")
        return int(value)

    take(float, "xmin"), take(float, "xmax")
    if take(str, "<exists>") != "<exists>":
        return {}
    n_tiers = count("number of tiers")
    tiers: dict[str, list] = {}
    for _ in range(n_tiers):
        cls = take(str, "tier class")
        name = take(str, "tier name")
        take(float, "tier xmin"), take(float, "tier xmax")
        n = count("number of intervals/points")
        if cls == "IntervalTier":
            tiers[name] = [(take(float, "interval xmin"), take(float, "interval xmax"), take(str, "interval text"))
                           for _ in range(n)]
        elif cls == "TextTier":
            for _ in range(n):
                take(float, "point time"), take(str, "point mark")
        else:
            raise InputError(path, f"unknown tier class {cls!r}", field=f"line {tokens[pos - 5][1]}",
                             expected="'IntervalTier' or 'TextTier'")
    return tiers


def read_textgrid(
    path: str | os.PathLike,
    *,
    story: str | None = None,
    tier: str = "words",
    skip_labels: Iterable[str] = NON_WORD_LABELS,
    **_: object,
) -> pd.DataFrame:
    """Words of one interval tier of a Praat TextGrid.

    Parameters
    ----------
    tier
        Tier name, matched case-insensitively; ``word``/``words`` also match each other (LeBel
        et al. 2023 name it ``word``, many aligners ``words``).
    skip_labels
        Interval labels that are not words (silence, noise), compared case-insensitively.

    Raises
    ------
    InputError
        If the tier is absent (the message lists the tiers present) or holds no words; see
        :func:`parse_textgrid` for damaged files.
    """
    path = Path(path)
    tiers = parse_textgrid(path)
    wanted = {tier.lower()}
    if tier.lower() in ("word", "words"):
        wanted |= {"word", "words"}
    names = [n for n in tiers if n.strip().lower() == tier.lower()] or \
            [n for n in tiers if n.strip().lower() in wanted]
    if not names:
        raise InputError(path, f"no interval tier named {tier!r}; tiers present: {list(tiers)}",
                         expected="an interval tier of words", hint="set dataset.timings.tier")
    skip = {s.lower() for s in skip_labels}
    intervals = [(a, b, t.strip()) for a, b, t in tiers[names[0]] if t.strip().lower() not in skip]
    _log_left_out(path, {"silence/noise interval(s)": len(tiers[names[0]]) - len(intervals)}, len(tiers[names[0]]))
    if not intervals:
        raise InputError(path, f"tier {names[0]!r} holds no words (only silence/noise labels or empty intervals)",
                         expected="an interval tier of words")
    a, b, t = zip(*intervals)
    return _table(story or _story_from_path(path), t, a, b)


def _interpolate_missing(on: np.ndarray, off: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill NaN onsets/offsets: each run of missing words shares the gap between its aligned
    neighbours equally; leading/trailing runs extend outwards at the median aligned word duration."""
    on, off = on.astype(float).copy(), off.astype(float).copy()
    missing = ~np.isfinite(on) | ~np.isfinite(off)
    if missing.all():
        raise InputError(where, "no word has a time; nothing to interpolate from",
                         expected="at least one word with an onset and offset")
    durs = (off - on)[~missing]
    step = float(np.median(durs)) if len(durs) else 0.3
    step = step if step > 0 else 0.3
    n = len(on)
    i = 0
    while i < n:
        if not missing[i]:
            i += 1
            continue
        j = i
        while j < n and missing[j]:
            j += 1
        k = j - i  # words i..j-1 missing
        if i == 0:
            end = on[j]
            start = max(0.0, end - k * step)
        elif j == n:
            start = off[i - 1]
            end = start + k * step
        else:
            start, end = off[i - 1], on[j]
            if end < start:  # neighbours overlap: squeeze into the previous word's end
                end = start
        edges = np.linspace(start, end, k + 1)
        on[i:j], off[i:j] = edges[:-1], edges[1:]
        i = j
    return on, off, missing


def _gentle_time(w: Mapping, key: str, path: Path, i: int) -> float:
    value = w[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise InputError(path, f"{key}={value!r} is not a number", field=f"words[{i}].{key}",
                         expected="seconds from the start of the audio")
    return float(value)


def read_gentle(path: str | os.PathLike, *, story: str | None = None, **_: object) -> pd.DataFrame:
    """Words of a Gentle ``align.json``; unaligned words get interpolated times (flag ``interpolated``).

    The text of each word is the transcript span from its ``startOffset`` widened to the
    surrounding whitespace, so attached punctuation (``"Hello,``) is kept for the language model.

    Raises
    ------
    MissingInputError
        The file is missing or empty.
    InputError
        Malformed JSON (naming the line and column), not a Gentle alignment, or an entry of
        ``words`` without ``word`` or with a non-numeric time or offset (naming ``words[i]``).
    """
    path = Path(path)
    text = _read_text(path, "gentle")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON: {err.msg}", field=f"line {err.lineno}, column {err.colno}",
                         expected=EXPECTED["gentle"]) from None
    if not isinstance(doc, dict) or "words" not in doc:
        found = f"an object with keys {sorted(doc)[:8]}" if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
        raise InputError(path, f"not a Gentle alignment: {found}", expected=EXPECTED["gentle"])
    if not isinstance(doc["words"], list):
        raise InputError(path, f"'words' is a JSON {type(doc['words']).__name__}", field="words",
                         expected="a list of word entries")
    transcript = doc.get("transcript")
    if transcript is not None and not isinstance(transcript, str):
        raise InputError(path, f"'transcript' is a JSON {type(transcript).__name__}", field="transcript",
                         expected="the transcript text (a string)")
    # One entry per whitespace-delimited transcript token: Gentle splits some tokens (hyphens,
    # numbers) into several items that share one span; they are merged back into one word.
    words: list[str] = []
    on: list[float] = []
    off: list[float] = []
    spans: list[tuple[int, int] | None] = []
    skipped = 0
    for i, w in enumerate(doc["words"]):
        if not isinstance(w, dict) or "word" not in w:
            raise InputError(path, "entry has no 'word' key" if isinstance(w, dict) else
                             f"entry is a JSON {type(w).__name__}", field=f"words[{i}]",
                             expected="an object with 'word' (and 'case', 'start', 'end', 'startOffset', 'endOffset')")
        if w.get("case") == "not-found-in-transcript":
            skipped += 1
            continue  # heard in the audio but not part of the text the model reads
        text, span = str(w["word"]), None
        if transcript is not None and "startOffset" in w and "endOffset" in w:
            a, b = w["startOffset"], w["endOffset"]
            if any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= len(transcript) for v in (a, b)):
                raise InputError(path, f"startOffset={a!r}, endOffset={b!r} do not index the transcript "
                                 f"({len(transcript)} characters)", field=f"words[{i}]",
                                 expected="character offsets into 'transcript'")
            while a > 0 and not transcript[a - 1].isspace():
                a -= 1
            while b < len(transcript) and not transcript[b].isspace():
                b += 1
            span = (a, b)
            text = transcript[a:b].strip() or text
        aligned = w.get("case") == "success" and "start" in w and "end" in w
        t0 = _gentle_time(w, "start", path, i) if aligned else np.nan
        t1 = _gentle_time(w, "end", path, i) if aligned else np.nan
        if span is not None and spans and spans[-1] == span:
            on[-1] = np.nanmin([on[-1], t0]) if np.isfinite([on[-1], t0]).any() else np.nan
            off[-1] = np.nanmax([off[-1], t1]) if np.isfinite([off[-1], t1]).any() else np.nan
            continue
        words.append(text)
        on.append(t0)
        off.append(t1)
        spans.append(span)
    _log_left_out(path, {"not-found-in-transcript word(s)": skipped}, len(doc["words"]))
    if not words:
        raise InputError(path, "no words in the alignment", field="words", expected=EXPECTED["gentle"])
    on, off, missing = _interpolate_missing(np.array(on), np.array(off), str(path))
    df = _table(story or _story_from_path(path), words, on, off)
    _add_flag(df, missing, "interpolated")
    if missing.any():
        log.info("%s: %d of %d words not aligned; onsets interpolated", path, int(missing.sum()), len(words))
    return df


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
    text = _read_text(path, "csv")
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
        import io

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
    if table.empty:
        raise InputError(path, "timing table has a header but no rows", expected=EXPECTED["csv"])
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
    text_words = table[cols["word"]].str.strip()
    not_word = (text_words == "") | (text_words == NA)
    _log_left_out(path, {"with no word (empty or n/a)": int(not_word.sum())}, len(table))
    table = table[~not_word]
    words = text_words[~not_word].tolist()
    if not words:
        raise InputError(path, "no rows with a word", field=f"column '{cols['word']}'", expected=EXPECTED["csv"])

    def numbers(col: str) -> np.ndarray:
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

    on = numbers(cols["onset"])
    off = numbers(cols["offset"]) if cols["offset"] else np.r_[on[1:], np.nan]
    if cols["offset"] is None and len(on):
        off[-1] = on[-1] + 0.3 if np.isfinite(on[-1]) else np.nan
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
    on, off, interp = _interpolate_missing(on, off, str(path)) if missing.any() else (on, off, missing)
    # a known onset with an unknown offset ends at the next onset
    gap = ~np.isfinite(off)
    off[gap] = np.r_[on[1:], on[-1] + 0.3][gap]
    df = _table(story or _story_from_path(path), words, on, off)
    _add_flag(df, interp, "interpolated")
    return df


# ------------------------------------------------------------------------- shared alignments
def cut_window(
    words: pd.DataFrame,
    window: Sequence[float | None],
    *,
    offset: float = 0.0,
    source: str | os.PathLike = "<table>",
    field: str = "window",
    tolerance: float = TOLERANCE,
) -> pd.DataFrame:
    """One story's words out of an alignment that holds several stories, in the story's clock.

    Parameters
    ----------
    words
        Word table of the whole alignment (as read, unaligned words already interpolated and
        flagged), times in the alignment's own clock.
    window
        ``[start, stop]`` in the alignment's clock (s): the words whose onset ``t`` satisfies
        ``start <= t < stop`` are kept; ``stop`` may be ``None`` (to the end of the alignment).
    offset
        Seconds added to the kept words' onsets and offsets: maps the alignment's clock to the
        story's time base.  For a story cut out of a shared fMRI run (``dataset.story_runs``) that
        base counts from the story's onset in the run (``crop_story`` re-zeroes the recording
        there), so ``offset = (run time of the alignment's 0) - (story onset in the run)``; with
        the alignment timed from the run start, ``-onset``.
    source, field
        The alignment file and the config field of the window, named in every message.
    tolerance
        Seconds by which a shifted onset may fall before 0 (alignment rounding).

    Returns
    -------
    pandas.DataFrame
        The kept words, ``word_index`` renumbered from 0, flags (e.g. ``interpolated``) kept.

    Raises
    ------
    ValueError
        A malformed or empty window (``start >= stop``, or no word starts in it), a window outside
        the alignment, or an offset that puts a word before the story's start, naming ``source``
        and ``field``.
    """
    if isinstance(window, (str, bytes)) or not isinstance(window, Sequence) or len(window) != 2:
        raise ValueError(f"{source}: {field}={window!r}: expected [start, stop] in seconds (stop may be null)")
    try:
        start = float(window[0])
        stop = np.inf if window[1] is None else float(window[1])
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {field}={list(window)!r}: start and stop must be numbers (s)") from None
    if not np.isfinite(start) or np.isnan(stop):
        raise ValueError(f"{source}: {field}={list(window)!r}: start must be a finite number of seconds")
    if stop <= start:
        raise ValueError(f"{source}: {field}=[{start:g}, {stop:g}] is empty: stop must be after start")
    if words.empty:
        raise ValueError(f"{source}: no words in the alignment to cut with {field}")
    on = words["onset"].to_numpy(float)
    first, last = float(np.nanmin(on)), float(np.nanmax(words["offset"].to_numpy(float)))
    if start > last or stop <= first:
        raise ValueError(f"{source}: {field}=[{start:g}, {stop:g}] s is outside the alignment, whose words "
                         f"run from {first:.3f} to {last:.3f} s (in the alignment's clock)")
    keep = (on >= start) & (on < stop)
    if not keep.any():
        raise ValueError(f"{source}: {field}=[{start:g}, {stop:g}] s is empty: no word of the alignment "
                         f"(words {first:.3f}-{last:.3f} s) starts in it")
    out = words[keep].reset_index(drop=True).copy()
    out["onset"] = out["onset"].astype(np.float64) + float(offset)
    out["offset"] = out["offset"].astype(np.float64) + float(offset)
    early = out["onset"].to_numpy(float) < -tolerance
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise ValueError(f"{source}: with the offset {float(offset):g} s, {int(early.sum())} word(s) of "
                         f"{field}=[{start:g}, {stop:g}] start before the story (word {i} {out['word'][i]!r} "
                         f"at {out['onset'][i]:.3f} s); check the offset or the window")
    out["word_index"] = np.arange(len(out), dtype=np.int64)
    return out


_READERS = {"bids_events": read_bids_events, "textgrid": read_textgrid, "gentle": read_gentle,
            "csv": read_csv_timings}


def detect_format(path: str | os.PathLike) -> str:
    """Guess the timing format from the file name (and the first bytes for ambiguous TSVs)."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".textgrid"):
        return "textgrid"
    if name.endswith(".json"):
        return "gentle"
    if name.endswith("_events.tsv"):
        return "bids_events"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    head = _read_text(path)[:200]
    if "ooTextFile" in head:
        return "textgrid"
    raise InputError(path, "cannot tell the timing format from the file name", expected=f"one of {list(FORMATS)}",
                     hint="set dataset.timings.format")


def read_timings(
    path: str | os.PathLike,
    fmt: str = "auto",
    *,
    story: str | None = None,
    duration: float | None = None,
    on_overlap: str = "error",
    on_beyond_end: str = "error",
    shift: float = 0.0,
    window: Sequence[float | None] | None = None,
    window_field: str = "window",
    **kw: object,
) -> pd.DataFrame:
    """Read word timings in any supported format into the word table, validated.

    Parameters
    ----------
    path
        The timing file.
    fmt
        ``"auto"`` (from the name) or one of ``bids_events``, ``textgrid``, ``gentle``, ``csv``.
    story
        Story name written in the ``story`` column (default: from the file, see each reader).
    duration
        Recording length (s), to detect words beyond its end (see :func:`validate_words`).
    on_overlap, on_beyond_end
        Handling of overlapping/non-monotonic and late words (see :func:`validate_words`).
    shift
        Seconds added to every onset and offset: the time of the stimulus start in the recording
        when the timing file counts from the audio start (e.g. a run that begins with silence).
        With ``window``, the offset from the alignment's clock to the story's (see
        :func:`cut_window`).
    window, window_field
        ``[start, stop]`` (s, in the file's clock): keep only the words starting in it, for one
        story of an alignment that holds several (:func:`cut_window`; onsets and durations used
        for ``duration`` and validation are then in the story's clock); ``window_field`` is the
        config field named in errors.
    **kw
        Reader options: ``tier``/``skip_labels`` (textgrid), ``word_column``/``trial_type``/``kind``
        (bids_events), ``columns``/``time_scale``/``on_missing``/``sep`` (csv).

    Returns
    -------
    pandas.DataFrame
        Columns ``story, word_index, word, onset, offset, flags, norm``.

    Raises
    ------
    MissingInputError
        The file does not exist or is empty (0 bytes) (a ``FileNotFoundError``).
    InputError
        A damaged file or invalid times, naming the file, the line or field, and what was expected
        (a ``ValueError``); see each reader.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, "word-timing file not found",
                                expected="the file named by dataset.timings.path (or story_runs.<story>.timings_path)")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in _READERS:
        raise ValueError(f"fmt={fmt!r}: expected 'auto' or one of {FORMATS}")
    if path.stat().st_size == 0:
        raise MissingInputError(path, "word-timing file is empty (0 bytes)", expected=EXPECTED[fmt])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=pd.errors.DtypeWarning)
        df = _READERS[fmt](path, story=story, **kw)
    if window is not None:
        df = cut_window(df, window, offset=shift, source=path, field=window_field)
    elif shift:
        df["onset"] += float(shift)
        df["offset"] += float(shift)
    hint = ("rows that are not words (music, silence) are left out when dataset.timings.trial_type lists "
            "the trial_type values of word rows") if fmt == "bids_events" else None
    return validate_words(df, path, duration=duration, on_overlap=on_overlap, on_beyond_end=on_beyond_end,
                          overlap_hint=hint)


def check_same_words(
    expected: Sequence[str],
    found: Sequence[str],
    *,
    subject: str,
    story: str,
    source: str | os.PathLike | None = None,
) -> None:
    """Raise if a subject's words differ from the story's words (count or normalised form, in order).

    Parameters
    ----------
    expected
        The story's normalised words (the ``norm`` column of the story's word table, or the
        normalised ``text`` of its features), in order.
    found
        The subject's normalised words, in order.
    subject, story
        Named in the error.
    source
        The subject's word table or timing file (named in the error when given).

    Raises
    ------
    InputError
        Naming the file, subject, story, the first differing word index and both words (a ``ValueError``).
    """
    expected, found = [str(w) for w in expected], [str(w) for w in found]
    if expected == found:
        return
    n = min(len(expected), len(found))
    first = next((i for i in range(n) if expected[i] != found[i]), n)
    story_word = repr(expected[first]) if first < len(expected) else "<end of story>"
    subject_word = repr(found[first]) if first < len(found) else "<end of table>"
    raise InputError(
        source if source is not None else f"subject {subject}",
        f"subject {subject}, story {story}: the subject's words differ from the story's "
        f"({len(found)} vs {len(expected)} words); first difference at word {first}: story {story_word}, "
        f"subject {subject_word}", expected="the story's words in order (only the onsets may differ, and only with "
        "dataset.timings.per_subject)")


def check_subject_timings(
    story_words: pd.DataFrame,
    subject_words: pd.DataFrame,
    *,
    subject: str,
    story: str,
    source: str | os.PathLike,
    reference: str | os.PathLike | None = None,
    onset_tolerance: float | None = TOLERANCE,
) -> None:
    """A subject's own timing file of a story lists the story's words (and, unless ``onset_tolerance``
    is None, their onsets): the check of rule ``words`` when each subject has its own file but the
    story's table serves every subject (``dataset.timings.per_subject: false``).

    Parameters
    ----------
    story_words, subject_words
        Word tables (columns ``norm``, ``onset``) of the story (the first subject's file) and of
        this subject.
    subject, story, source
        The subject, the story and the subject's file, named in errors.
    reference
        The file the story's table was read from (named in errors).
    onset_tolerance
        Largest onset difference (s) accepted; ``None`` compares the words only.

    Raises
    ------
    InputError
        Different words (:func:`check_same_words`), or an onset that differs by more than
        ``onset_tolerance`` (naming the file, the word and both onsets).
    """
    check_same_words(story_words["norm"].tolist(), subject_words["norm"].tolist(), subject=subject, story=story,
                     source=source)
    if onset_tolerance is None:
        return
    diff = np.abs(subject_words["onset"].to_numpy(float) - story_words["onset"].to_numpy(float))
    off = diff > onset_tolerance
    if off.any():
        i = int(np.flatnonzero(off)[0])
        ref = f" ({reference})" if reference is not None else ""
        raise InputError(
            source, f"subject {subject}, story {story}: {int(off.sum())} word onset(s) differ from the story's "
            f"table{ref} by more than {onset_tolerance * 1000:g} ms (up to {diff.max():.3f} s); first: word {i} "
            f"({subject_words['word'].iloc[i]!r}) at {subject_words['onset'].iloc[i]:.3f} s, "
            f"{story_words['onset'].iloc[i]:.3f} s in the story's table",
            expected="every subject's onsets equal to the story's (one clock for all subjects)",
            hint="set dataset.timings.per_subject: true so that each subject's own onsets are used")
