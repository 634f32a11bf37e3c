"""The forecast-depth figure: one heatmap of the gain F(d, k) per region, d* and k* marked."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .figure_io import grid_shape, new_figure, save_figure


def plot_forecast_depth(table: pd.DataFrame, best: pd.DataFrame, path: str | os.PathLike, *,
                        units: list[str] | None = None, title: str = "Forecast gain F(d, k)",
                        cbar_label: str = "F(d, k) (Δ Pearson r)") -> Path:
    """One panel per unit: the subject-mean gain over distance d (columns) and window layer k (rows).

    The colour scale is symmetric around 0 and shared by the panels; a unit's best cell is boxed
    (solid: significant, its d* and k* in the panel title; dashed: the best cell without a
    significant gain).

    Parameters
    ----------
    table
        Output of :func:`brainalign.analyses.forecast_depth.depth_gain_table`.
    best
        Output of :func:`brainalign.analyses.forecast_depth.best_forecast_depth`.
    units
        Units shown, in order (default: all).
    """
    from matplotlib.patches import Rectangle

    unit = table.columns[0]
    units = list(units) if units is not None else list(dict.fromkeys(table[unit].astype(str)))
    distances = sorted(table["distance"].unique())
    ks = sorted(table["depth_layer"].unique())
    vmax = float(np.nanmax(np.abs(table["mean"].to_numpy(float)))) if len(table) else 1.0
    vmax = vmax if np.isfinite(vmax) and vmax > 0 else 1.0
    rows, cols = grid_shape(len(units))
    fig = new_figure(3.0 * cols + 0.8, 2.6 * rows + 0.7)
    axes = fig.subplots(rows, cols, squeeze=False)
    bests = best.assign(**{unit: best[unit].astype(str)}).set_index(unit)
    image = None
    for j, name in enumerate(units):
        ax = axes.flat[j]
        part = table[table[unit].astype(str) == name]
        grid = part.pivot_table(index="depth_layer", columns="distance", values="mean").reindex(index=ks,
                                                                                              columns=distances)
        image = ax.imshow(grid.to_numpy(float), origin="lower", aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_xticks(range(len(distances)), [str(d) for d in distances], fontsize=7)
        ax.set_yticks(range(len(ks)), [str(k) for k in ks], fontsize=7)
        label = f"{name}: no significant gain"
        if name in bests.index and int(bests.loc[name, "argmax_depth_layer"]) >= 0:
            b = bests.loc[name]
            sig = bool(b["significant"])
            x, y = distances.index(int(b["argmax_distance"])), ks.index(int(b["argmax_depth_layer"]))
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, lw=1.6, ec="k", ls="-" if sig else "--"))
            if sig:
                label = f"{name}: d* = {int(b['d_star'])}, k* = {int(b['k_star'])} *"
        ax.set_title(label, fontsize=9)
        if j % cols == 0:
            ax.set_ylabel("window layer k")
        if j // cols == rows - 1:
            ax.set_xlabel("distance d (words)")
    for ax in list(axes.flat)[len(units):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=cbar_label)
    n = int(table["n_subjects"].iloc[0]) if "n_subjects" in table and len(table) else 0
    fig.suptitle(f"{title}\nmean across {n} subjects; box: best cell (solid, *: significant t-test across subjects)",
                 fontsize=10)
    return save_figure(fig, path)
