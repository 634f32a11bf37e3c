"""Power-curve figure of the sensitivity analysis (:mod:`brainalign.analyses.sensitivity`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .curves import COLORS
from .figure_io import new_figure, save_figure

_STYLES = ["-", "--", ":", "-."]


def plot_power(result, path: str | os.PathLike, *, max_regions: int | None = 8, title: str = "") -> Path:
    """Three panels against the planted SNR (log axis): detection rate, depth error, peak score.

    Parameters
    ----------
    result
        A :class:`brainalign.analyses.sensitivity.SensitivityResult` (``power``, ``curve``, ``observed``).
    path
        Output figure (PNG/SVG/PDF).
    max_regions
        The real data's regions marked on the score panel and the SNR axis: the highest-scoring ones
        (all quantile rows are always drawn).
    title
        Figure title.

    Notes
    -----
    One colour per planted depth, one line style per target count; grey dashes: false-positive rate
    of the unplanted hosts.  Score panel: median and quartiles of the planted targets' peak score;
    horizontal lines: the real data's peak scores (the best ``max_regions`` regions within or above
    the simulated range, and the quantiles); their SNR on the curve is marked on every panel (dotted
    vertical line and triangle; an arrow at the axis end when outside the simulated range).
    """
    power, curve, observed = result.power, result.curve, result.observed
    depths = sorted(power["depth"].unique())
    counts = sorted(power["n_targets"].unique())
    snrs = sorted(power["snr"].unique())
    fig = new_figure(13.5, 4.2)
    axes = fig.subplots(1, 3)
    color = {d: COLORS[i % len(COLORS)] for i, d in enumerate(depths)}
    for d in depths:
        for j, c in enumerate(counts):
            g = power[(power["depth"] == d) & (power["n_targets"] == c)].sort_values("snr")
            layer = int(g["planted_layer"].iloc[0])
            label = f"depth {d:g} (layer {layer})" + (f", {c} targets" if len(counts) > 1 else "")
            ls = _STYLES[j % len(_STYLES)]
            axes[0].plot(g["snr"], g["detection_rate"], ls, marker="o", ms=3, color=color[d], label=label)
            axes[1].plot(g["snr"], g["depth_error"], ls, marker="o", ms=3, color=color[d],
                         label="per target" if (d == depths[0] and j == 0) else None)
            axes[1].plot(g["snr"], g["region_depth_error"], ls, marker="s", ms=3, color=color[d], alpha=0.45,
                         label="per planted set" if (d == depths[0] and j == 0) else None)
    fpr = power.groupby("snr")["false_positive_rate"].mean()
    axes[0].plot(fpr.index, fpr.values, "--", color="0.4", lw=1, label="false-positive rate (unplanted hosts)")
    if "false_positive_rate_encoder_p" in power and power["false_positive_rate_encoder_p"].notna().any():
        enc = power.groupby("snr")["false_positive_rate_encoder_p"].mean()
        axes[0].plot(enc.index, enc.values, ":", color="0.6", lw=1,
                     label="false-positive rate with the encoder's circular-shift p")
    for d in depths:
        g = curve[curve["depth"].astype(str) == str(d)].sort_values("snr")
        axes[2].plot(g["snr"], g["score_median"], "-", marker="o", ms=3, color=color[d])
        axes[2].fill_between(g["snr"].astype(float), g["score_q25"].astype(float), g["score_q75"].astype(float),
                             color=color[d], alpha=0.15, lw=0)
    # The real data's scores: the best regions that reach the simulated range, and the quantiles.
    obs = observed.copy()
    regions = obs[(obs["kind"] == "region") & ~obs["snr_bound"].fillna("").astype(str).str.startswith("<")]
    regions = regions.sort_values("score", ascending=False)
    if max_regions is not None:
        regions = regions.head(int(max_regions))
    shown = pd.concat([regions, obs[obs["kind"] != "region"]])
    lo, hi = min(snrs), max(snrs)
    for _, r in shown.iterrows():
        is_region = r["kind"] == "region"
        tone = "k" if is_region else "0.45"
        label = str(r["unit"]).replace("all targets, ", "all ")
        axes[2].axhline(r["score"], color=tone, lw=0.6, ls=":" if is_region else "-.", alpha=0.6)
        axes[2].text(lo, r["score"], f" {label}", fontsize=6, va="bottom", color=tone)
        bound = str(r["snr_bound"] or "") if isinstance(r["snr_bound"], str) else ""
        if np.isfinite(r["snr"]):
            x, marker = float(r["snr"]), "^"
            axes[2].plot([x], [r["score"]], "o", ms=3, color=tone)
            for ax in axes:
                ax.axvline(x, color=tone, lw=0.5, ls=":", alpha=0.6)
        elif bound:
            x, marker = (lo, "<") if bound.startswith("<") else (hi, ">")
        else:
            continue
        for ax in axes:
            ax.plot([x], [0], marker=marker, color=tone, ms=5, clip_on=False, transform=ax.get_xaxis_transform())
    axes[0].set_ylabel("detection rate (BH-FDR)")
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("|best layer - planted layer| (layers)")
    axes[1].set_ylim(bottom=0)
    axes[2].set_ylabel("peak score (median, IQR)")
    for ax, name in zip(axes, ("detection", "depth error", "score vs SNR")):
        ax.set_xscale("log")
        ax.set_xlabel("planted SNR (signal / recording variance)")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3, lw=0.5)
    axes[0].legend(fontsize=6, loc="center right")
    axes[1].legend(fontsize=6, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)
