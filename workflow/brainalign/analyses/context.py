"""Brain score as a function of the language model's context length, per region.

Each context length has its own Scores dataset (features extracted with ``mode="fixed"`` and
``context=c`` tokens, then encoded).  A region's brain score at context ``c`` is the score at its
best layer for that context (the argmax of the subject-mean profile), per subject — the same
definition as :func:`brainalign.analyses.comparison.peak_scores`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from .comparison import peak_scores
from .units import LagReduce, subject_stats


def context_scores(scores_by_context: Mapping[int, xr.Dataset], *, var: str = "r", by: str | None = "region",
                   lag_reduce: LagReduce = "mean") -> pd.DataFrame:
    """Per context length, unit and subject: the brain score at the best layer.

    Returns
    -------
    pd.DataFrame
        ``context, <unit>, subject, layer, relative_depth, score``.
    """
    if not scores_by_context:
        raise ValueError("context_scores needs at least one context length")
    frames = []
    for c in sorted(scores_by_context, key=int):
        if int(c) < 0:
            raise ValueError(f"context lengths must be >= 0 tokens, got {c}")
        df = peak_scores(scores_by_context[c], var=var, by=by, lag_reduce=lag_reduce).drop(columns="model")
        df.insert(0, "context", int(c))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def context_profile(table: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Across-subject summary of :func:`context_scores`.

    Returns
    -------
    pd.DataFrame
        ``context, <unit>, best_layer, best_relative_depth, mean, sem, ci_low, ci_high, p,
        n_subjects`` (``p``: one-sided t-test of score > 0 across subjects).
    """
    unit = table.columns[1]
    rows = []
    for (c, name), grp in table.groupby(["context", unit], sort=False):
        da = xr.DataArray(grp["score"].to_numpy(dtype=float), dims="subject")
        st = subject_stats(da, confidence)
        rows.append({"context": int(c), unit: name, "best_layer": int(grp["layer"].iloc[0]),
                     "best_relative_depth": float(grp["relative_depth"].iloc[0]),
                     **{k: float(st[k]) for k in ("mean", "sem", "ci_low", "ci_high", "p")},
                     "n_subjects": len(grp)})
    return pd.DataFrame(rows).sort_values([unit, "context"], kind="stable").reset_index(drop=True)


def context_gain(profile: pd.DataFrame) -> pd.DataFrame:
    """Per unit: score at the longest context minus at the shortest, and the context of the peak."""
    unit = profile.columns[1]
    rows = []
    for name, grp in profile.groupby(unit, sort=False):
        grp = grp.sort_values("context")
        k = int(np.nanargmax(grp["mean"].to_numpy())) if grp["mean"].notna().any() else 0
        rows.append({unit: name, "shortest_context": int(grp["context"].iloc[0]),
                     "longest_context": int(grp["context"].iloc[-1]),
                     "gain": float(grp["mean"].iloc[-1] - grp["mean"].iloc[0]),
                     "best_context": int(grp["context"].iloc[k])})
    return pd.DataFrame(rows)
