"""One story's words out of an alignment shared by several stories (:func:`cut_window`).

Narratives' ``stimuli/gentle/slumlordreach/align.json`` holds "slumlord" then "reach", timed from
the start of the combined audio: :func:`cut_window` keeps the words that start inside a time window
of the alignment's clock and moves them to the story's own clock (``read_timings(...,
window=...)``; config ``dataset.story_runs.<story>.timings_window``).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from brainalign.io.timings.validate import TOLERANCE


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
