"""Line, scatter and bar figures of the analyses' tidy tables (layer profiles, forecast, context,
model comparison, hierarchy).  Each function takes the table an analysis returned and a path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .figure_io import grid_shape, new_figure, save_figure

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
CONTROL_COLOR = "0.45"


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _unit_col(df: pd.DataFrame, skip: tuple[str, ...] = ("model", "context")) -> str:
    return next(c for c in df.columns if c not in skip)


def plot_layer_profiles(profiles: Mapping[str, pd.DataFrame], path: str | os.PathLike, *,
                        controls: tuple[str, ...] = (), title: str = "Layer profiles",
                        ylabel: str = "brain score (Pearson r)", alpha: float = 0.05,
                        units: list[str] | None = None) -> Path:
    """One panel per region: score vs relative depth with the across-subject band, per model.

    Parameters
    ----------
    profiles
        ``{model label: layer_profiles(...) table}``; all tables share the unit column.
    controls
        Labels drawn as random-init controls (grey, dashed).
    alpha
        Layers whose FDR-corrected p (score > 0 across subjects) is below this get a dot under the
        curve, in the model's colour.
    units
        Units to draw (default all; see :func:`brainalign.analyses.top_units`).
    """
    if not profiles:
        raise ValueError("plot_layer_profiles needs at least one profile table")
    first = next(iter(profiles.values()))
    unit = first.columns[0]
    units = list(units) if units is not None else list(dict.fromkeys(first[unit]))
    rows, cols = grid_shape(len(units))
    fig = new_figure(3.2 * cols, 2.6 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    lo = min(float(df["ci_low"].min()) if df["ci_low"].notna().any() else float(df["mean"].min())
             for df in profiles.values())
    for k, name in enumerate(units):
        ax = axes.flat[k]
        ax.axhline(0, color="0.7", lw=0.8)
        trained_i = 0
        for j, (label, df) in enumerate(profiles.items()):
            d = df[df[unit] == name].sort_values("relative_depth")
            if d.empty:
                continue
            is_control = label in controls
            color = CONTROL_COLOR if is_control else COLORS[trained_i % len(COLORS)]
            trained_i += 0 if is_control else 1
            x = d["relative_depth"].to_numpy()
            ax.plot(x, d["mean"], color=color, ls="--" if is_control else "-", lw=1.6, label=label)
            if d["ci_low"].notna().any():
                ax.fill_between(x, d["ci_low"], d["ci_high"], color=color, alpha=0.2, lw=0)
            sig = d["p_fdr"].to_numpy() < alpha
            if sig.any():
                ax.plot(x[sig], np.full(sig.sum(), lo - 0.02 * (1 + j)), ls="none", marker="o", ms=2.5,
                        color=color)
        n = int(first.loc[first[unit] == name, "n_subjects"].iloc[0]) if "n_subjects" in first else 0
        ax.set_title(f"{name}", fontsize=10)
        if k % cols == 0:
            ax.set_ylabel(ylabel)
        if k // cols == rows - 1:
            ax.set_xlabel("relative depth (layer / n layers)")
    for ax in list(axes.flat)[len(units):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, frameon=False, loc="best")
    fig.suptitle(f"{title}\nmean ± 95% CI across {n} subjects; dots: FDR p < {alpha} (score > 0)", fontsize=10, y=1.0 + 0.1 / rows)
    return save_figure(fig, path)


def plot_best_depths(best: Mapping[str, pd.DataFrame], path: str | os.PathLike, *,
                     title: str = "Best layer per region", alpha: float = 0.05,
                     units: list[str] | None = None) -> Path:
    """Best relative depth per region (group argmax) with the across-subject CI, per model."""
    first = next(iter(best.values()))
    unit = first.columns[0]
    units = list(units) if units is not None else list(dict.fromkeys(first[unit]))
    fig = new_figure(max(4.0, 0.9 * len(units) + 2), 3.4)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(best))
    for j, (label, df) in enumerate(best.items()):
        d = df.set_index(unit).reindex(units)
        x = np.arange(len(units)) + (j - (len(best) - 1) / 2) * width
        yerr = np.vstack([d["best_relative_depth"] - d["subject_depth_ci_low"],
                          d["subject_depth_ci_high"] - d["best_relative_depth"]]).clip(min=0)
        ax.errorbar(x, d["best_relative_depth"], yerr=np.nan_to_num(yerr), fmt="o", color=COLORS[j % len(COLORS)],
                    label=label, capsize=3)
        for xi, yi, p in zip(x, d["best_relative_depth"], d["peak_p"]):
            s = _stars(p)
            if s:
                ax.annotate(s, (xi, yi), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set_xticks(np.arange(len(units)), units, rotation=30, ha="right")
    ax.set_ylim(-0.05, 1.1)
    ax.set_ylabel("best relative depth")
    ax.set_title(f"{title}\n(error bars: 95% CI of subjects' best depth; stars: peak score > 0)", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)


def plot_hierarchy(best: pd.DataFrame, position: Mapping[str, float], corr: Mapping[str, float],
                   path: str | os.PathLike, *, xlabel: str = "hierarchy position",
                   title: str = "Hierarchy vs best layer") -> Path:
    """Scatter of each region's hierarchy position (or latency) against its best relative depth."""
    unit = best.columns[0]
    d = best.set_index(unit)
    names = [u for u in position if u in d.index]
    x = np.array([float(position[u]) for u in names])
    y = d.loc[names, "best_relative_depth"].to_numpy(dtype=float)
    lo = d.loc[names, "subject_depth_ci_low"].to_numpy(dtype=float)
    hi = d.loc[names, "subject_depth_ci_high"].to_numpy(dtype=float)
    fig = new_figure(4.5, 3.8)
    ax = fig.add_subplot()
    ax.errorbar(x, y, yerr=np.nan_to_num(np.vstack([y - lo, hi - y]).clip(min=0)), fmt="o", color=COLORS[0], capsize=3)
    for xi, yi, name in zip(x, y, names):
        ax.annotate(str(name), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=8)
    rho, p = corr.get("spearman_rho", np.nan), corr.get("spearman_p", np.nan)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best relative depth")
    ax.set_title(f"{title}\nSpearman ρ = {rho:.2f} (p = {p:.3g}, n = {corr.get('n', len(names))})", fontsize=10)
    return save_figure(fig, path)


