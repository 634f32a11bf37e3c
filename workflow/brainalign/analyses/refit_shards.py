"""Sharded refits: the forecast and forecast-depth scores as shards within a memory budget.

The analyses that refit encoders hold every subject's every run in one job, as ``encode`` does.
With ``encoding.max_job_memory_gb`` they run as the encode stage's shards do
(:mod:`brainalign.encoding.shards`): each shard fits its subjects' block of targets (read from the
voxel-chunked stores alone) for every cell of the analysis (a forecast distance ``d``, or a
forecast-depth cell ``(k, d)``), through the fit phase of the single job
(:func:`~brainalign.analyses.forecast_fit.window_fits` with ``block``); the gather joins each
cell's parts with :func:`~brainalign.encoding.shards.gather_shards` and finishes them as the single
job does (:func:`~brainalign.analyses.forecast_fit.window_dataset`, then
:func:`~brainalign.analyses.forecast_fit.stack_distances` or
:func:`~brainalign.analyses.forecast_depth.stack_depth`).  The context-length scores are the
encode stage's own fits on other features (:func:`~brainalign.encoding.shards.fit_shard`).

A forecast window widens the design (the window's features join the present's), so its shards are
planned with that wider design (:func:`refit_design_factor`).  The ridge penalty is chosen per
target and the forecast fits use no permutations, so the gathered scores equal the single job's.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Hashable, Iterable, Mapping, Sequence

import xarray as xr

from ..encoding.shards import Shard, ShardResult, gather_shards
from .forecast_depth import depth_cells, depth_relative, stack_depth
from .forecast_fit import forecast_cells, stack_distances, window_dataset, window_fits

#: Version of the refit shard file layout; the gather refuses other versions.
REFIT_FORMAT = 1
#: The analyses sharded here, and the context-length scores (encode's own fits, another feature set).
REFIT_ANALYSES = ("forecast", "forecast_depth", "context")


@dataclass
class RefitShard:
    """One shard of a refitting analysis: every cell's parts (``(cell, part) -> ShardResult``) and settings.

    ``settings`` holds what the gather needs to finish the cells as the single job does (penalty,
    distances, window width and combination; forecast depth: window layers and their relative depth).
    """

    shard: Shard
    analysis: str
    cells: dict[tuple[Hashable, str], ShardResult]
    settings: dict = field(default_factory=dict)
    format: int = REFIT_FORMAT


def refit_design_factor(analysis: str, forecast: Mapping) -> int:
    """How many times the encode design's width one fit of ``analysis`` holds.

    Forecast and forecast depth: the present features plus a window of ``width`` future words'
    features (``combine: concat``, one block per word) or their sum (``sum``, one block); context
    length: 1 (the encode design on other features).
    """
    if analysis not in REFIT_ANALYSES:
        raise ValueError(f"unknown refitting analysis {analysis!r}: expected one of {REFIT_ANALYSES}")
    if analysis == "context":
        return 1
    return 1 + (int(forecast["width"]) if forecast["combine"] == "concat" else 1)


def _shard_inputs(recordings: Mapping, onsets: Mapping | None, shard: Shard) -> tuple[dict, dict | None]:
    """The shard's subjects' recordings and onsets (the others may be absent: a shard reads its own runs)."""
    missing = [s for s in shard.subjects if s not in recordings]
    if missing:
        raise ValueError(f"shard {shard.id}: subjects {missing} have no recordings")
    if shard.n_layer_blocks != 1:
        raise ValueError(f"shard {shard.id}: the refitting analyses fit every layer in each shard "
                         f"(got {shard.n_layer_blocks} layer blocks)")
    recs = {s: recordings[s] for s in shard.subjects}
    return recs, None if onsets is None else {s: v for s, v in onsets.items() if s in recs}


def fit_window_shard(cells: Iterable[tuple[Hashable, Mapping[str, xr.Dataset], Mapping[str, xr.Dataset]]],
                     recordings: Mapping[str, Mapping[str, xr.DataArray]], shard: Shard, *, analysis: str,
                     settings: Mapping, penalty: str, scalings: Sequence[float], min_improvement: float,
                     window_alone: bool, onsets: Mapping | None = None, **encode_options) -> RefitShard:
    """Fit one shard's block of targets for every cell ``(key, present features, window)``.

    ``encode_options``: ``modality``, ``design``, ``encoding``, ``on_beyond_end``, ``word_sources``
    as in :func:`~brainalign.analyses.forecast_fit.window_scores`.
    """
    recs, own_onsets = _shard_inputs(recordings, onsets, shard)
    out: dict[tuple[Hashable, str], ShardResult] = {}
    for key, present, window in cells:
        targets, fits, ceilings = window_fits(present, window, recs, penalty=penalty, scalings=scalings,
                                              min_improvement=min_improvement, window_alone=window_alone,
                                              block=(shard.target_block, shard.n_target_blocks), onsets=own_onsets,
                                              **encode_options)
        meta = targets.metadata()  # the arrays stay here: the gather places fits, it reads no recording
        for part, part_fits in fits.items():
            out[key, part] = ShardResult(shard=shard, subjects=list(recs), targets=meta, fits=part_fits,
                                         ceilings=ceilings if part == "joint" else {})
    return RefitShard(shard=shard, analysis=analysis, cells=out, settings={**settings, "penalty": penalty})


def gather_window_cells(results: Sequence[RefitShard], analysis: str,
                        subjects: Sequence[str] | None = None) -> tuple[dict[Hashable, xr.Dataset], dict]:
    """Every cell's window scores over all shards, as :func:`window_scores` gives them, and the settings.

    Raises
    ------
    ValueError
        No results, results of another analysis or other settings, or parts missing from a shard.
    """
    if not results:
        raise ValueError(f"no {analysis} shard results to gather")
    settings = results[0].settings
    for r in results:
        if r.analysis != analysis or r.settings != settings:
            raise ValueError(f"shard {r.shard.id}: a {r.analysis} shard with settings {r.settings}, expected "
                             f"{analysis} with {settings}")
        if set(r.cells) != set(results[0].cells):
            raise ValueError(f"shard {r.shard.id} holds other cells than shard {results[0].shard.id}")
    parts: dict[Hashable, dict[str, xr.Dataset]] = {}
    for key, part in results[0].cells:
        parts.setdefault(key, {})[part] = gather_shards([r.cells[key, part] for r in results], subjects=subjects)
    return {key: window_dataset(p, settings["penalty"]) for key, p in parts.items()}, dict(settings)


def forecast_shard(features: Mapping[str, xr.Dataset], recordings: Mapping[str, Mapping[str, xr.DataArray]],
                   shard: Shard, *, distances: Sequence[int], width: int, combine: str, penalty: str,
                   scalings: Sequence[float], min_improvement: float, **encode_options) -> RefitShard:
    """One shard of :func:`~brainalign.analyses.forecast_fit.forecast_scores` (the same arguments)."""
    settings = {"distances": [int(d) for d in distances], "width": int(width), "combine": combine}
    return fit_window_shard(forecast_cells(features, distances, width, combine), recordings, shard,
                            analysis="forecast", settings=settings, penalty=penalty, scalings=scalings,
                            min_improvement=min_improvement, window_alone=True, **encode_options)


def gather_forecast(results: Sequence[RefitShard], subjects: Sequence[str] | None = None) -> xr.Dataset:
    """The forecast scores of a sharded run, as :func:`~brainalign.analyses.forecast_fit.forecast_scores` gives."""
    cells, settings = gather_window_cells(results, "forecast", subjects)
    return stack_distances([cells[d] for d in settings["distances"]], settings["distances"],
                           width=settings["width"], combine=settings["combine"])


def depth_shard(features: Mapping[str, xr.Dataset], recordings: Mapping[str, Mapping[str, xr.DataArray]],
                shard: Shard, *, present_layers: Sequence[int], depth_layers: Sequence[int],
                distances: Sequence[int], width: int, combine: str, penalty: str, scalings: Sequence[float],
                min_improvement: float, **encode_options) -> RefitShard:
    """One shard of :func:`~brainalign.analyses.forecast_depth.depth_scores` (the same arguments)."""
    depth_layers = [int(k) for k in depth_layers]
    settings = {"depth_layers": depth_layers, "distances": [int(d) for d in distances], "width": int(width),
                "combine": combine,
                "relative_depth": depth_relative(next(iter(features.values())), depth_layers).tolist()}
    cells = depth_cells(features, present_layers=present_layers, depth_layers=depth_layers, distances=distances,
                        width=width, combine=combine)
    return fit_window_shard(cells, recordings, shard, analysis="forecast_depth", settings=settings, penalty=penalty,
                            scalings=scalings, min_improvement=min_improvement, window_alone=False, **encode_options)


def gather_depth(results: Sequence[RefitShard], subjects: Sequence[str] | None = None) -> xr.Dataset:
    """The forecast-depth grid of a sharded run, as :func:`~brainalign.analyses.forecast_depth.depth_scores` gives."""
    cells, settings = gather_window_cells(results, "forecast_depth", subjects)
    return stack_depth(cells, depth_layers=settings["depth_layers"], distances=settings["distances"],
                       width=settings["width"], combine=settings["combine"],
                       relative_depth=settings["relative_depth"])


def write_refit(result: RefitShard, path: str | Path) -> Path:
    """Write a refit shard's result atomically (a pickle: a transient file between two jobs of one run)."""
    from ..io.atomic import atomic_write_bytes

    return atomic_write_bytes(Path(path), pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


def read_refit(path: str | Path) -> RefitShard:
    """Read a result written by :func:`write_refit`.

    Raises
    ------
    InputError
        A damaged file or one of another layout version, naming it.
    """
    from ..errors import InputError

    try:
        with open(path, "rb") as fh:
            result = pickle.load(fh)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as err:
        raise InputError(path, f"cannot be read as a refit shard result ({type(err).__name__}: {err})",
                         expected="the pickle its *_shard job wrote", hint="delete it and re-run its shard job") from err
    if not isinstance(result, RefitShard) or getattr(result, "format", None) != REFIT_FORMAT:
        raise InputError(path, f"not a refit shard result of format {REFIT_FORMAT}",
                         expected="the file its *_shard job wrote with this version of brainalign",
                         hint="re-run its shard job")
    return result
