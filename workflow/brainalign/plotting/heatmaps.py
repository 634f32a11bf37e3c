"""Layer-by-layer similarity heatmaps (CKA / RSA) for every pair of models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .figure_io import grid_shape, new_figure, save_figure

LABELS = {"cka": "linear CKA", "rsa": "RSA (Spearman ρ of RDMs)"}


def plot_similarity(table: pd.DataFrame, path: str | os.PathLike, *, title: str | None = None,
                    cmap: str = "magma") -> Path:
    """One heatmap per model pair (rows: layers of model A, columns: layers of model B).

    Parameters
    ----------
    table
        Output of :func:`brainalign.analyses.similarity_table`.
    """
    method = str(table["method"].iloc[0]) if "method" in table else "cka"
    debiased = bool(table["debiased"].iloc[0]) if "debiased" in table else False
    label = ("debiased " if debiased and method == "cka" else "") + LABELS.get(method, method)
    if "standardized" in table and bool(table["standardized"].iloc[0]):
        label += " (z-scored features)"
    pairs = list(dict.fromkeys(zip(table["model_a"], table["model_b"])))
    rows, cols = grid_shape(len(pairs), max_cols=3)
    fig = new_figure(3.8 * cols + 1.0, 3.4 * rows + 0.6, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    vmin = min(0.0, float(np.nanmin(table["similarity"])))
    im = None
    for ax, (ma, mb) in zip(axes.flat, pairs):
        d = table[(table["model_a"] == ma) & (table["model_b"] == mb)]
        mat = d.pivot(index="layer_a", columns="layer_b", values="similarity")
        ext = [-0.5, mat.shape[1] - 0.5, mat.shape[0] - 0.5, -0.5]
        im = ax.imshow(mat.to_numpy(), cmap=cmap, vmin=vmin, vmax=1.0, origin="upper", extent=ext,
                       aspect="auto", interpolation="nearest")
        ax.set_xlabel(f"{mb}: layer")
        ax.set_ylabel(f"{ma}: layer")
        ax.set_title(f"{ma} × {mb}", fontsize=9)
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_visible(False)
    cb = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.85)
    cb.set_label(label)
    n = int(table["n_words"].iloc[0]) if "n_words" in table else 0
    fig.suptitle(title or f"Layer-by-layer {label} on {n} stimulus words", fontsize=11)
    return save_figure(fig, path)