def plot_electrode_hierarchy(electrodes: pd.DataFrame, corr: Mapping[str, float], path: str | os.PathLike, *,
                             max_regions: int = 8, title: str = "Distance from A1 vs best layer") -> Path:
    """iEEG: each selected electrode's distance from primary auditory cortex against its best depth.

    ``electrodes`` is :func:`brainalign.analyses.hierarchy.electrode_hierarchy`'s table; points are
    coloured by region (the ``max_regions`` most populated, the rest grey), with the least-squares
    line and the across-electrode Spearman correlation in the title.  Electrodes left out of the
    correlation (not significant) are drawn as small grey dots.
    """
    fig = new_figure(5.5, 4.2)
    ax = fig.add_subplot()
    sel = electrodes[electrodes["selected"]]
    rest = electrodes[~electrodes["selected"] & np.isfinite(electrodes["best_relative_depth"])]
    ax.scatter(rest["distance_a1"], rest["best_relative_depth"], s=4, color="0.8", label="not selected")
    if "region" in sel and len(sel):
        counts = sel["region"].value_counts()
        shown = [r for r in counts.index if r not in ("", "unknown")][:max_regions]
        for k, name in enumerate(shown):
            part = sel[sel["region"] == name]
            ax.scatter(part["distance_a1"], part["best_relative_depth"], s=14, color=COLORS[k % len(COLORS)],
                       label=f"{name} ({len(part)})")
        other = sel[~sel["region"].isin(shown)]
        if len(other):
            ax.scatter(other["distance_a1"], other["best_relative_depth"], s=14, color=CONTROL_COLOR,
                       label=f"other ({len(other)})")
    elif len(sel):
        ax.scatter(sel["distance_a1"], sel["best_relative_depth"], s=14, color=COLORS[0])
    if len(sel) >= 2 and np.ptp(sel["distance_a1"]) > 0:
        slope, icpt = np.polyfit(sel["distance_a1"], sel["best_relative_depth"], 1)
        xs = np.array([sel["distance_a1"].min(), sel["distance_a1"].max()])
        ax.plot(xs, icpt + slope * xs, color="k", lw=1)
    rho, p = corr.get("spearman_rho", np.nan), corr.get("spearman_p", np.nan)
    ax.set_xlabel("distance from primary auditory cortex (mm, MNI)")
    ax.set_ylabel("best relative depth")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, loc="best", frameon=False)
    ax.set_title(f"{title}\nSpearman ρ = {rho:.2f} (p = {p:.3g}, n = {corr.get('n', len(sel))} electrodes)",
                 fontsize=10)
    return save_figure(fig, path)


