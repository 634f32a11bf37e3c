"""Gentle ``align.json`` word timings (:func:`read_gentle`).

Words with ``case != 'success'`` (e.g. ``not-found-in-audio``) get onsets interpolated between
their aligned neighbours and the flag ``interpolated``.  The word text is taken from the transcript
with its attached punctuation.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.errors import InputError
from brainalign.io.timings.common import EXPECTED, interpolate_missing, log_left_out, read_text, story_from_path
from brainalign.io.timings.table import add_flag, make_word_table

log = logging.getLogger(__name__)


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
    text = read_text(path, "gentle")
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
    words, on, off, skipped = _gentle_words(doc["words"], transcript, path)
    log_left_out(path, {"not-found-in-transcript word(s)": skipped}, len(doc["words"]))
    if not words:
        raise InputError(path, "no words in the alignment", field="words", expected=EXPECTED["gentle"])
    on, off, missing = interpolate_missing(np.array(on), np.array(off), str(path))
    df = make_word_table(story or story_from_path(path), words, on, off)
    add_flag(df, missing, "interpolated")
    if missing.any():
        log.info("%s: %d of %d words not aligned; onsets interpolated", path, int(missing.sum()), len(words))
    return df


def _gentle_words(entries: Sequence, transcript: str | None,
                  path: Path) -> tuple[list[str], list[float], list[float], int]:
    """Words (with their transcript punctuation), onsets and offsets (NaN where not aligned) of
    Gentle's ``words`` entries, and how many were left out as ``not-found-in-transcript``."""
    # One entry per whitespace-delimited transcript token: Gentle splits some tokens (hyphens,
    # numbers) into several items that share one span; they are merged back into one word.
    words: list[str] = []
    on: list[float] = []
    off: list[float] = []
    spans: list[tuple[int, int] | None] = []
    skipped = 0
    for i, w in enumerate(entries):
        if not isinstance(w, dict) or "word" not in w:
            raise InputError(path, "entry has no 'word' key" if isinstance(w, dict) else
                             f"entry is a JSON {type(w).__name__}", field=f"words[{i}]",
                             expected="an object with 'word' (and 'case', 'start', 'end', 'startOffset', 'endOffset')")
        if w.get("case") == "not-found-in-transcript":
            skipped += 1
            continue  # heard in the audio but not part of the text the model reads
        text, span = str(w["word"]), None
        if transcript is not None and "startOffset" in w and "endOffset" in w:
            span = _transcript_span(w, transcript, path, i)
            text = transcript[span[0]:span[1]].strip() or text
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
    return words, on, off, skipped


def _transcript_span(w: Mapping, transcript: str, path: Path, i: int) -> tuple[int, int]:
    """The transcript span of entry ``i`` widened to the surrounding whitespace (attached punctuation kept)."""
    a, b = w["startOffset"], w["endOffset"]
    if any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= len(transcript) for v in (a, b)):
        raise InputError(path, f"startOffset={a!r}, endOffset={b!r} do not index the transcript "
                         f"({len(transcript)} characters)", field=f"words[{i}]",
                         expected="character offsets into 'transcript'")
    while a > 0 and not transcript[a - 1].isspace():
        a -= 1
    while b < len(transcript) and not transcript[b].isspace():
        b += 1
    return a, b


def _gentle_time(w: Mapping, key: str, path: Path, i: int) -> float:
    """A word entry's ``start``/``end`` in seconds (a finite number, not a bool), else an error naming ``words[i]``."""
    value = w[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise InputError(path, f"{key}={value!r} is not a number", field=f"words[{i}].{key}",
                         expected="seconds from the start of the audio")
    return float(value)
