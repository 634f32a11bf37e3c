"""The demo's original stories and a deterministic speech-rate model for their word timings.

The stories (``stories/*.txt``) were written for this project.  :func:`story_words` turns one into
the word table of ``docs/architecture.md`` as if it were read aloud at about ``rate`` words per
second: a word's spoken duration grows with its length, every duration is jittered, and pauses
follow punctuation (short after ``, ; :``, longer after ``. ! ?``, longest at paragraph breaks).
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

STORY_DIR = Path(__file__).with_name("stories")

#: Pause (s, before rescaling to the target rate) after a word ending in these characters.
_PAUSES = {",": 0.18, ";": 0.25, ":": 0.25, ".": 0.45, "!": 0.45, "?": 0.45}
_PARAGRAPH_PAUSE = 0.8
_CLOSERS = "\"')]\u201d\u2019"


def available_stories() -> list[str]:
    """Names of the stories shipped with the package (file stems, sorted)."""
    return sorted(p.stem for p in STORY_DIR.glob("*.txt"))


def load_stories(names: list[str] | None = None) -> dict[str, str]:
    """Read the demo stories.

    Parameters
    ----------
    names
        Story names (file stems of ``brainalign/demo/stories/*.txt``); ``None`` reads all of them.

    Returns
    -------
    dict
        ``{name: text}`` in the order asked for.

    Raises
    ------
    FileNotFoundError
        For a name without a story file, naming the file and the available stories.
    """
    names = available_stories() if names is None else list(names)
    out = {}
    for name in names:
        path = STORY_DIR / f"{name}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no demo story '{name}' (available: {', '.join(available_stories())})")
        out[name] = path.read_text(encoding="utf-8")
    return out


def _pause_after(word: str, paragraph_end: bool) -> float:
    """Nominal silence after ``word``: punctuation before any closing quote decides it."""
    if paragraph_end:
        return _PARAGRAPH_PAUSE
    core = word.rstrip(_CLOSERS)
    return _PAUSES.get(core[-1:], 0.0) if core else 0.0


def story_words(text: str, story: str, *, rate: float = 2.5, seed: int = 0,
                lead_in: float = 2.0) -> pd.DataFrame:
    """Word timings of ``text`` read aloud by a deterministic speech-rate model.

    Each whitespace-separated token is one word and keeps its punctuation and casing.  A word's
    nominal duration is ``0.12 + 0.045 * n_letters`` s, multiplied by log-normal jitter (sd 0.15);
    silences follow punctuation (see module docstring) with their own jitter.  Durations and
    pauses are then scaled together so that the story lasts exactly ``n_words / rate`` s after
    ``lead_in``.

    Parameters
    ----------
    text
        The story.  Blank lines separate paragraphs.
    story
        Story name written to the ``story`` column; it also seeds the jitter together with ``seed``
        so that two stories never share a jitter sequence.
    rate
        Mean speech rate in words per second (pauses included).
    seed
        Seed of the jitter; same inputs give an identical table.
    lead_in
        Silence (s) before the first word.

    Returns
    -------
    pandas.DataFrame
        Columns ``story, word_index, word, onset, offset, flags`` (``flags`` empty).

    Raises
    ------
    ValueError
        If ``text`` has no words or ``rate`` is not positive.
    """
    if not rate > 0:
        raise ValueError(f"story_words: rate must be > 0 words/s, got {rate!r}")
    words, para_end = [], []
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    for para in paragraphs:
        tokens = para.split()
        words.extend(tokens)
        para_end.extend([False] * (len(tokens) - 1) + [True])
    if not words:
        raise ValueError(f"story_words: story '{story}' has no words")
    para_end[-1] = False  # no pause needed after the last word
    rng = np.random.default_rng([int(seed), zlib.crc32(story.encode("utf-8"))])
    n = len(words)
    letters = np.array([sum(ch.isalnum() for ch in w) for w in words], dtype=float)
    duration = (0.12 + 0.045 * letters) * np.exp(rng.normal(0.0, 0.15, n))
    pause = np.array([_pause_after(w, e) for w, e in zip(words, para_end)])
    # small gaps between all words, longer and jittered ones at punctuation
    pause = (0.03 + pause) * np.exp(rng.normal(0.0, 0.25, n))
    pause[-1] = 0.0
    scale = (n / rate) / float(duration.sum() + pause.sum())
    duration, pause = duration * scale, pause * scale
    onset = lead_in + np.concatenate([[0.0], np.cumsum(duration + pause)[:-1]])
    offset = onset + duration
    return pd.DataFrame({
        "story": story,
        "word_index": np.arange(n, dtype=int),
        "word": words,
        "onset": np.round(onset, 4),
        "offset": np.round(offset, 4),
        "flags": "",
    })