def plot_forecast(table: pd.DataFrame, best: pd.DataFrame, path: str | os.PathLike, *,
                  title: str = "Forecast score F(d)", ylabel: str = "F(d) (Δ Pearson r)",
                  units: list[str] | None = None) -> Path:
    """One panel per region: F(d) with the across-subject band; d* marked (dashed line)."""
    unit = table.columns[0]
    units = list(units) if units is not None else list(dict.fromkeys(table[unit]))
    rows, cols = grid_shape(len(units))
    fig = new_figure(3.2 * cols, 2.6 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    bests = best.set_index(unit)
    for k, name in enumerate(units):
        ax = axes.flat[k]
        d = table[table[unit] == name].sort_values("distance")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.plot(d["distance"], d["mean"], marker="o", ms=3, color=COLORS[0])
        if d["ci_low"].notna().any():
            ax.fill_between(d["distance"], d["ci_low"], d["ci_high"], color=COLORS[0], alpha=0.2, lw=0)
        ds = int(bests.loc[name, "d_star"]) if name in bests.index else 0
        if ds > 0:
            ax.axvline(ds, color=COLORS[1], ls="--", lw=1)
        ax.set_title(f"{name}: d* = {ds}" + (" *" if ds > 0 else " (no gain)"), fontsize=10)
        if k % cols == 0:
            ax.set_ylabel(ylabel)
        if k // cols == rows - 1:
            ax.set_xlabel("forecast distance d (words)")
    for ax in list(axes.flat)[len(units):]:
        ax.set_visible(False)
    n = int(table["n_subjects"].iloc[0]) if "n_subjects" in table else 0
    fig.suptitle(f"{title}\nmean ± 95% CI across {n} subjects; * d* significant (t-test across subjects)", fontsize=10, y=1.0 + 0.1 / rows)
    return save_figure(fig, path)


BAND_LABELS = {"unique_window": "unique to the window (gain)", "unique_present": "unique to the present word",
               "shared": "shared"}


def plot_forecast_bands(bands: pd.DataFrame, path: str | os.PathLike, *, units: list[str] | None = None,
                        title: str = "Variance partition of present features and forecast window") -> Path:
    """One panel per region: R² unique to the window, unique to the present and shared, against d.

    ``bands`` is :func:`brainalign.analyses.forecast.band_table` (``<unit>, distance, band, mean,
    ci_low, ci_high, ...``); the window's unique share is the forecast gain F(d) in R².
    """
    unit = bands.columns[0]
    units = list(units) if units is not None else list(dict.fromkeys(bands[unit]))
    rows, cols = grid_shape(len(units))
    fig = new_figure(3.2 * cols, 2.6 * rows + 0.8)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for k, name in enumerate(units):
        ax = axes.flat[k]
        ax.axhline(0, color="0.7", lw=0.8)
        for j, (band, label) in enumerate(BAND_LABELS.items()):
            d = bands[(bands[unit] == name) & (bands["band"] == band)].sort_values("distance")
            ax.plot(d["distance"], d["mean"], marker="o", ms=3, color=COLORS[j], label=label)
            if d["ci_low"].notna().any():
                ax.fill_between(d["distance"], d["ci_low"], d["ci_high"], color=COLORS[j], alpha=0.15, lw=0)
        ax.set_title(str(name), fontsize=10)
        if k % cols == 0:
            ax.set_ylabel("R²")
        if k // cols == rows - 1:
            ax.set_xlabel("forecast distance d (words)")
    for ax in list(axes.flat)[len(units):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, frameon=False)
    n = int(bands["n_subjects"].iloc[0]) if "n_subjects" in bands else 0
    fig.suptitle(f"{title}\nmean ± 95% CI across {n} subjects", fontsize=10, y=1.0 + 0.1 / rows)
    return save_figure(fig, path)


def plot_context(profile: pd.DataFrame, path: str | os.PathLike, *, title: str = "Brain score vs context length",
                 ylabel: str = "brain score (Pearson r)", units: list[str] | None = None) -> Path:
    """Score at the best layer vs context length (tokens), one line per region, with bands."""
    unit = _unit_col(profile)
    if units is not None:
        profile = profile[profile[unit].astype(str).isin([str(u) for u in units])]
    fig = new_figure(5.5, 3.8)
    ax = fig.add_subplot()
    for j, (name, d) in enumerate(profile.groupby(unit, sort=False)):
        d = d.sort_values("context")
        c = COLORS[j % len(COLORS)]
        ax.plot(d["context"], d["mean"], marker="o", ms=3, color=c, label=str(name))
        if d["ci_low"].notna().any():
            ax.fill_between(d["context"], d["ci_low"], d["ci_high"], color=c, alpha=0.15, lw=0)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("context length (tokens, symlog)")
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="0.7", lw=0.8)
    n = int(profile["n_subjects"].iloc[0]) if "n_subjects" in profile else 0
    ax.set_title(f"{title}\nmean ± 95% CI across {n} subjects", fontsize=10)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    return save_figure(fig, path)


