"""Accuracy with intervals, per-subfield breakdown and calibration of BrainBench item scores."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.special import expit

# Reference lines of Luo et al. 2024 (human-written cases; see REFERENCE.md).
HUMAN_EXPERTS = 0.634
LLM_MEAN = 0.814


def _correct(values: Sequence[bool] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"expected a non-empty 1-D array of correct flags, got shape {arr.shape}")
    return arr.astype(bool)


def sem(correct: Sequence[bool]) -> float:
    """Binomial standard error of the accuracy, sqrt(acc (1 - acc) / n) (the paper's SEM)."""
    c = _correct(correct)
    acc = c.mean()
    return float(np.sqrt(acc * (1 - acc) / c.size))


def bootstrap_ci(correct: Sequence[bool], n_boot: int = 10_000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy (items resampled with replacement).

    Parameters
    ----------
    correct
        Per-item correctness.
    n_boot
        Bootstrap resamples.
    seed
        Seed of the resampling (results are reproducible).
    level
        Coverage of the interval.
    """
    c = _correct(correct).astype(np.float64)
    rng = np.random.default_rng(seed)
    # Counts of each item in each resample: a multinomial draw is the same as resampling indices.
    counts = rng.multinomial(c.size, np.full(c.size, 1.0 / c.size), size=n_boot)
    accs = counts @ c / c.size
    lo, hi = np.quantile(accs, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def accuracy_table(items: pd.DataFrame, by: str | None = None, n_boot: int = 10_000,
                   seed: int = 0) -> pd.DataFrame:
    """Accuracy, 95% bootstrap interval and SEM, overall or per group.

    Parameters
    ----------
    items
        Item table with a boolean ``correct`` column.
    by
        Column to group by (e.g. ``"journal_section"``); None for one overall row (``group = "all"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``group, n, n_correct, accuracy, ci_low, ci_high, sem``.
    """
    groups = [("all", items)] if by is None else list(items.groupby(by, sort=True))
    rows = []
    for k, (name, sub) in enumerate(groups):
        c = _correct(sub["correct"])
        lo, hi = bootstrap_ci(c, n_boot=n_boot, seed=seed + k)
        rows.append({"group": name, "n": int(c.size), "n_correct": int(c.sum()),
                     "accuracy": float(c.mean()), "ci_low": lo, "ci_high": hi, "sem": sem(c)})
    return pd.DataFrame(rows)


def calibration(items: pd.DataFrame, n_bins: int = 5) -> tuple[pd.DataFrame, dict]:
    """Accuracy by confidence quantile bin, and how strongly confidence predicts correctness.

    A calibrated model is more often right when the perplexity gap is large (as the paper reports
    for LLMs and experts).  Items are cut into ``n_bins`` equal-count bins of ``confidence``.

    Returns
    -------
    bins : pandas.DataFrame
        ``bin, n, confidence_mean, confidence_low, confidence_high, accuracy, sem``.
    correlation : dict
        ``spearman_rho``/``spearman_p`` (confidence vs correct) and ``pointbiserial_r``/
        ``pointbiserial_p`` (same association, Pearson form), plus ``logistic_slope`` (the
        change in log-odds of a correct answer per unit of confidence, from a 1-D logistic fit).
    """
    conf = items["confidence"].to_numpy(dtype=float)
    c = _correct(items["correct"])
    n_bins = max(1, min(n_bins, c.size))
    ranks = pd.Series(conf).rank(method="first").to_numpy()
    # Equal-count bins by rank (ties in confidence split by order, so every bin is filled).
    bin_of = np.minimum((ranks - 1) * n_bins // c.size, n_bins - 1).astype(int)
    rows = []
    for b in range(n_bins):
        sel = bin_of == b
        cb = c[sel]
        rows.append({"bin": b + 1, "n": int(sel.sum()), "confidence_mean": float(conf[sel].mean()),
                     "confidence_low": float(conf[sel].min()), "confidence_high": float(conf[sel].max()),
                     "accuracy": float(cb.mean()), "sem": float(np.sqrt(cb.mean() * (1 - cb.mean()) / cb.size))})
    corr = {"spearman_rho": np.nan, "spearman_p": np.nan, "pointbiserial_r": np.nan,
            "pointbiserial_p": np.nan, "logistic_slope": np.nan}
    if c.all() or (~c).all() or np.ptp(conf) == 0:
        return pd.DataFrame(rows), corr  # no variation: correlations are undefined
    rho, p = sps.spearmanr(conf, c)
    r, pr = sps.pointbiserialr(c, conf)
    corr.update(spearman_rho=float(rho), spearman_p=float(p), pointbiserial_r=float(r),
                pointbiserial_p=float(pr), logistic_slope=_logistic_slope(conf, c))
    return pd.DataFrame(rows), corr


def _logistic_slope(x: np.ndarray, y: np.ndarray, n_iter: int = 50) -> float:
    """Slope of an unpenalised 1-D logistic regression by Newton's method (nan if separable)."""
    X = np.column_stack([np.ones_like(x), x])
    w = np.zeros(2)
    for _ in range(n_iter):
        p = expit(X @ w)
        H = X.T @ (X * (p * (1 - p))[:, None])
        try:
            step = np.linalg.solve(H, X.T @ (y - p))
        except np.linalg.LinAlgError:
            return float("nan")
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[1]) if np.isfinite(w[1]) and abs(w[1]) < 1e6 else float("nan")


def summarize(items: pd.DataFrame, isolated: pd.DataFrame | None = None, n_boot: int = 10_000,
              seed: int = 0, n_bins: int = 5) -> dict:
    """Headline numbers of one model on one test set (JSON-serialisable).

    Returns
    -------
    dict
        ``n, accuracy, ci_low, ci_high, sem, n_ties, n_reference_parse_differs``,
        ``accuracy_where_reference_parse_agrees``, ``n_markup_unparsed`` and
        ``markup_unparsed_rows`` (cases whose markup cannot be used: scored, but not in the
        isolated condition), ``calibration`` (correlations), ``isolated`` (the same accuracy fields
        for the isolated-sentences condition, plus ``n_left_out``; accuracy fields None when no case
        has usable markup) and the reference lines ``human_experts``/``llm_mean``.
    """
    overall = accuracy_table(items, n_boot=n_boot, seed=seed).iloc[0]
    _, corr = calibration(items, n_bins=n_bins)
    agree = items[~items["reference_parse_differs"].astype(bool)] if "reference_parse_differs" in items else items
    out = {
        "n": int(overall["n"]), "n_correct": int(overall["n_correct"]),
        "accuracy": float(overall["accuracy"]), "ci_low": float(overall["ci_low"]),
        "ci_high": float(overall["ci_high"]), "sem": float(overall["sem"]),
        "ci_level": 0.95, "bootstrap": {"n": int(n_boot), "seed": int(seed)},
        "n_ties": int(items["tie"].sum()) if "tie" in items else None,
        "n_reference_parse_differs": int(len(items) - len(agree)),
        "accuracy_where_reference_parse_agrees": float(agree["correct"].mean()) if len(agree) else None,
        "calibration": corr,
        "human_experts": HUMAN_EXPERTS, "llm_mean": LLM_MEAN,
    }
    if "markup_problem" in items:
        flagged = items["markup_problem"].fillna("").astype(str) != ""
        out["n_markup_unparsed"] = int(flagged.sum())
        out["markup_unparsed_rows"] = [int(r) for r in items.loc[flagged, "row"]] if "row" in items else []
    if isolated is not None:
        if len(isolated):
            iso = accuracy_table(isolated, n_boot=n_boot, seed=seed).iloc[0]
            out["isolated"] = {k: (float(iso[k]) if k != "n" else int(iso[k]))
                               for k in ("n", "accuracy", "ci_low", "ci_high", "sem")}
        else:
            out["isolated"] = {"n": 0, "accuracy": None, "ci_low": None, "ci_high": None, "sem": None}
        out["isolated"]["n_left_out"] = int(len(items) - len(isolated))
    return out
