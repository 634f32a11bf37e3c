"""Brain scores of fine-tuned models vs their base model, per region, paired across subjects.

Each model is scored at its own best layer per region (the layer maximising the subject-mean
profile, :func:`brainalign.analyses.comparison.peak_scores`), and the difference fine-tuned - base
is tested across subjects (one-sided paired t-test, H1: the fine-tuned model scores higher, the
direction Caucheteux et al. 2023 predicted), with Benjamini-Hochberg q-values over every
(objective, region) test of the table.
"""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from brainalign.analyses.comparison import compare_to_control
from brainalign.analyses.units import LagReduce, fdr

COLUMNS = ["objective", "model", "region", "layer_base", "score_base", "layer_finetuned", "score_finetuned",
           "delta", "sem", "t", "p", "q", "n_subjects"]


def compare_finetuned(base: xr.Dataset, finetuned: Mapping[str, xr.Dataset], *, models: Mapping[str, str] | None = None,
                      var: str = "r", by: str | None = "region", lag_reduce: LagReduce = "mean") -> pd.DataFrame:
    """Per objective and region: peak brain score of the fine-tuned model minus the base model's.

    Parameters
    ----------
    base
        Scores of the base model (``subject``, ``layer``, target dims, with a ``region`` coordinate).
    finetuned
        Objective name -> scores of the model fine-tuned with it (same subjects and targets).
    models
        Objective name -> fine-tuned model name (for the table; default: the objective name).
    var, by, lag_reduce
        As :func:`brainalign.analyses.comparison.peak_scores`.

    Returns
    -------
    pd.DataFrame
        :data:`COLUMNS`: ``delta`` is the subject-mean difference, ``sem`` its standard error,
        ``p`` one-sided (fine-tuned > base), ``q`` its BH-FDR q-value over all rows.

    Raises
    ------
    ValueError
        No fine-tuned scores, or scores sharing no (region, subject) with the base.
    """
    if not finetuned:
        raise ValueError("compare_finetuned: no fine-tuned scores")
    rows = []
    for objective, scores in finetuned.items():
        cmp = compare_to_control(scores, base, var=var, by=by, lag_reduce=lag_reduce)
        unit = cmp.columns[0]
        sem = _paired_sem(scores, base, var=var, by=by, lag_reduce=lag_reduce)
        for r in cmp.itertuples(index=False):
            rec = r._asdict()
            rows.append({"objective": objective, "model": (models or {}).get(objective, objective),
                         "region": rec[unit], "layer_base": rec["layer_control"], "score_base": rec["score_control"],
                         "layer_finetuned": rec["layer_trained"], "score_finetuned": rec["score_trained"],
                         "delta": rec["difference"], "sem": sem.get(rec[unit], np.nan), "t": rec["t"],
                         "p": rec["p"], "n_subjects": rec["n_subjects"]})
    table = pd.DataFrame(rows)
    table["q"] = fdr(table["p"].to_numpy())
    return table[COLUMNS]


def _paired_sem(tuned: xr.Dataset, base: xr.Dataset, **opts) -> dict:
    """Region -> standard error across subjects of the peak-score difference."""
    from brainalign.analyses.comparison import peak_scores

    a, b = peak_scores(tuned, **opts), peak_scores(base, **opts)
    unit = a.columns[1]
    merged = a.merge(b, on=[unit, "subject"], suffixes=("_t", "_b"))
    diff = (merged["score_t"] - merged["score_b"]).groupby(merged[unit])
    return {k: float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else np.nan for k, v in diff}


def plot_comparison(table: pd.DataFrame, path: str | os.PathLike, *, title: str = "", q: float = 0.05,
                    ylabel: str = "Δ peak brain score (fine-tuned − base)") -> None:
    """Bars of the mean delta per region, one colour per objective, ±1 SEM, ``*`` where q < ``q``."""
    from brainalign.plotting.figure_io import save_figure  # selects the Agg backend before pyplot

    import matplotlib.pyplot as plt

    regions = list(dict.fromkeys(table["region"]))
    objectives = list(dict.fromkeys(table["objective"]))
    width = 0.8 / max(1, len(objectives))
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(regions) * max(1, len(objectives)) / 2, 3.6))
    x = np.arange(len(regions))
    for i, obj in enumerate(objectives):
        sub = table[table["objective"] == obj].set_index("region").reindex(regions)
        pos = x + (i - (len(objectives) - 1) / 2) * width
        ax.bar(pos, sub["delta"], width, yerr=sub["sem"].fillna(0), capsize=2, label=obj)
        for xi, d, s, qi in zip(pos, sub["delta"], sub["sem"].fillna(0), sub["q"]):
            if np.isfinite(qi) and qi < q:
                ax.text(xi, d + np.sign(d or 1) * (s + 0.002), "*", ha="center", va="bottom" if d >= 0 else "top")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, regions, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"Fine-tuning objectives vs base model (* q < {q})", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
