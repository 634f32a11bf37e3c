"""Praat TextGrid word timings (:func:`read_textgrid`, :func:`parse_textgrid`).

Long ("ooTextFile" with ``xmin = ...`` labels) or short text format, UTF-8 or UTF-16; the interval
tier is chosen by name (``tier``); silences/noise labels are skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

import pandas as pd

from brainalign.errors import InputError
from brainalign.io.timings.common import log_left_out, read_text, story_from_path
from brainalign.io.timings.table import make_word_table

#: Labels that mark silence, noise or breath in forced-alignment tiers (compared case-insensitively).
NON_WORD_LABELS = frozenset({"", "sp", "sil", "sl", "{sl}", "{lg}", "{ns}", "{br}", "{cg}", "{ls}",
                             "<sil>", "<sp>", "<unk>", "#", "spn"})

# indices of the long format (``item [1]:``) and the labels (``xmin =``) are not values.
_PRAAT_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(\[\s*\d*\s*\])|(<exists>|<absent>)|'
                          r"(?<![\w.])([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])|(![^\n]*)")
# Long-format lines whose value must be a number, and lines whose value must be a quoted string.
_PRAAT_NUMBER_LINE = re.compile(r"^\s*(xmin|xmax|number|time|size|intervals:\s*size|points:\s*size)\s*=\s*(.*?)\s*$")
_PRAAT_STRING_LINE = re.compile(r"^\s*(class|name|text|mark)\s*=\s*(.*?)\s*$")
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


def _check_praat_lines(text: str, path: Path) -> None:
    """Every value line of a TextGrid is a number, a quoted string or a flag (else the token stream
    would silently shift: ``xmin = 1,5`` or ``xmin = abc`` are not numbers for Praat either)."""
    lines = text.splitlines()
    long_format = any(_PRAAT_NUMBER_LINE.match(line) for line in lines[:40])
    inside = False  # inside a quoted string that spans lines ("" escapes a quote: parity counts)
    for number, line in enumerate(lines, start=1):
        starts_inside = inside
        inside = inside ^ (line.count('"') % 2 == 1)
        if starts_inside or number <= 2:
            continue
        stripped = line.strip()
        if long_format:
            m = _PRAAT_NUMBER_LINE.match(line)
            if m and not _NUMBER.match(m.group(2)):
                raise InputError(path, f"malformed TextGrid: {m.group(1)} = {m.group(2)[:40]!r} is not a number",
                                 field=f"line {number}", expected="a number (seconds or a count; '.' as decimal point)")
            m = _PRAAT_STRING_LINE.match(line)
            if m and not m.group(2).startswith('"'):
                raise InputError(path, f"malformed TextGrid: {m.group(1)} = {m.group(2)[:40]!r} is not a quoted string",
                                 field=f"line {number}", expected='a value in double quotes ("" for a quote inside)')
        elif stripped and not (_NUMBER.match(stripped) or stripped.startswith(('"', "!", "<exists>", "<absent>"))):
            raise InputError(path, f"malformed TextGrid (short format): {stripped[:40]!r} is neither a number nor a "
                             "quoted string", field=f"line {number}", expected="one number or quoted string per line")


def _praat_tokens(text: str) -> list[tuple[object, int]]:
    """Values of a Praat text file with the line each starts on."""
    out = []
    line, last = 1, 0
    for m in _PRAAT_TOKEN.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        string, index, flag, number, comment = m.groups()
        if string is not None:
            out.append((string.replace('""', '"'), line))
        elif flag is not None:
            out.append((flag, line))
        elif number is not None:
            out.append((float(number), line))
    return out


def parse_textgrid(path: str | os.PathLike) -> dict[str, list[tuple[float, float, str]]]:
    """All interval tiers of a Praat TextGrid (long or short text format).

    Returns
    -------
    dict
        Tier name -> list of ``(xmin, xmax, text)``; point tiers are skipped.

    Raises
    ------
    MissingInputError
        The file is missing or empty.
    InputError
        If the file is not a text TextGrid, or a value is malformed or missing, naming the file
        and the line.
    """
    path = Path(path)
    text = read_text(path, "textgrid")
    _check_praat_lines(text, path)
    tokens = _praat_tokens(text)
    if len(tokens) < 2 or tokens[0][0] != "ooTextFile" or tokens[1][0] != "TextGrid":
        raise InputError(path, "not a Praat TextGrid text file",
                         expected="'File type = \"ooTextFile\"' and 'Object class = \"TextGrid\"' "
                                  "(binary TextGrids are not supported)")
    pos = 2
    n_lines = text.count("\n") + 1

    def take(kind, what):
        nonlocal pos
        if pos >= len(tokens):
            raise InputError(path, f"TextGrid ends early while reading {what}", field=f"line {n_lines}",
                             expected="a complete TextGrid (every tier holds the number of intervals it declares)")
        value, line = tokens[pos]
        if kind is float and not isinstance(value, float) or kind is str and not isinstance(value, str):
            raise InputError(path, f"malformed TextGrid: found {value!r} where {what} should be", field=f"line {line}",
                             expected=f"{what} as {'a number' if kind is float else 'a quoted string'}")
        pos += 1
        return value

    def count(what):
        value = take(float, what)
        if value < 0 or value != int(value):
            raise InputError(path, f"malformed TextGrid: {what} is {value:g}", field=f"line {tokens[pos - 1][1]}",
                             expected="a non-negative whole number")
        return int(value)

    take(float, "xmin"), take(float, "xmax")
    if take(str, "<exists>") != "<exists>":
        return {}
    n_tiers = count("number of tiers")
    tiers: dict[str, list] = {}
    for _ in range(n_tiers):
        cls = take(str, "tier class")
        name = take(str, "tier name")
        take(float, "tier xmin"), take(float, "tier xmax")
        n = count("number of intervals/points")
        if cls == "IntervalTier":
            tiers[name] = [(take(float, "interval xmin"), take(float, "interval xmax"), take(str, "interval text"))
                           for _ in range(n)]
        elif cls == "TextTier":
            for _ in range(n):
                take(float, "point time"), take(str, "point mark")
        else:
            raise InputError(path, f"unknown tier class {cls!r}", field=f"line {tokens[pos - 5][1]}",
                             expected="'IntervalTier' or 'TextTier'")
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
    InputError
        If the tier is absent (the message lists the tiers present) or holds no words; see
        :func:`parse_textgrid` for damaged files.
    """
    path = Path(path)
    tiers = parse_textgrid(path)
    wanted = {tier.lower()}
    if tier.lower() in ("word", "words"):
        wanted |= {"word", "words"}
    names = [n for n in tiers if n.strip().lower() == tier.lower()] or \
            [n for n in tiers if n.strip().lower() in wanted]
    if not names:
        raise InputError(path, f"no interval tier named {tier!r}; tiers present: {list(tiers)}",
                         expected="an interval tier of words", hint="set dataset.timings.tier")
    skip = {s.lower() for s in skip_labels}
    intervals = [(a, b, t.strip()) for a, b, t in tiers[names[0]] if t.strip().lower() not in skip]
    log_left_out(path, {"silence/noise interval(s)": len(tiers[names[0]]) - len(intervals)}, len(tiers[names[0]]))
    if not intervals:
        raise InputError(path, f"tier {names[0]!r} holds no words (only silence/noise labels or empty intervals)",
                         expected="an interval tier of words")
    a, b, t = zip(*intervals)
    return make_word_table(story or story_from_path(path), t, a, b)
