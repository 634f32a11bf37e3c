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

Modules (one per format, as MNE keeps one reader per format): :mod:`.table` (the word table, its
columns and the normalised word), :mod:`.bids_events`, :mod:`.textgrid`, :mod:`.gentle`,
:mod:`.csv_table` (the readers), :mod:`.common` (what the readers share), :mod:`.validate`
(:func:`validate_words`), :mod:`.window` (:func:`cut_window`), :mod:`.read` (:func:`read_timings`,
:func:`detect_format`) and :mod:`.compare` (:func:`check_same_words`, :func:`check_subject_timings`).
Import from the package: ``from brainalign.io.timings import read_timings``.
"""

from __future__ import annotations

from brainalign.io.timings.bids_events import read_bids_events
from brainalign.io.timings.common import EXPECTED
from brainalign.io.timings.compare import check_same_words, check_subject_timings
from brainalign.io.timings.csv_table import read_csv_timings
from brainalign.io.timings.gentle import read_gentle
from brainalign.io.timings.read import FORMATS, detect_format, read_timings
from brainalign.io.timings.table import WORD_COLUMNS, normalize_word, read_word_table, write_word_table
from brainalign.io.timings.textgrid import NON_WORD_LABELS, parse_textgrid, read_textgrid
from brainalign.io.timings.validate import MAX_LISTED, TOLERANCE, validate_words
from brainalign.io.timings.window import cut_window

__all__ = [
    "EXPECTED", "FORMATS", "MAX_LISTED", "NON_WORD_LABELS", "TOLERANCE", "WORD_COLUMNS",
    "check_same_words", "check_subject_timings", "cut_window", "detect_format", "normalize_word",
    "parse_textgrid", "read_bids_events", "read_csv_timings", "read_gentle", "read_textgrid",
    "read_timings", "read_word_table", "validate_words", "write_word_table",
]
