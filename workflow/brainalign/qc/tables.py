"""Result tables for the report: a TSV or a set of JSON summaries -> a small self-contained HTML table.

Snakemake's report (9.x) shows images, PDFs and HTML inline but offers other files (TSV, CSV) only
as a download; an HTML rendering puts the numbers on the report page itself.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.io.tsv import read_bids_tsv

_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 12px; font-size: 13px; }
h3 { margin: 0 0 4px 0; } p.source { color: #555; margin: 0 0 8px 0; font-size: 12px; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; position: sticky; top: 0; } td.text, th.text { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
"""


def _format(value: object, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        return "n/a" if not np.isfinite(value) else f"{value:.{digits}g}"
    return str(value)


def table_html(table: pd.DataFrame, title: str, source: str = "", digits: int = 4, max_rows: int = 500) -> str:
    """A table as one HTML page (inline CSS, no scripts).

    Parameters
    ----------
    table
        The rows to show (at most ``max_rows``; the page says how many were left out).
    title
        Heading of the page.
    source
        The file(s) the table was read from, named under the heading.
    digits
        Significant digits of floating-point cells.
    max_rows
        Rows shown.
    """
    shown = table.head(max_rows)
    text_cols = {c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])}
    head = "".join(f'<th class="{"text" if c in text_cols else "num"}">{html.escape(str(c))}</th>'
                   for c in table.columns)
    rows = []
    for _, row in shown.iterrows():
        cells = "".join(f'<td class="{"text" if c in text_cols else "num"}">{html.escape(_format(row[c], digits))}</td>'
                        for c in table.columns)
        rows.append(f"<tr>{cells}</tr>")
    more = (f"<p class=\"source\">{len(table) - max_rows} more rows in the file</p>" if len(table) > max_rows else "")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h3>{html.escape(title)}</h3>"
            f"<p class=\"source\">{html.escape(source)} &middot; {len(table)} rows</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}</body></html>")


def read_table(paths: Sequence[str | os.PathLike], labels: Sequence[Mapping] | None = None) -> pd.DataFrame:
    """Rows of one or several TSV tables (or JSON summaries: one row each, nested values flattened).

    Parameters
    ----------
    paths
        ``.tsv`` (BIDS-style, read with :func:`brainalign.io.tsv.read_bids_tsv`) or ``.json`` files.
    labels
        Per file, columns put in front of its rows (e.g. ``{"model": ..., "modality": ...}``).
    """
    frames = []
    for i, path in enumerate(paths):
        path = Path(path)
        if path.suffix == ".json":
            with open(path, encoding="utf-8") as fh:
                frame = pd.json_normalize(json.load(fh), sep=".")
            # lists and dicts left after flattening (per-item arrays) do not belong in a summary row
            frame = frame[[c for c in frame.columns if not isinstance(frame[c].iloc[0], (list, dict))]]
        else:
            # BIDS TSVs are read as text (n/a kept missing): columns of numbers become numbers again,
            # so that they are right-aligned and rounded
            frame = read_bids_tsv(path, what="result table")
            # some tables leave a missing value blank rather than n/a
            frame = frame.replace("", np.nan)
            for col in frame.columns:
                numbers = pd.to_numeric(frame[col], errors="coerce")
                labels_like = frame[col].dropna().astype(str).str.match(r"^-?0\d").any()  # '01': a label
                if not labels_like and numbers.notna().sum() == frame[col].notna().sum():
                    frame[col] = numbers
        for key, value in reversed(list((labels[i] if labels else {}).items())):
            # the plan's label wins over a same-named field of the file (BrainBench summaries carry `model`)
            frame = frame.drop(columns=key) if key in frame.columns else frame
            frame.insert(0, key, value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_table_html(paths: Sequence[str | os.PathLike], out: str | os.PathLike, title: str,
                     labels: Sequence[Mapping] | None = None, columns: Sequence[str] | None = None,
                     prefer: Sequence[str] | None = None) -> Path:
    """Read ``paths`` (:func:`read_table`), keep ``columns`` (all when ``None``) and write the HTML page.

    ``prefer`` instead keeps those of its columns that the tables have (with the ``labels`` columns),
    for summaries whose optional fields vary (e.g. BrainBench's ``isolated.*``); an entry ending in
    ``.`` keeps every flattened field under that key (``"calibration."``).

    Raises
    ------
    brainalign.errors.InputError
        A ``columns`` entry missing from the tables, naming the file(s) and the columns found.
    """
    from brainalign.errors import InputError

    table = read_table(paths, labels)
    if columns is not None:
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise InputError(", ".join(map(str, paths)), f"column(s) {missing} missing (found {list(table.columns)})",
                             field=", ".join(missing), expected=f"columns {list(columns)}")
        table = table[list(columns)]
    elif prefer is not None:
        front = list(dict.fromkeys(k for lab in (labels or []) for k in lab))
        wanted = [*front, *(c for p in prefer for c in ([p] if not p.endswith(".") else
                                                         [c for c in table.columns if c.startswith(p)]))]
        table = table[[c for c in dict.fromkeys(wanted) if c in table.columns]]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table_html(table, title, source=", ".join(map(str, paths))), encoding="utf-8")
    return out
