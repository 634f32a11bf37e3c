"""Word timings: every published format read into one word table.

The word table (``results/{ds}/words/{story}.tsv``) has one row per word and the columns
``story, word_index, word, onset, offset, flags`` (see docs/architecture.md), plus ``norm``, the
normalised form of the word used for matching (lower case, no surrounding punctuation).  ``word``
keeps punctuation and casing because it is what the language model reads.

Readers (``fmt`` of :func:`read_timings`):

``bids_events``
    BIDS ``events.tsv``.  Either a ``word`` column (rows where it is empty are not words), or
    MEG-MASC's ``trial_type`` holding a Python dict literal
    (``{'story': 'lw1', 'kind': 'word', 'word': 'Tara', ...}``); only ``kind == 'word'`` rows are kept.
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
    ``on_missing='interpolate'``.

Stories that share one alignment (Narratives' ``stimuli/gentle/slumlordreach/align.json`` holds
"slumlord" then "reach", timed from the start of the combined audio): :func:`cut_window` keeps the
words that start inside a time window of the alignment's clock and moves them to the story's own
clock (``read_timings(..., window=...)``; config ``dataset.story_runs.<story>.timings_window``).

Validation (all readers, :func:`validate_words`): NaN times, non-monotonic onsets, overlapping
words and words beyond the end of the recording raise a ``ValueError`` naming the file and row,
unless a documented handling is chosen with ``on_overlap`` / ``on_beyond_end``.
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

from brainalign.io.store import atomic_write_table

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

    Words are read as strings verbatim: "NA", "null" or "nan" are words, not missing values.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If a required column is missing or a time is not a number, naming the file and column.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: word table not found (expected the output of rule 'words')")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    missing = [c for c in WORD_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: word table lacks column(s) {missing}; expected {WORD_COLUMNS}")
    out = df.copy()
    for col in ("onset", "offset"):
        try:
            out[col] = pd.to_numeric(out[col]).astype(np.float64)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: column '{col}' must hold numbers (seconds): {err}") from None
    out["word_index"] = pd.to_numeric(out["word_index"]).astype(np.int64)
    if "norm" not in out.columns:
        out["norm"] = [normalize_word(w) for w in out["word"]]
    return out[WORD_COLUMNS + ["norm"] + [c for c in out.columns if c not in WORD_COLUMNS + ["norm"]]]


def write_word_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a word table atomically as TSV (columns of the contract first, then ``norm``).

    Raises
    ------
    ValueError
        If a column of the contract is missing.
    """
    missing = [c for c in WORD_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: cannot write word table without column(s) {missing}")
    out = df.copy()
    if "norm" not in out.columns:
        out["norm"] = [normalize_word(w) for w in out["word"]]
    out["flags"] = out["flags"].fillna("").astype(str)
    extra = [c for c in out.columns if c not in WORD_COLUMNS + ["norm"]]
    # repr-exact floats: onsets survive a write/read round trip bit for bit.
    for col in ("onset", "offset"):
        out[col] = [repr(float(v)) for v in out[col]]
    return atomic_write_table(out[WORD_COLUMNS + ["norm"] + extra], path, sep="\t")


# ------------------------------------------------------------------------------------ validation
def validate_words(
    df: pd.DataFrame,
    source: str | os.PathLike = "<table>",
    *,
    duration: float | None = None,
    on_overlap: str = "error",
    on_beyond_end: str = "error",
    tolerance: float = TOLERANCE,
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
        ``"error"`` (default) raises; ``"warn"`` logs and keeps the words as they are; ``"clip"``
        ends an overlapping word at the next onset (flag ``clipped``) and drops words whose onset
        goes backwards; ``"drop"`` drops every word that starts before the end of the previous kept
        word.  Dropped words are logged.
    on_beyond_end
        ``"error"`` (default), ``"drop"`` (log and drop) or ``"warn"`` (log and keep).
    tolerance
        Seconds of overlap tolerated (forced aligners round to 10 ms).

    Raises
    ------
    ValueError
        Naming ``source`` and the row (word index and word) at fault.
    """
    for name, value, allowed in (("on_overlap", on_overlap, ("error", "warn", "clip", "drop")),
                                 ("on_beyond_end", on_beyond_end, ("error", "warn", "drop"))):
        if value not in allowed:
            raise ValueError(f"{name}={value!r}: expected one of {allowed}")
    df = df.reset_index(drop=True).copy()
    if df.empty:
        raise ValueError(f"{source}: no words found")
    on, off = df["onset"].to_numpy(float, copy=True), df["offset"].to_numpy(float, copy=True)
    bad = ~np.isfinite(on) | ~np.isfinite(off)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{source}: word {i} ({df['word'][i]!r}) has no onset/offset (NaN); "
                         "choose on_missing='interpolate' (csv) or fix the file")
    neg = off < on - tolerance
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ValueError(f"{source}: word {i} ({df['word'][i]!r}) ends before it starts "
                         f"(onset {on[i]:.3f} s, offset {off[i]:.3f} s)")

    def describe(i: int, kind: str) -> str:
        return (f"{source}: {kind} at word {i} ({df['word'][i]!r}, onset {on[i]:.3f} s) after word {i - 1} "
                f"({df['word'][i - 1]!r}, onset {on[i - 1]:.3f} s, offset {off[i - 1]:.3f} s)")

    backwards = np.r_[False, on[1:] < on[:-1] - tolerance]
    overlap = np.r_[False, on[1:] < off[:-1] - tolerance] & ~backwards
    if backwards.any() or overlap.any():
        first = int(np.flatnonzero(backwards | overlap)[0])
        kind = "non-monotonic onset" if backwards[first] else "overlapping words"
        msg = describe(first, kind)
        n_issue = int(backwards.sum() + overlap.sum())
        if on_overlap == "error":
            raise ValueError(msg + f" ({n_issue} such word(s)); set on_overlap to 'warn', 'clip' or 'drop' to accept")
        if on_overlap == "warn":
            log.warning("%s (%d such word(s)); kept as is", msg, n_issue)
        else:
            keep = np.ones(len(df), bool)
            last_on, last_off, last_i = -np.inf, -np.inf, -1
            for i in range(len(df)):
                if on[i] < last_on - tolerance:
                    keep[i] = False
                    continue
                if on[i] < last_off - tolerance:
                    if on_overlap == "drop":
                        keep[i] = False
                        continue
                    off[last_i] = on[i]
                    _add_flag(df, np.arange(len(df)) == last_i, "clipped")
                last_on, last_off, last_i = on[i], off[i], i
            df["offset"] = off
            if (~keep).any():
                log.warning("%s: dropped %d word(s) with %s onsets (first: %s)", source, int((~keep).sum()),
                            "overlapping/non-monotonic", msg)
            df = df[keep].reset_index(drop=True)
            on, off = df["onset"].to_numpy(float, copy=True), df["offset"].to_numpy(float, copy=True)

    if duration is not None:
        beyond = on >= duration
        if beyond.any():
            i = int(np.flatnonzero(beyond)[0])
            msg = (f"{source}: {int(beyond.sum())} word(s) start at or after the end of the recording "
                   f"({duration:.3f} s), first word {i} ({df['word'][i]!r}) at {on[i]:.3f} s")
            if on_beyond_end == "error":
                raise ValueError(msg + "; set on_beyond_end to 'drop' or 'warn' to accept")
            log.warning("%s; %s", msg, "dropped" if on_beyond_end == "drop" else "kept")
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


def _parse_dict_literal(text: str, where: str) -> dict:
    """Parse MEG-MASC's ``trial_type`` (a Python dict literal, possibly with bare ``nan``)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:  # bare nan/inf are not literals; they only appear as values
            value = ast.literal_eval(re.sub(r"(?<![\w'\"])(nan|inf)(?![\w'\"])", "None", text))
        except (ValueError, SyntaxError) as err:
            raise ValueError(f"{where}: trial_type is not a dict literal ({err}): {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where}: trial_type is not a dict literal: {text[:80]!r}")
    return value


def read_bids_events(
    path: str | os.PathLike,
    *,
    story: str | None = None,
    word_column: str = "word",
    trial_type: str | None = None,
    kind: str = "word",
    **_: object,
) -> pd.DataFrame:
    """Word rows of a BIDS ``events.tsv``.

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
        Plain events: keep only rows with this ``trial_type`` (e.g. ``"word"``); default: every row
        with a non-empty word.
    kind
        MEG-MASC dicts: the ``kind`` of rows to keep.

    Returns
    -------
    pandas.DataFrame
        Word table; offset = onset + duration, or the next onset where duration is n/a.
    """
    path = Path(path)
    ev = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    if "onset" not in ev.columns:
        raise ValueError(f"{path}: BIDS events file without an 'onset' column (columns: {list(ev.columns)})")
    story_name = story
    if word_column in ev.columns:
        rows = ev[ev[word_column].str.strip() != ""]
        if trial_type is not None and "trial_type" in ev.columns:
            rows = rows[rows["trial_type"] == trial_type]
        words = rows[word_column].str.strip().tolist()
    elif "trial_type" in ev.columns and ev["trial_type"].str.lstrip().str.startswith("{").any():
        dicts, keep = [], []
        for i, text in enumerate(ev["trial_type"]):
            if not text.lstrip().startswith("{"):
                continue
            d = _parse_dict_literal(text, f"{path}, row {i + 2}")
            if d.get("kind") == kind:
                dicts.append(d)
                keep.append(i)
        rows = ev.iloc[keep]
        stories = [str(d.get("story", "")) for d in dicts]
        if story is not None and story in stories:
            mask = np.array([s == story for s in stories])
            rows, dicts = rows[mask], [d for d, m in zip(dicts, mask) if m]
        elif story is None and stories and len(set(stories)) == 1 and stories[0]:
            story_name = stories[0]
        words = [str(d.get("word", "")).strip() for d in dicts]
        if any(w == "" for w in words):
            i = words.index("")
            raise ValueError(f"{path}: a kind={kind!r} row (row {rows.index[i] + 2}) has no 'word' key in trial_type")
    else:
        raise ValueError(f"{path}: no '{word_column}' column and no dict-like 'trial_type' "
                         f"(MEG-MASC style); columns: {list(ev.columns)}")
    if len(rows) == 0:
        raise ValueError(f"{path}: no word events found")
    onset = pd.to_numeric(rows["onset"], errors="coerce").to_numpy(float)
    if np.isnan(onset).any():
        i = int(np.flatnonzero(np.isnan(onset))[0])
        raise ValueError(f"{path}: row {rows.index[i] + 2}: onset {rows['onset'].iloc[i]!r} is not a number")
    if "duration" in rows.columns:
        duration = pd.to_numeric(rows["duration"], errors="coerce").to_numpy(float)
    else:
        duration = np.full(len(rows), np.nan)
    nxt = np.r_[onset[1:], np.nan]
    offset = np.where(np.isfinite(duration), onset + np.nan_to_num(duration), nxt)
    if np.isnan(offset[-1]):
        offset[-1] = onset[-1] + (np.nanmedian(np.diff(onset)) if len(onset) > 1 else 0.3)
    return _table(story_name or _story_from_path(path), words, onset, offset)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# Tokens of a Praat text file: quoted strings ("" escapes a quote), <flags>, numbers.  Bracketed
# indices of the long format (``item [1]:``) and the labels (``xmin =``) are not values.
_PRAAT_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(\[\s*\d*\s*\])|(<exists>|<absent>)|'
                          r"(?<![\w.])([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])|(![^\n]*)")


def _praat_tokens(text: str) -> list:
    out = []
    for m in _PRAAT_TOKEN.finditer(text):
        string, index, flag, number, comment = m.groups()
        if string is not None:
            out.append(string.replace('""', '"'))
        elif flag is not None:
            out.append(flag)
        elif number is not None:
            out.append(float(number))
    return out


def parse_textgrid(path: str | os.PathLike) -> dict[str, list[tuple[float, float, str]]]:
    """All interval tiers of a Praat TextGrid (long or short text format).

    Returns
    -------
    dict
        Tier name -> list of ``(xmin, xmax, text)``; point tiers are skipped.

    Raises
    ------
    ValueError
        If the file is not a text TextGrid, naming the file.
    """
    path = Path(path)
    tokens = _praat_tokens(_read_text(path))
    if len(tokens) < 2 or tokens[0] != "ooTextFile" or tokens[1] != "TextGrid":
        raise ValueError(f"{path}: not a Praat TextGrid text file (expected 'File type = \"ooTextFile\"' "
                         "and 'Object class = \"TextGrid\"'; binary TextGrids are not supported)")
    pos = 2

    def take(kind, what):
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"{path}: TextGrid ends early while reading {what}")
        value = tokens[pos]
        if kind is float and not isinstance(value, float) or kind is str and not isinstance(value, str):
            raise ValueError(f"{path}: malformed TextGrid: expected {what}, found {value!r}")
        pos += 1
        return value

    take(float, "xmin"), take(float, "xmax")
    if take(str, "<exists>") != "<exists>":
        return {}
    n_tiers = int(take(float, "number of tiers"))
    tiers: dict[str, list] = {}
    for _ in range(n_tiers):
        cls = take(str, "tier class")
        name = take(str, "tier name")
        take(float, "tier xmin"), take(float, "tier xmax")
        n = int(take(float, "number of intervals/points"))
        if cls == "IntervalTier":
            tiers[name] = [(take(float, "interval xmin"), take(float, "interval xmax"), take(str, "interval text"))
                           for _ in range(n)]
        elif cls == "TextTier":
            for _ in range(n):
                take(float, "point time"), take(str, "point mark")
        else:
            raise ValueError(f"{path}: unknown tier class {cls!r}")
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
    ValueError
        If the tier is absent (the message lists the tiers present).
    """
    path = Path(path)
    tiers = parse_textgrid(path)
    wanted = {tier.lower()}
    if tier.lower() in ("word", "words"):
        wanted |= {"word", "words"}
    names = [n for n in tiers if n.strip().lower() == tier.lower()] or \
            [n for n in tiers if n.strip().lower() in wanted]
    if not names:
        raise ValueError(f"{path}: no interval tier named {tier!r}; tiers present: {list(tiers)}")
    skip = {s.lower() for s in skip_labels}
    intervals = [(a, b, t.strip()) for a, b, t in tiers[names[0]] if t.strip().lower() not in skip]
    if not intervals:
        raise ValueError(f"{path}: tier {names[0]!r} holds no words")
    a, b, t = zip(*intervals)
    return _table(story or _story_from_path(path), t, a, b)


def _interpolate_missing(on: np.ndarray, off: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill NaN onsets/offsets: each run of missing words shares the gap between its aligned
    neighbours equally; leading/trailing runs extend outwards at the median aligned word duration."""
    on, off = on.astype(float).copy(), off.astype(float).copy()
    missing = ~np.isfinite(on) | ~np.isfinite(off)
    if missing.all():
        raise ValueError(f"{where}: no word has a time; nothing to interpolate from")
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


