"""Model comparison (Mischler et al. 2024): brain score versus model quality, trained vs control.

* :func:`peak_scores` — each model's brain score per region: the score at the layer that
  maximises the subject-mean profile, per subject.
* :func:`compare_to_control` — trained model vs its random-init control, paired across subjects
  (Levine's caveat: alignment has to beat what the architecture alone gives).
* :func:`model_perplexity` — a model's perplexity on the stimuli from its feature stores.
* :func:`read_brainbench_summary` — a BrainBench accuracy from ``results/brainbench/…/summary``.
* :func:`brain_vs_quality` — the across-model correlation of brain score with perplexity /
  BrainBench accuracy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from .units import LagReduce, check_scores, reduce_lag, to_units, unit_dim


def _units(scores: xr.Dataset, var: str, by: str | None, lag_reduce: LagReduce) -> xr.DataArray:
    return to_units(reduce_lag(check_scores(scores, var), lag_reduce), by).transpose("subject", "layer", ...)


def peak_scores(scores: xr.Dataset, *, model: str = "", var: str = "r", by: str | None = "region",
                lag_reduce: LagReduce = "mean") -> pd.DataFrame:
    """Per unit and subject: the score at the unit's best layer (argmax of the subject mean).

    Returns
    -------
    pd.DataFrame
        ``model, <unit>, subject, layer, relative_depth, score``.
    """
    da = _units(scores, var, by, lag_reduce)
    unit = unit_dim(da)
    mean = da.mean("subject").fillna(-np.inf)
    best = mean.argmax("layer")
    rows = []
    for j, name in enumerate(da[unit].values):
        k = int(best.values[j])
        for s, subject in enumerate(da["subject"].values):
            rows.append({"model": model, unit: name, "subject": str(subject),
                         "layer": int(da["layer"].values[k]),
                         "relative_depth": float(da["relative_depth"].values[k]),
                         "score": float(da.values[s, k, j])})
    return pd.DataFrame(rows)


def compare_to_control(trained: xr.Dataset, control: xr.Dataset, *, var: str = "r",
                       by: str | None = "region", lag_reduce: LagReduce = "mean") -> pd.DataFrame:
    """Trained model vs its random-init control, each at its own best layer, paired over subjects.

    Returns
    -------
    pd.DataFrame
        One row per unit: ``<unit>, layer_trained, score_trained, layer_control, score_control,
        difference, t, p, n_subjects`` (``p``: one-sided paired t-test, trained > control; NaN with
        fewer than two subjects).
    """
    a = peak_scores(trained, model="trained", var=var, by=by, lag_reduce=lag_reduce)
    b = peak_scores(control, model="control", var=var, by=by, lag_reduce=lag_reduce)
    unit = a.columns[1]
    merged = a.merge(b, on=[unit, "subject"], suffixes=("_trained", "_control"), how="inner")
    if merged.empty:
        raise ValueError("trained and control scores share no (unit, subject) pair")
    rows = []
    for name, grp in merged.groupby(unit, sort=False):
        diff = grp["score_trained"].to_numpy() - grp["score_control"].to_numpy()
        n = diff.size
        if n > 1 and np.std(diff) > 0:
            res = stats.ttest_1samp(diff, 0.0, alternative="greater")
            t, p = float(res.statistic), float(res.pvalue)
        else:
            t = p = np.nan
        rows.append({unit: name, "layer_trained": int(grp["layer_trained"].iloc[0]),
                     "score_trained": float(grp["score_trained"].mean()),
                     "layer_control": int(grp["layer_control"].iloc[0]),
                     "score_control": float(grp["score_control"].mean()),
                     "difference": float(diff.mean()), "t": t, "p": p, "n_subjects": n})
    return pd.DataFrame(rows)


def model_perplexity(features: Iterable[xr.Dataset]) -> float:
    """Token-weighted perplexity of a model over several stories.

    ``exp(Σ_s n_s · log ppl_s / Σ_s n_s)`` with ``n_s`` the story's token count (sum of the
    per-word ``n_tokens``), i.e. the perplexity of the concatenated stories scored story by story.

    Raises
    ------
    ValueError
        If a feature store lacks ``perplexity`` or ``n_tokens``.
    """
    logs, weights = [], []
    for ds in features:
        for var in ("perplexity", "n_tokens"):
            if var not in ds:
                raise ValueError(f"feature store of story {ds.coords.get('story', '?')!s} lacks {var!r}")
        ppl = float(ds["perplexity"].values)
        if not np.isfinite(ppl) or ppl <= 0:
            raise ValueError(f"feature store of story {ds['story'].values if 'story' in ds.coords else '?'}: "
                             f"perplexity must be a positive number, got {ppl}")
        logs.append(np.log(ppl))
        weights.append(float(np.asarray(ds["n_tokens"].values).sum()))
    if not logs:
        raise ValueError("model_perplexity needs at least one feature store")
    return float(np.exp(np.average(logs, weights=weights)))


def read_brainbench_summary(path: str | os.PathLike) -> float:
    """Accuracy (fraction correct, 0–1) from a BrainBench summary file.

    Accepts JSON (``{"accuracy": …}``) or a CSV/TSV with an ``accuracy`` column (first row); a
    path without suffix is tried as ``summary.json``, ``.tsv`` and ``.csv``.  Accuracies given in
    percent (> 1) are divided by 100.

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the file and what was expected.
    """
    path = Path(path)
    candidates = [path] if path.suffix else [path.with_suffix(s) for s in (".json", ".tsv", ".csv")] + [path]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise FileNotFoundError(f"{path}: no BrainBench summary (.json/.tsv/.csv) found")
    if found.suffix == ".json":
        data = json.loads(found.read_text())
        if isinstance(data, list):
            data = data[0] if data else {}
        if "accuracy" not in data:
            raise ValueError(f"{found}: expected a key 'accuracy' in the BrainBench summary, got {sorted(data)}")
        acc = float(data["accuracy"])
    else:
        df = pd.read_csv(found, sep="\t" if found.suffix == ".tsv" else None, engine="python")
        if "accuracy" not in df.columns:
            raise ValueError(f"{found}: expected a column 'accuracy', got {list(df.columns)}")
        acc = float(df["accuracy"].iloc[0])
    return acc / 100.0 if acc > 1 else acc


def brain_vs_quality(brain: pd.DataFrame, quality: pd.DataFrame, *, unit: str = "region") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join per-model brain scores with model quality and correlate them across models.

    Parameters
    ----------
    brain
        ``model, <unit>, score`` rows (e.g. :func:`peak_scores` output; subjects are averaged).
    quality
        ``model`` plus any of ``perplexity``, ``brainbench_accuracy``.

    Returns
    -------
    (pd.DataFrame, pd.DataFrame)
        The joined table (``model, <unit>, brain_score, <quality columns>``) including a unit
        ``mean`` (mean over units), and the correlations: ``<unit>, quality, n_models,
        spearman_rho, spearman_p, pearson_r, pearson_p`` (NaN with fewer than 3 models).
    """
    per_unit = brain.groupby(["model", unit], sort=False, as_index=False)["score"].mean() \
        .rename(columns={"score": "brain_score"})
    overall = per_unit.groupby("model", sort=False, as_index=False)["brain_score"].mean()
    overall[unit] = "mean"
    table = pd.concat([per_unit, overall[per_unit.columns]], ignore_index=True).merge(quality, on="model", how="left")
    qcols = [c for c in ("perplexity", "log_perplexity", "brainbench_accuracy") if c in table.columns]
    if "perplexity" in table.columns and "log_perplexity" not in table.columns:
        table["log_perplexity"] = np.log(table["perplexity"].astype(float))
        qcols.insert(1, "log_perplexity")
    rows = []
    for name, grp in table.groupby(unit, sort=False):
        for q in qcols:
            ok = grp[["brain_score", q]].astype(float).dropna()
            row = {unit: name, "quality": q, "n_models": len(ok), "spearman_rho": np.nan, "spearman_p": np.nan,
                   "pearson_r": np.nan, "pearson_p": np.nan}
            if len(ok) >= 3 and ok[q].nunique() > 1 and ok["brain_score"].nunique() > 1:
                rho, p = stats.spearmanr(ok[q], ok["brain_score"])
                r, pr = stats.pearsonr(ok[q], ok["brain_score"])
                row.update(spearman_rho=float(rho), spearman_p=float(p), pearson_r=float(r), pearson_p=float(pr))
            rows.append(row)
    return table, pd.DataFrame(rows)


def quality_table(perplexity: Mapping[str, float], brainbench: Mapping[str, float] | None = None) -> pd.DataFrame:
    """``model, perplexity[, brainbench_accuracy]`` from per-model dictionaries."""
    df = pd.DataFrame({"model": list(perplexity), "perplexity": [float(v) for v in perplexity.values()]})
    if brainbench:
        df["brainbench_accuracy"] = df["model"].map(lambda m: brainbench.get(m, np.nan))
    return df
