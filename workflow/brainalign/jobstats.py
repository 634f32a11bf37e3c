"""Measured cost of the workflow's jobs: Snakemake ``benchmark:`` files summarised per rule.

The heavy rules write one benchmark file per job under ``<results>/benchmarks/<rule>/...`` (wall time,
peak resident memory, CPU time; with ``--benchmark-extended`` also the resources the job requested).
A user sizes SLURM requests (``mem_mb``, ``runtime``) from these measured numbers rather than guesses:
:func:`summarise_benchmarks` gives per rule the job count, the median and largest wall time, the
largest peak memory and, where the request is known, the largest ratio of peak to request.
"""

from __future__ import annotations

import ast
import math
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from brainalign.errors import InputError

#: Columns of a Snakemake benchmark file that the summary reads (the rest are ignored).
_NEEDED = ("s", "max_rss", "cpu_time")

SUMMARY_COLUMNS = ["rule", "jobs", "wall_s_median", "wall_s_max", "cpu_s_total", "max_rss_mb",
                   "requested_mem_mb", "rss_over_request", "suggested_mem_mb", "suggested_runtime_min"]


def _requested_mem(resources: object) -> float:
    """``mem_mb`` from the extended format's ``resources`` column (a dict literal), NaN when absent."""
    if not isinstance(resources, str) or not resources.strip():
        return math.nan
    try:
        parsed = ast.literal_eval(resources)
    except (ValueError, SyntaxError):
        return math.nan
    value = parsed.get("mem_mb") if isinstance(parsed, dict) else None
    return float(value) if isinstance(value, (int, float)) else math.nan


def read_benchmarks(roots: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Every benchmark file under ``<root>/**/benchmarks/<rule>/...`` as one row per job run.

    Parameters
    ----------
    roots
        Results folders (e.g. ``results/demo``, ``results/brainbench``); each is searched recursively
        for ``benchmarks`` folders.

    Returns
    -------
    pandas.DataFrame
        ``rule`` (the folder under ``benchmarks/``, or the extended format's ``rule_name``), ``job``
        (the file's path below the rule folder), ``wall_s``, ``max_rss_mb``, ``cpu_s``,
        ``requested_mem_mb`` (NaN unless ``--benchmark-extended`` recorded it) and ``file``. A job
        benchmarked with ``repeat()`` contributes one row per repeat.

    Raises
    ------
    InputError
        A benchmark file without the columns Snakemake writes (``s``, ``max_rss``, ``cpu_time``).
    """
    rows = []
    for root in map(Path, roots):
        for folder in sorted(p for p in root.rglob("benchmarks") if p.is_dir()):
            for path in sorted(folder.rglob("*.tsv")):
                # Snakemake writes "-" for a value it could not measure (e.g. memory of a job too short)
                table = pd.read_csv(path, sep="\t", na_values=["-", "NA"], quoting=3)
                missing = [c for c in _NEEDED if c not in table.columns]
                if missing:
                    raise InputError(path, f"lacks column(s) {missing}",
                                     expected="a Snakemake benchmark file (columns s, h:m:s, max_rss, ..., cpu_time)")
                relative = path.relative_to(folder)
                rule_dir = relative.parts[0] if len(relative.parts) > 1 else relative.stem
                for _, rec in table.iterrows():
                    rule = rec.get("rule_name") if isinstance(rec.get("rule_name"), str) else rule_dir
                    rows.append({"rule": rule, "job": str(Path(*relative.parts[1:]) if len(relative.parts) > 1
                                                          else relative), "wall_s": float(rec["s"]),
                                 "max_rss_mb": float(rec["max_rss"]), "cpu_s": float(rec["cpu_time"]),
                                 "requested_mem_mb": _requested_mem(rec.get("resources")), "file": str(path)})
    return pd.DataFrame(rows, columns=["rule", "job", "wall_s", "max_rss_mb", "cpu_s", "requested_mem_mb", "file"])


def summarise_benchmarks(jobs: pd.DataFrame, *, headroom: float = 1.25) -> pd.DataFrame:
    """Per-rule summary of :func:`read_benchmarks` rows, with suggested SLURM requests.

    Parameters
    ----------
    jobs
        Output of :func:`read_benchmarks`.
    headroom
        Factor over the largest measured peak memory and wall time for the suggested requests
        (memory rounded up to 100 MB, runtime to whole minutes).

    Returns
    -------
    pandas.DataFrame
        One row per rule, columns :data:`SUMMARY_COLUMNS`, the rules with the largest peak first.
        ``rss_over_request`` above 1 means a job used more memory than it asked for.
    """
    if headroom < 1:
        raise ValueError(f"headroom must be >= 1, got {headroom}")
    out = []
    for rule, group in jobs.groupby("rule", sort=True):
        peak = group["max_rss_mb"].max()
        request = group["requested_mem_mb"].max()
        ratio = (group["max_rss_mb"] / group["requested_mem_mb"]).max()
        out.append({
            "rule": rule, "jobs": int(group["job"].nunique()),
            "wall_s_median": float(group["wall_s"].median()), "wall_s_max": float(group["wall_s"].max()),
            "cpu_s_total": float(group["cpu_s"].sum()), "max_rss_mb": float(peak),
            "requested_mem_mb": float(request), "rss_over_request": float(ratio),
            "suggested_mem_mb": (int(math.ceil(peak * headroom / 100.0) * 100) if math.isfinite(peak) else None),
            "suggested_runtime_min": int(max(1, math.ceil(group["wall_s"].max() * headroom / 60.0))),
        })
    summary = pd.DataFrame(out, columns=SUMMARY_COLUMNS)
    return summary.sort_values("max_rss_mb", ascending=False, na_position="last").reset_index(drop=True)
