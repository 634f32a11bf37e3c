"""Per-subject word onsets: the same words, each subject's own clock.

In MEG-MASC (Gwilliams et al. 2023) every subject hears the same stories, but each story is played
as several sound files with gaps between them, so the words' onsets in one subject's recording are
not those in another's.  The story's word table (``results/{ds}/words/{story}.tsv``) fixes the word
sequence the features are computed on; each subject's table
(``results/{ds}/words/{story}/sub-{subject}.tsv``) only supplies new onsets for those same words.

:func:`read_subject_onsets` reads the per-subject tables into the ``onsets`` argument of
:func:`brainalign.encoding.encode_dataset`; :func:`check_same_words` is the check both the
``words_subject`` rule and the encoder apply, so a subject whose events list other words (a missing
sound file, a different transcript) stops the workflow instead of pairing features with the wrong
brain samples.
"""

from __future__ import annotations

import os
from typing import Iterable

import numpy as np
import pandas as pd
import xarray as xr

# check_same_words lives with the word tables (io.timings): the words rule needs it without the
# encoder's dependencies; it is re-exported here for the encoder.
from ..io.timings import check_same_words, normalize_word, read_word_table  # noqa: F401


def subject_onsets(
    table: pd.DataFrame,
    *,
    subject: str,
    story: str,
    source: str | os.PathLike | None = None,
) -> xr.DataArray:
    """One subject's onsets of one story, as the encoder takes them.

    Parameters
    ----------
    table
        The subject's word table (columns of the Word table contract; ``norm`` is computed from
        ``word`` when absent).
    subject, story, source
        Carried as attributes so that a mismatch found later names the run and the file.

    Returns
    -------
    xr.DataArray
        ``onset`` (s) with dim ``word`` (0..N-1) and coord ``norm`` (normalised words).
    """
    norm = table["norm"] if "norm" in table.columns else [normalize_word(w) for w in table["word"]]
    n = len(table)
    attrs = {"subject": str(subject), "story": str(story)}
    if source is not None:
        attrs["source"] = str(source)
    return xr.DataArray(np.asarray(table["onset"], dtype=np.float64), dims="word", name="onset",
                        coords={"word": np.arange(n), "norm": ("word", np.asarray(norm, dtype=str))},
                        attrs=attrs)


def read_subject_onsets(
    runs: Iterable[tuple[str, str]],
    paths: Iterable[str | os.PathLike],
) -> dict[str, dict[str, xr.DataArray]] | None:
    """Read the per-subject word tables of the ``words_subject`` rule.

    Parameters
    ----------
    runs
        ``(subject, story)`` pairs, in the order of ``paths`` (``runs_of`` / ``subject_words_of`` in
        ``workflow/rules/common.smk`` list them in the same order).
    paths
        One word table per run; empty when the dataset has one timing per story
        (``dataset.timings.per_subject: false``).

    Returns
    -------
    dict or None
        ``{subject: {story: onsets}}`` (see :func:`subject_onsets`), or ``None`` when ``paths`` is
        empty, meaning "use the features' onsets".

    Raises
    ------
    ValueError
        If there are tables but not one per run.
    """
    runs, paths = list(runs), [str(p) for p in paths]
    if not paths:
        return None
    if len(paths) != len(runs):
        raise ValueError(f"{len(paths)} per-subject word tables for {len(runs)} runs: expected one per run")
    out: dict[str, dict[str, xr.DataArray]] = {}
    for (subject, story), path in zip(runs, paths):
        out.setdefault(str(subject), {})[str(story)] = subject_onsets(read_word_table(path), subject=subject,
                                                                      story=story, source=path)
    return out
