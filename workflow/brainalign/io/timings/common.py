"""What the timing readers share: the expected shape of each format, reading a timing file's text,
the story name from a file name, logging the rows that are not words, and interpolating the times
of words an aligner could not place."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Mapping

import numpy as np

from brainalign.errors import InputError, MissingInputError

log = logging.getLogger(__name__)

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


def story_from_path(path: Path) -> str:
    """The story a timing file holds, from its name: the BIDS ``task-`` entity, Narratives' folder, or the stem."""
    m = re.search(r"task-([A-Za-z0-9]+)", path.name)
    if m:
        return m.group(1)
    if path.name.lower() == "align.json":  # Narratives: stimuli/gentle/<story>/align.json
        return path.parent.name
    return path.name.split(".")[0]


def read_text(path: Path, fmt: str | None = None) -> str:
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


def log_left_out(path: Path, reasons: Mapping[str, int], total: int) -> int:
    """Log the rows of a timing file that are not words, by reason; return their count."""
    n = int(sum(reasons.values()))
    if n:
        detail = ", ".join(f"{count} {why}" for why, count in reasons.items() if count)
        log.info("%s: %d of %d row(s) are not words and are left out (%s)", path, n, total, detail)
    return n


def interpolate_missing(on: np.ndarray, off: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
