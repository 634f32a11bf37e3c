"""Electrodes across patients: one row per electrode, and group statistics (Mischler et al. 2024).

iEEG patients each have their own electrodes, so the encoder fits them separately and pools their
channels (:mod:`brainalign.encoding.assemble`).  From those scores:

:func:`electrode_table` (``results/{ds}/scores/{model}/{modality}_electrodes.tsv``)
    One row per electrode (a subject's channel): ``subject``, ``channel`` (its name in the
    subject's ``channels.tsv``), ``target`` (the pooled id), the recording's channel coordinates
    (``ch_type``, ``pos_x/y/z``, ``region`` ...), the best layer and lag (where ``r`` peaks over
    layer x lag), its relative depth, ``r_best``/``r2_best``/``alpha_best`` there, and ``r`` per
    layer (``r_layer_<L>``: the peak over lags, so the best layer is the argmax of these columns;
    a peak is biased upwards for noise-only electrodes).  With permutations
    (``encoding.n_permutations > 0``): ``p_electrode``, the circular-shift p-value of the
    electrode's peak over layers and lags against the peaks of the same shifts (``p_channel`` of
    the scores: the choice of layer and lag is paid for), ``q_electrode`` (Benjamini-Hochberg over
    the patient's electrodes) and ``significant`` (``q_electrode <= encoding.fdr_q``).
:func:`electrode_stats` (``..._electrode_stats.tsv``)
    Long and tidy, one row per ``scope``, ``subject``, ``statistic`` and (for ``r``) ``layer``:
    ``value`` (mean), ``sem``, ``ci_low``/``ci_high`` (95 % t interval), ``n``, ``p``, ``test``.
    Scopes: ``subject`` (one patient's electrodes), ``electrodes`` (every electrode of every patient
    pooled) and ``subjects`` (one value per patient: the patient's mean, so each patient counts
    once, as Mischler et al. summarise over patients).  Statistics: ``n_electrodes``,
    ``n_significant`` and ``fraction_significant`` (with permutations), ``best_relative_depth``,
    ``best_lag``, ``r_best`` and ``r`` per layer (the layer profile).  Means over electrodes use
    the *selected* electrodes (column ``selection``): the significant ones with permutations, else
    all of them.  Across patients, ``best_relative_depth`` is tested against 0.5, the middle of the
    network (two-sided one-sample t-test; Mischler et al. report peaks in intermediate layers); the
    mean ``r`` of significant electrodes is descriptive (they were chosen for their ``r``) and is
    not tested.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from .assemble import is_pooled, labels
from .stats import fdr_bh

#: Reference of the patient-level test of the best relative depth (the middle of the network).
DEPTH_REFERENCE = 0.5


def _fdr_q(scores: xr.Dataset, fdr_q: float | None) -> float:
    if fdr_q is not None:
        return float(fdr_q)
    try:
        return float(json.loads(scores.attrs.get("encoding", "{}")).get("fdr_q", 0.05))
    except (TypeError, ValueError):
        return 0.05


def electrode_table(scores: xr.Dataset, *, fdr_q: float | None = None) -> pd.DataFrame:
    """One row per electrode (a subject's channel) with its best layer, lag and per-layer scores.

    Parameters
    ----------
    scores
        A channel Scores dataset (``subject x layer x channel [x lag]``), pooled (subjects fitted
        separately) or joint (then every subject x channel is an electrode).
    fdr_q
        False discovery rate of ``significant`` (default: the scores' ``encoding.fdr_q``, else 0.05).

    Returns
    -------
    pd.DataFrame
        See the module docstring; electrodes in subject order, then channel order.
    """
    if "channel" not in scores.dims:
        raise ValueError(f"an electrode table needs channel scores (dims {tuple(scores.dims)})")
    q = _fdr_q(scores, fdr_q)
    layers = np.asarray(scores["layer"].values)
    depth = np.asarray(scores["relative_depth"].values, dtype=float)
    lags = np.asarray(scores["lag"].values, dtype=float) if "lag" in scores.dims else np.array([np.nan])
    pooled = is_pooled(scores)
    coord_names = [c for c in scores.coords if scores[c].dims == ("channel",)
                   and c not in ("channel", "channel_subject", "channel_name")]
    rows = []
    for subject in scores["subject"].values:
        if pooled:
            own = np.flatnonzero(labels(scores["channel_subject"].values) == str(subject))
        else:
            own = np.arange(scores.sizes["channel"])
        if own.size == 0:
            continue
        sub = scores.sel(subject=subject).isel(channel=own)

        def block(var):  # channel x layer x lag
            da = sub[var]
            da = da.transpose("channel", "layer", *(["lag"] if "lag" in da.dims else []))
            v = np.asarray(da.values, dtype=np.float64)
            return v if v.ndim == 3 else v[:, :, None]

        r = block("r")
        n_ch = r.shape[0]
        flat = r.reshape(n_ch, -1)
        finite = np.isfinite(flat).any(1)
        best = np.where(finite, np.nanargmax(np.where(np.isfinite(flat), flat, -np.inf), axis=1), 0)
        li, gi = best // r.shape[2], best % r.shape[2]
        with np.errstate(invalid="ignore"):
            r_layer = np.where(np.isfinite(r).any(2), np.nanmax(np.where(np.isfinite(r), r, -np.inf), axis=2), np.nan)
        picked = {}
        for var in ("r", "r2", "alpha"):
            v = block(var).reshape(n_ch, -1)
            picked[var] = np.where(finite, v[np.arange(n_ch), best], np.nan)
        if "p_channel" in sub:
            p_el = np.asarray(sub["p_channel"].values, dtype=np.float64)
            q_el = fdr_bh(p_el)[1]
        names = labels(sub["channel_name"].values if pooled else sub["channel"].values)
        targets = labels(sub["channel"].values)
        for c in range(n_ch):
            row = {"subject": str(subject), "channel": names[c], "target": targets[c]}
            for name in coord_names:
                row[name] = sub[name].values[c]
            row.update({
                "best_layer": int(layers[li[c]]) if finite[c] else np.nan,
                "best_relative_depth": float(depth[li[c]]) if finite[c] else np.nan,
                "best_lag": float(lags[gi[c]]) if finite[c] else np.nan,
                "r_best": picked["r"][c], "r2_best": picked["r2"][c], "alpha_best": picked["alpha"][c],
            })
            if "p_channel" in sub:
                row.update({"p_electrode": p_el[c], "q_electrode": q_el[c],
                            "significant": bool(np.isfinite(q_el[c]) and q_el[c] <= q)})
            for j, layer in enumerate(layers):
                row[f"r_layer_{int(layer)}"] = r_layer[c, j]
            rows.append(row)
    df = pd.DataFrame(rows)
    if "best_layer" in df:
        df["best_layer"] = df["best_layer"].astype("Int64")
    return df


def _summary(values, *, confidence: float = 0.95) -> dict:
    """Mean, SEM and t interval of the finite values (SEM and interval NaN below 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return {"value": np.nan, "sem": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0}
    mean = float(v.mean())
    if n < 2:
        return {"value": mean, "sem": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": n}
    sem = float(v.std(ddof=1) / np.sqrt(n))
    half = sem * float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    return {"value": mean, "sem": sem, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def _layer_columns(table: pd.DataFrame) -> list[tuple[int, str]]:
    cols = [c for c in table.columns if c.startswith("r_layer_")]
    return sorted(((int(c[len("r_layer_"):]), c) for c in cols))


def electrode_stats(table: pd.DataFrame, *, relative_depths: dict[int, float] | None = None) -> pd.DataFrame:
    """Group statistics over electrodes, per patient, pooled, and across patients (module docstring).

    Parameters
    ----------
    table
        From :func:`electrode_table`.
    relative_depths
        ``{layer: relative depth}`` added as a column to the per-layer rows (optional).

    Returns
    -------
    pd.DataFrame
        Columns ``scope, subject, statistic, layer, relative_depth, value, sem, ci_low, ci_high, n,
        p, test, selection``.
    """
    has_sig = "significant" in table.columns
    selection = "significant" if has_sig else "all"
    layer_cols = _layer_columns(table)
    rows: list[dict] = []

    def add(scope, subject, statistic, summary, layer=None, p=np.nan, test=None):
        rows.append({"scope": scope, "subject": subject, "statistic": statistic,
                     "layer": layer, "relative_depth": (relative_depths or {}).get(layer, np.nan)
                     if layer is not None else np.nan, **summary, "p": p, "test": test, "selection": selection})

    def describe(scope, subject, part):
        n_all = len(part)
        add(scope, subject, "n_electrodes", {"value": float(n_all), "sem": np.nan, "ci_low": np.nan,
                                             "ci_high": np.nan, "n": n_all})
        if has_sig:
            n_sig = int(part["significant"].sum())
            add(scope, subject, "n_significant", {"value": float(n_sig), "sem": np.nan, "ci_low": np.nan,
                                                  "ci_high": np.nan, "n": n_all})
            add(scope, subject, "fraction_significant", {"value": n_sig / n_all if n_all else np.nan,
                                                         "sem": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                                                         "n": n_all})
        chosen = part[part["significant"].astype(bool)] if has_sig else part
        for stat in ("best_relative_depth", "best_lag", "r_best"):
            add(scope, subject, stat, _summary(chosen[stat]))
        for layer, col in layer_cols:
            add(scope, subject, "r", _summary(chosen[col]), layer=layer)
        return chosen

    per_subject = {}
    for subject, part in table.groupby("subject", sort=False):
        chosen = describe("subject", str(subject), part)
        per_subject[str(subject)] = {
            "fraction_significant": part["significant"].mean() if has_sig and len(part) else np.nan,
            "best_relative_depth": chosen["best_relative_depth"].mean() if len(chosen) else np.nan,
            "best_lag": chosen["best_lag"].mean() if len(chosen) else np.nan,
            "r_best": chosen["r_best"].mean() if len(chosen) else np.nan,
            **{col: chosen[col].mean() if len(chosen) else np.nan for _, col in layer_cols},
        }
    describe("electrodes", "all", table)

    # Across patients: each patient's value is one observation.
    subj = pd.DataFrame.from_dict(per_subject, orient="index")
    if has_sig:
        add("subjects", "all", "fraction_significant", _summary(subj["fraction_significant"]))
    depth = _summary(subj["best_relative_depth"])
    p_depth = np.nan
    if depth["n"] >= 2 and np.isfinite(depth["sem"]) and depth["sem"] > 0:
        p_depth = float(stats.ttest_1samp(subj["best_relative_depth"].dropna(), DEPTH_REFERENCE).pvalue)
    add("subjects", "all", "best_relative_depth", depth, p=p_depth,
        test=f"one-sample t-test vs {DEPTH_REFERENCE} (two-sided), patients as observations")
    add("subjects", "all", "best_lag", _summary(subj["best_lag"]))
    add("subjects", "all", "r_best", _summary(subj["r_best"]))
    for layer, col in layer_cols:
        add("subjects", "all", "r", _summary(subj[col]), layer=layer)
    out = pd.DataFrame(rows)
    out["layer"] = out["layer"].astype("Int64")
    return out
