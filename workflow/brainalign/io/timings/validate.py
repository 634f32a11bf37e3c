"""Validation of a word table's times, for every reader (:func:`validate_words`).

NaN times, non-monotonic onsets, overlapping words and words beyond the end of the recording raise
an :class:`~brainalign.errors.InputError` naming the file and row, unless a documented handling is
chosen with ``on_overlap`` / ``on_beyond_end``.  No ``on_overlap`` handling removes a word:
overlapping speech (two speakers at once) changes times only, so the text the language model reads
is the whole transcript.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import pandas as pd

from brainalign.errors import InputError
from brainalign.io.timings.table import add_flag

log = logging.getLogger(__name__)

#: Time tolerance (s) below which touching words are not called overlapping (alignment rounding).
TOLERANCE = 1e-3
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
    _check_times(df, on, off, source, tolerance)
    df = _check_overlaps(df, on, off, source, on_overlap, tolerance, overlap_hint)
    if duration is not None:
        df = _check_end(df, off, source, duration, on_beyond_end)
    df["word_index"] = np.arange(len(df), dtype=np.int64)
    return df


def _check_times(df: pd.DataFrame, on: np.ndarray, off: np.ndarray, source: str | os.PathLike,
                 tolerance: float) -> None:
    """Every word has an onset and an offset, and does not end before it starts (beyond ``tolerance``)."""
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


def _check_overlaps(df: pd.DataFrame, on: np.ndarray, off: np.ndarray, source: str | os.PathLike, mode: str,
                    tolerance: float, overlap_hint: str | None) -> pd.DataFrame:
    """Raise on overlapping or non-monotonic words (``mode`` ``"error"``), else apply and log ``on_overlap``."""
    if mode == "error":
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
        return df
    df, changes = _handle_overlaps(df, mode, tolerance)
    if changes:
        done = {"warn": "times kept", "clip": "overlapped words clipped, earlier onsets kept",
                "drop": "their times dropped"}[mode]
        log.warning("%s: %d word(s) overlap the previous word or start before it (on_overlap: %s: %s); all %d "
                    "words kept in text order for the language model: %s", source, len(changes), mode,
                    done, len(df), _list_changes(changes))
    return df


def _check_end(df: pd.DataFrame, off: np.ndarray, source: str | os.PathLike, duration: float,
               mode: str) -> pd.DataFrame:
    """Apply ``on_beyond_end`` to the words starting at or after ``duration``; clip later offsets to it.

    ``off`` holds the offsets as read, before any ``on_overlap`` handling: the words running past
    the end are found on them (as :func:`validate_words` always has; the onsets are the handled ones).
    """
    on = df["onset"].to_numpy(float, copy=True)
    beyond = on >= duration
    if beyond.any():
        i = int(np.flatnonzero(beyond)[0])
        msg = (f"{int(beyond.sum())} word(s) start at or after the end of the recording "
               f"({duration:.3f} s), first word {i} ({df['word'][i]!r}) at {on[i]:.3f} s")
        if mode == "error":
            raise InputError(source, msg, hint="set dataset.timings.on_beyond_end to 'drop' or 'warn' to accept")
        log.warning("%s: %s; %s", source, msg, "dropped" if mode == "drop" else "kept")
        if mode == "drop":
            df = df[~beyond].reset_index(drop=True)
            off = df["offset"].to_numpy(float, copy=True)
    late = off > duration
    if late.any() and mode != "warn":
        df.loc[late, "offset"] = float(duration)
        add_flag(df, late, "truncated")
    return df
