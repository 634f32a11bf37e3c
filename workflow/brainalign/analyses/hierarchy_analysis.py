"""The hierarchy analysis of one modality in one call (rule ``analysis_hierarchy``).

Best layers per region, the depth reaching a fraction of the peak, and the correlation of each
region's (or iEEG electrode's) position in the cortical hierarchy with its best layer
(Mischler et al. 2024).  The hierarchy coordinate is chosen by :func:`hierarchy_coordinate`:

1. ``analyses.hierarchy.positions``, when configured;
2. iEEG: each electrode's distance from primary auditory cortex (:func:`electrode_hierarchy`);
3. MEG/EEG (scores with a ``lag`` axis): each responsive region's response latency, the lag of its
   peak score, where "responsive" means the region's peak score is above 0 across subjects at
   ``analyses.hierarchy.latency_max_p`` (a latency of a region that does not respond is noise);
4. else none (fMRI without configured positions): no correlation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pandas as pd
import xarray as xr

from .hierarchy import best_layers, electrode_hierarchy, fraction_of_peak_table, hierarchy_correlation, peak_latency
from .regions import is_ieeg

log = logging.getLogger(__name__)

#: Columns of the electrode table (one row per iEEG electrode and model; a header only otherwise).
ELECTRODE_COLUMNS = ["model", "channel", "subject", "region", "x", "y", "z", "distance_a1", "best_layer",
                     "best_relative_depth", "peak_score", "q", "selected"]


@dataclass
class HierarchyFigure:
    """What the hierarchy figure shows: the first trained model's coordinate against its best layers.

    ``kind`` is ``"electrodes"`` (iEEG: ``electrodes`` and its across-electrode ``corr``),
    ``"regions"`` (``position`` per region, ``xlabel``, ``corr``, ``best``) or ``"none"``.
    """

    model: str
    kind: str
    position: dict[str, float] = field(default_factory=dict)
    xlabel: str = ""
    corr: dict = field(default_factory=dict)
    best: pd.DataFrame | None = None
    electrodes: pd.DataFrame | None = None


@dataclass
class HierarchyResult:
    """Tables of :func:`hierarchy_analysis` and its figure's content.

    Attributes
    ----------
    best
        ``{model: best_layers table}``, every model.
    fraction
        :func:`fraction_of_peak_table` of every model.
    correlation
        One row per trained model and scope (``regions``, or iEEG ``electrodes`` / per region):
        ``model, position_source, scope, region, subject, n, spearman_rho, ...``.
    electrodes
        iEEG: one row per electrode and model (:data:`ELECTRODE_COLUMNS`); else a header only.
    figure
        The first trained model's :class:`HierarchyFigure`.
    """

    best: dict[str, pd.DataFrame]
    fraction: pd.DataFrame
    correlation: pd.DataFrame
    electrodes: pd.DataFrame
    figure: HierarchyFigure


def hierarchy_coordinate(scores: xr.Dataset, best: pd.DataFrame, hierarchy: Mapping, *,
                         var: str = "r") -> tuple[dict[str, float], str, str]:
    """Each region's hierarchy position for the region-level correlation (not iEEG electrodes).

    Parameters
    ----------
    scores
        One model's Scores with a ``region`` coordinate.
    best
        Its :func:`best_layers` table (``peak_p`` selects the responsive regions).
    hierarchy
        The validated ``analyses.hierarchy`` section (``positions``, ``latency_max_p``).
    var
        Score variable.

    Returns
    -------
    position, xlabel, source
        ``{region: position}`` (regions of ``best`` only), the axis label and ``positions`` |
        ``latency`` | ``none``.
    """
    if hierarchy["positions"]:
        position, xlabel, source = dict(hierarchy["positions"]), "hierarchy position (configured)", "positions"
    elif "lag" in scores.dims:
        lat = peak_latency(scores, var=var)
        responsive = set(best.loc[best["peak_p"] < hierarchy["latency_max_p"], "region"])
        position = {r: t for r, t in zip(lat["region"], lat["latency"]) if r in responsive}
        xlabel, source = "response latency (s, lag of the peak score)", "latency"
    else:
        position, xlabel, source = {}, "", "none"
    regions = set(best["region"])
    return {k: v for k, v in position.items() if k in regions}, xlabel, source


def _electrode_rows(model: str, scores: xr.Dataset, analyses: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """iEEG: one model's electrode table and its correlation rows (across electrodes, per region)."""
    hier = analyses["hierarchy"]
    electrodes, corr_table = electrode_hierarchy(
        scores, var=analyses["score"], lag_reduce=analyses["lag_reduce"], reference=hier["ieeg_reference"],
        fdr_q=hier["ieeg_fdr_q"], min_score=hier["ieeg_min_score"])
    if not electrodes["distance_a1"].notna().any():
        log.warning("%s: no electrode has an MNI position (x, y, z or pos_x/y/z): no distance from A1, "
                    "no hierarchy correlation", model)
    log.info("%s: %d of %d electrodes selected for the distance-from-A1 correlation", model,
             int(electrodes["selected"].sum()), len(electrodes))
    return electrodes.assign(model=model), corr_table.assign(model=model, position_source="distance_a1")


def hierarchy_analysis(scores: Mapping[str, xr.Dataset], trained: Sequence[str], analyses: Mapping) -> HierarchyResult:
    """Best layers, depth at a fraction of the peak and the hierarchy correlation of every model.

    Parameters
    ----------
    scores
        ``{model: Scores}`` with a ``region`` coordinate (random-init controls included).
    trained
        The trained models, whose hierarchy is correlated (the first one's is drawn).
    analyses
        The validated ``analyses`` section (``score``, ``lag_reduce``, ``confidence``, ``hierarchy``).

    Returns
    -------
    HierarchyResult
    """
    hier = analyses["hierarchy"]
    opts = dict(var=analyses["score"], lag_reduce=analyses["lag_reduce"])
    best = {m: best_layers(s, confidence=analyses["confidence"], **opts) for m, s in scores.items()}
    fraction = fraction_of_peak_table(scores, fraction=hier["fraction"], **opts)
    rows, electrode_tables, figures = [], [], []
    for m in trained:
        if not hier["positions"] and is_ieeg(scores[m]):
            electrodes, corr_table = _electrode_rows(m, scores[m], analyses)
            electrode_tables.append(electrodes)
            rows += corr_table.to_dict("records")
            figures.append(HierarchyFigure(m, "electrodes", corr=corr_table.iloc[0].to_dict(), electrodes=electrodes))
            continue
        position, xlabel, source = hierarchy_coordinate(scores[m], best[m], hier, var=analyses["score"])
        corr = hierarchy_correlation(position, best[m]) if position else {"n": 0}
        rows.append({"model": m, "position_source": source, "scope": "regions", "region": "", "subject": "", **corr})
        figures.append(HierarchyFigure(m, "regions" if position else "none", position, xlabel, corr, best[m]))
    correlation = pd.DataFrame(rows)
    lead = ["model", "position_source"]
    correlation = correlation[lead + [c for c in correlation.columns if c not in lead]] if rows else correlation
    table = pd.concat(electrode_tables, ignore_index=True) if electrode_tables else pd.DataFrame(columns=ELECTRODE_COLUMNS)
    return HierarchyResult(best, fraction, correlation, table[[c for c in ELECTRODE_COLUMNS if c in table.columns]],
                           figures[0])