def read_gentle(path: str | os.PathLike, *, story: str | None = None, **_: object) -> pd.DataFrame:
    """Words of a Gentle ``align.json``; unaligned words get interpolated times (flag ``interpolated``).

    The text of each word is the transcript span from its ``startOffset`` widened to the
    surrounding whitespace, so attached punctuation (``"Hello,``) is kept for the language model.
    """
    path = Path(path)
    try:
        doc = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(doc, dict) or "words" not in doc:
        raise ValueError(f"{path}: not a Gentle alignment (expected a JSON object with 'words')")
    transcript = doc.get("transcript")
    # One entry per whitespace-delimited transcript token: Gentle splits some tokens (hyphens,
    # numbers) into several items that share one span; they are merged back into one word.
    words: list[str] = []
    on: list[float] = []
    off: list[float] = []
    spans: list[tuple[int, int] | None] = []
    for i, w in enumerate(doc["words"]):
        if "word" not in w:
            raise ValueError(f"{path}: words[{i}] has no 'word' key")
        if w.get("case") == "not-found-in-transcript":
            continue  # heard in the audio but not part of the text the model reads
        text, span = str(w["word"]), None
        if transcript is not None and "startOffset" in w and "endOffset" in w:
            a, b = int(w["startOffset"]), int(w["endOffset"])
            while a > 0 and not transcript[a - 1].isspace():
                a -= 1
            while b < len(transcript) and not transcript[b].isspace():
                b += 1
            span = (a, b)
            text = transcript[a:b].strip() or text
        aligned = w.get("case") == "success" and "start" in w and "end" in w
        t0 = float(w["start"]) if aligned else np.nan
        t1 = float(w["end"]) if aligned else np.nan
        if span is not None and spans and spans[-1] == span:
            on[-1] = np.nanmin([on[-1], t0]) if np.isfinite([on[-1], t0]).any() else np.nan
            off[-1] = np.nanmax([off[-1], t1]) if np.isfinite([off[-1], t1]).any() else np.nan
            continue
        words.append(text)
        on.append(t0)
        off.append(t1)
        spans.append(span)
    if not words:
        raise ValueError(f"{path}: no words in the alignment")
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
    """
    path = Path(path)
    if on_missing not in ("error", "interpolate", "drop"):
        raise ValueError(f"on_missing={on_missing!r}: expected 'error', 'interpolate' or 'drop'")
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False)
    lower = {c.strip().lower(): c for c in table.columns}
    cols = {}
    for key, names in _CSV_SYNONYMS.items():
        if columns and key in columns:
            if columns[key] not in table.columns:
                raise ValueError(f"{path}: column {columns[key]!r} (for {key}) not found; columns: {list(table.columns)}")
            cols[key] = columns[key]
        else:
            cols[key] = next((lower[n] for n in names if n in lower), None)
    for key in ("word", "onset"):
        if cols[key] is None:
            raise ValueError(f"{path}: no {key} column (looked for {_CSV_SYNONYMS[key]}); "
                             f"columns: {list(table.columns)}; pass columns={{'{key}': ...}}")
    words = table[cols["word"]].str.strip()
    table = table[words != ""]
    words = words[words != ""].tolist()

    def numbers(col: str) -> np.ndarray:
        vals = pd.to_numeric(table[col].str.strip().replace("", "nan"), errors="coerce")
        bad = vals.isna() & ~table[col].str.strip().str.lower().isin(["", "nan", "n/a", "na", "none"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{path}: row {table.index[i] + 2}: {col}={table[col].iloc[i]!r} is not a number")
        return vals.to_numpy(float) * time_scale

    on = numbers(cols["onset"])
    off = numbers(cols["offset"]) if cols["offset"] else np.r_[on[1:], np.nan]
    if cols["offset"] is None and len(on):
        off[-1] = on[-1] + 0.3 if np.isfinite(on[-1]) else np.nan
    missing = ~np.isfinite(on)
    off = np.where(missing, np.nan, off)
    if missing.any():
        rows = (table.index[missing] + 2).tolist()
        if on_missing == "error":
            raise ValueError(f"{path}: {int(missing.sum())} row(s) without an onset (first: row {rows[0]}); "
                             "set on_missing to 'interpolate' or 'drop'")
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
    raise ValueError(f"{path}: cannot tell the timing format from the name; pass fmt= one of {FORMATS}")


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
    FileNotFoundError, ValueError
        Naming the file (and row) at fault.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: word-timing file not found")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in _READERS:
        raise ValueError(f"fmt={fmt!r}: expected 'auto' or one of {FORMATS}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=pd.errors.DtypeWarning)
        df = _READERS[fmt](path, story=story, **kw)
    if window is not None:
        df = cut_window(df, window, offset=shift, source=path, field=window_field)
    elif shift:
        df["onset"] += float(shift)
        df["offset"] += float(shift)
    return validate_words(df, path, duration=duration, on_overlap=on_overlap, on_beyond_end=on_beyond_end)


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
        The subject's word table (named in the error when given).

    Raises
    ------
    ValueError
        Naming the file, subject, story, the first differing word index and both words.
    """
    expected, found = [str(w) for w in expected], [str(w) for w in found]
    if expected == found:
        return
    n = min(len(expected), len(found))
    first = next((i for i in range(n) if expected[i] != found[i]), n)
    story_word = repr(expected[first]) if first < len(expected) else "<end of story>"
    subject_word = repr(found[first]) if first < len(found) else "<end of table>"
    where = f"{source}: " if source is not None else ""
    raise ValueError(
        f"{where}subject {subject}, story {story}: the subject's words differ from the story's "
        f"({len(found)} vs {len(expected)} words); first difference at word {first}: story {story_word}, "
        f"subject {subject_word}.  Per-subject tables must list the story's words (only the onsets differ)")
