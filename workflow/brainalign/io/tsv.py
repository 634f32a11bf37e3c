"""BIDS tabular files read and written as BIDS defines them.

A BIDS ``.tsv`` is one header line and one line per row, fields separated by single tab characters;
missing values are ``n/a``.  There is **no quoting**: a double quote is an ordinary character
(a word ``"Keep`` in an events file is the word ``"Keep``).  pandas' default CSV dialect treats such a
quote as the start of a quoted field and silently swallows the following rows, so every BIDS table
(events, channels, electrodes, confounds, participants, scans) is read here, line by line, and a
line whose field count differs from the header's is an error naming the file and the line rather
than a silently shifted table.

Functions
---------
read_bids_tsv(path, ...)     the table as strings (``n/a`` -> missing), with checks naming file and line
write_bids_tsv(df, path)     atomic write, no quoting, missing -> ``n/a``
numeric_column(df, col, ...) a column as float, an error naming file, column and row otherwise
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from brainalign.errors import InputError, MissingInputError
from brainalign.io.store import atomic_write_text

#: The BIDS missing-value marker.
NA = "n/a"


def read_bids_tsv(
    path: str | os.PathLike,
    *,
    what: str = "BIDS table",
    required: Iterable[str] = (),
    na: bool = True,
    allow_empty: bool = True,
) -> pd.DataFrame:
    """Read a BIDS TSV file: tab-separated, no quoting, ``n/a`` for missing values.

    Parameters
    ----------
    path
        The file (``.tsv``; a ``.tsv.gz`` is decompressed).
    what
        What the file is (``"events file"``, ``"channels.tsv"``), used in messages.
    required
        Columns that must be present.
    na
        Turn ``n/a`` fields into missing values (``None``); ``False`` keeps the text ``"n/a"``.
    allow_empty
        Accept a file with a header and no rows (an empty table); ``False`` makes it an error.

    Returns
    -------
    pandas.DataFrame
        Every column as ``object`` (strings, ``None`` for ``n/a``), in file order, with the
        attribute ``df.attrs["source"]`` set to ``str(path)``.

    Raises
    ------
    MissingInputError
        The file does not exist or is empty (0 bytes, or no header line).
    InputError
        A row with more or fewer fields than the header, a duplicated or empty column name, a
        missing required column, or a file that is not UTF-8 text -- each naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, f"{what} not found")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(path, f"{what} is not UTF-8 text (byte {err.start})",
                         expected="a UTF-8 tab-separated BIDS table") from None
    lines = text.splitlines()
    # Trailing blank lines are common (editors add them) and carry no row.
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise MissingInputError(path, f"{what} is empty (0 bytes or no header line)",
                                expected="a header line of tab-separated column names, then one line per row")
    header = lines[0].split("\t")
    if len(header) == 1 and ("," in header[0] or ";" in header[0]):
        sep = "," if "," in header[0] else ";"
        raise InputError(path, f"{what} has no tab in its header line (it looks '{sep}'-separated: {header[0][:80]!r})",
                         expected="tab-separated values (BIDS TSV)")
    header = [h.strip() for h in header]
    if any(not h for h in header):
        raise InputError(path, f"{what} has an empty column name in its header line", field="line 1",
                         expected="a name for every tab-separated column")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(path, f"{what} has duplicated column name(s) {dupes}", field="line 1",
                         expected="unique column names")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            if not line.strip():
                raise InputError(path, f"{what} has a blank line inside the table", field=f"line {number}",
                                 expected="one line per row, no blank lines")
            raise InputError(path, f"{what} row has {len(fields)} tab-separated field(s) but the header has "
                             f"{len(header)}: {line[:120]!r}", field=f"line {number}",
                             expected="the same number of fields on every line (BIDS TSV has no quoting; "
                                      "a value may not contain a tab or a line break)")
        rows.append([None if (na and f == NA) else f for f in fields])
    if not rows and not allow_empty:
        raise MissingInputError(path, f"{what} has a header but no rows", expected="at least one row")
    df = pd.DataFrame(rows, columns=header, dtype=object)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(path, f"{what} lacks column(s) {missing}; it has {header}", field="header",
                         expected=f"columns {list(required)}")
    df.attrs["source"] = str(path)
    return df


def numeric_column(df: pd.DataFrame, column: str, *, source: str | os.PathLike | None = None,
                   expected: str = "a number", allow_missing: bool = False) -> np.ndarray:
    """A column of a table read by :func:`read_bids_tsv` as float64.

    Parameters
    ----------
    df, column
        The table and the column.
    source
        File named in messages (default ``df.attrs["source"]``).
    expected
        What a value means, for messages (``"seconds from the start of the recording"``).
    allow_missing
        ``n/a`` (missing) becomes NaN; otherwise it is an error.

    Raises
    ------
    InputError
        A value that is not a number (or missing, unless allowed), naming the file, column, line and value.
    """
    source = source if source is not None else df.attrs.get("source", "<table>")
    if column not in df.columns:
        raise InputError(source, f"no column '{column}'; columns: {list(df.columns)}", expected=f"a column '{column}'")
    out = np.empty(len(df), dtype=np.float64)
    for i, value in enumerate(df[column].tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            if not allow_missing:
                raise InputError(source, "missing value (n/a)", field=f"column '{column}', line {i + 2}",
                                 expected=expected)
            out[i] = np.nan
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            raise InputError(source, f"{value!r} is not a number", field=f"column '{column}', line {i + 2}",
                             expected=expected) from None
    return out


def write_bids_tsv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as a BIDS TSV atomically: tabs, no quoting, missing values as ``n/a``.

    Raises
    ------
    ValueError
        A value (or column name) containing a tab or a line break, which BIDS TSV cannot hold.
    """
    path = Path(path)

    def cell(value: object, column: str, row: int) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return NA
        text = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
        if "\t" in text or "\n" in text or "\r" in text:
            raise ValueError(f"{path}: column '{column}', row {row}: {text[:60]!r} holds a tab or line break, "
                             "which a BIDS TSV value cannot")
        return text

    columns = [str(c) for c in df.columns]
    for c in columns:
        cell(c, c, 0)
    lines = ["\t".join(columns)]
    for i, values in enumerate(df.itertuples(index=False, name=None), start=1):
        lines.append("\t".join(cell(v, c, i) for v, c in zip(values, columns)))
    return atomic_write_text(path, "\n".join(lines) + "\n")