def plot_control_comparison(table: pd.DataFrame, path: str | os.PathLike, *, trained: str = "trained",
                            control: str = "random-init", title: str = "Trained model vs random-init control",
                            ylabel: str = "peak brain score (Pearson r)", units: list[str] | None = None) -> Path:
    """Grouped bars per region (trained vs control at their own best layers) with paired-test stars."""
    unit = table.columns[0]
    if units is not None:
        table = table[table[unit].astype(str).isin([str(u) for u in units])].reset_index(drop=True)
    x = np.arange(len(table))
    fig = new_figure(max(4.0, 0.9 * len(table) + 2), 3.6)
    ax = fig.add_subplot()
    ax.bar(x - 0.2, table["score_trained"], 0.4, color=COLORS[0], label=trained)
    ax.bar(x + 0.2, table["score_control"], 0.4, color=CONTROL_COLOR, label=control)
    top = np.nanmax(np.r_[table["score_trained"].to_numpy(), table["score_control"].to_numpy(), 0])
    for xi, row in zip(x, table.itertuples(index=False)):
        s = _stars(row.p)
        if s:
            ax.annotate(s, (xi, max(row.score_trained, row.score_control) + 0.01 * (top or 1)), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, table[unit].astype(str), rotation=30, ha="right")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_ylim(top=1.12 * top if top > 0 else None)
    ax.set_ylabel(ylabel)
    n = int(table["n_subjects"].max()) if "n_subjects" in table else 0
    ax.set_title(f"{title}\n(mean over {n} subjects; stars: paired t-test trained > control)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return save_figure(fig, path)


def plot_quality(table: pd.DataFrame, corr: pd.DataFrame, path: str | os.PathLike, *, quality: str = "perplexity",
                 unit_value: str = "mean", title: str = "Brain score vs model quality") -> Path:
    """Scatter across models of brain score (mean over regions) vs a quality measure."""
    unit = table.columns[1]
    d = table[table[unit] == unit_value]
    d = d.dropna(subset=[quality]) if quality in d.columns else d.iloc[0:0]
    fig = new_figure(4.8, 3.8)
    ax = fig.add_subplot()
    if d.empty:
        hint = ("\n(set analyses.comparison.brainbench_testset and run the brainbench rules)"
                if quality == "brainbench_accuracy" else "")
        ax.text(0.5, 0.5, f"no model has a {quality}{hint}", ha="center", va="center", transform=ax.transAxes,
                fontsize=8)
    else:
        ax.scatter(d[quality], d["brain_score"], color=COLORS[0])
        for row in d.itertuples(index=False):
            ax.annotate(str(row.model), (getattr(row, quality), row.brain_score), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
    if quality == "perplexity":
        ax.set_xscale("log")
    c = corr[(corr[unit] == unit_value) & (corr["quality"] == quality)]
    stat = ""
    if not c.empty and np.isfinite(c["spearman_rho"].iloc[0]):
        stat = f"\nSpearman ρ = {c['spearman_rho'].iloc[0]:.2f} (p = {c['spearman_p'].iloc[0]:.3g})"
    ax.set_xlabel({"perplexity": "perplexity on the stimuli (log scale)",
                   "brainbench_accuracy": "BrainBench accuracy"}.get(quality, quality))
    ax.set_ylabel(f"brain score ({unit_value} over regions, Pearson r)")
    ax.set_title(f"{title} (n = {len(d)} models){stat}", fontsize=10)
    return save_figure(fig, path)


def plot_fraction_of_peak(table: pd.DataFrame, path: str | os.PathLike, *, unit_value: str = "all",
                          title: str = "Depth needed for 95% of the peak score") -> Path:
    """Per model: relative depth at which the profile reaches the fraction of its peak, and the peak."""
    unit = table.columns[1]
    d = table[table[unit] == unit_value].reset_index(drop=True)
    fig = new_figure(max(4.0, 0.8 * len(d) + 2.5), 3.4)
    ax = fig.add_subplot()
    y = np.arange(len(d))
    ax.barh(y, d["depth_at_fraction"], color=COLORS[0], alpha=0.8,
            label=f"depth reaching {100 * float(d['fraction'].iloc[0]) if len(d) else 95:.0f}% of peak")
    ax.plot(d["peak_relative_depth"], y, "k|", ms=14, mew=2, label="depth of the peak")
    ax.set_yticks(y, d["model"])
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("relative depth (layer / n layers)")
    ax.set_title(f"{title} ({unit_value})", fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return save_figure(fig, path)
