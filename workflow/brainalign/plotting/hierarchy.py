"""The hierarchy figure of rule ``analysis_hierarchy``: whichever coordinate the analysis used."""

from __future__ import annotations

import os
from pathlib import Path

from ..analyses.hierarchy_analysis import HierarchyFigure
from .curves import plot_electrode_hierarchy, plot_hierarchy
from .figure_io import new_figure, save_figure


def plot_hierarchy_figure(figure: HierarchyFigure, path: str | os.PathLike, *, modality: str,
                          max_regions: int | None = None) -> Path:
    """Draw :attr:`brainalign.analyses.hierarchy_analysis.HierarchyResult.figure`.

    iEEG electrodes: distance from A1 against best layer (:func:`plot_electrode_hierarchy`, the
    ``max_regions`` most populated regions coloured, 8 when None); regions: position against best
    layer (:func:`plot_hierarchy`); no coordinate: a figure that says so.
    """
    if figure.kind == "electrodes":
        return plot_electrode_hierarchy(figure.electrodes, figure.corr, path, max_regions=max_regions or 8,
                                        title=f"{figure.model}: distance from A1 vs best layer ({modality})")
    if figure.kind == "regions":
        return plot_hierarchy(figure.best, figure.position, figure.corr, path, xlabel=figure.xlabel,
                              title=f"{figure.model}: hierarchy vs best layer ({modality})")
    fig = new_figure(5, 2)
    fig.text(0.5, 0.5, "No hierarchy positions configured (analyses.hierarchy.positions),\n"
             "no MEG/EEG latencies and no iEEG electrode positions for this modality.", ha="center", va="center")
    return save_figure(fig, path)
