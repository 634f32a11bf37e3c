"""Reading word timings in any supported format into a validated word table (:func:`read_timings`)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import pandas as pd

from brainalign.errors import InputError, MissingInputError
from brainalign.io.timings.bids_events import read_bids_events
from brainalign.io.timings.common import EXPECTED, read_text
from brainalign.io.timings.csv_table import read_csv_timings
from brainalign.io.timings.gentle import read_gentle
from brainalign.io.timings.textgrid import read_textgrid
from brainalign.io.timings.validate import validate_words
from brainalign.io.timings.window import cut_window

FORMATS = ("bids_events", "textgrid", "gentle", "csv")

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
    head = read_text(path)[:200]
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
