"""Comparing a subject's words with the story's (:func:`check_same_words`, :func:`check_subject_timings`;
rules ``words`` and ``words_subject``)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from brainalign.errors import InputError
from brainalign.io.timings.validate import TOLERANCE


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
