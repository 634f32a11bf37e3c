"""Forecast depth and the hierarchy of forecasts (Caucheteux et al. 2023, Nat. Hum. Behav. 7:430).

The forecast windows of :mod:`brainalign.analyses.forecast` hold the future words' features from
the *same* layer as the present word.  The paper also asks which layer's representation of the
future words helps most: the forecast depth ``k``.  Here the window at distance ``d`` is built from
layer ``k`` while the present features keep their own layers, so that

    F(d, k) = score(present layers + window of layer k at distance d) - score(present layers)

is computed per subject and unit with :func:`brainalign.analyses.forecast.forecast_gain` (one call
per ``k``).  Each unit's best cell of the (d, k) map gives its forecast distance ``d*`` and depth
``k*``; across units both are correlated with the hierarchy position, as
:func:`brainalign.analyses.hierarchy.hierarchy_correlation` does for the best layer.

* :func:`depth_grid` - the analysis' (present layer, k, d) grid (whether it runs:
  :func:`brainalign.analyses.plan.depth_enabled`).
* :func:`depth_window` - the forecast window from layer ``k`` (the forecast analysis' own windows).
* :func:`depth_scores` - the scores over the (d, k) grid, each cell fitted as the forecast analysis
  fits F(d) (:func:`brainalign.analyses.forecast_fit.window_scores`: present and window as separate
  bands, banded penalty by default).
* :func:`depth_gain` / :func:`depth_gain_table` - the gain map F(d, k), per subject and tidy.
* :func:`best_forecast_depth` - ``d*`` and ``k*`` per unit, with the across-subject test.
* :func:`forecast_hierarchy_correlation` - ``d*`` and ``k*`` against the hierarchy position.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from brainalign.config_checks import check_layers

from .forecast import forecast_gain
from .forecast_fit import forecast_window, window_scores
from .hierarchy import hierarchy_correlation
from .settings import evenly_spaced_layers
from .units import LagReduce, subject_stats

#: Dimension of the window's source layer ``k`` in the scores grid and the gain map (``layer`` stays
#: the present features' layer, as in every Scores dataset).
DEPTH_DIM = "depth_layer"


def depth_grid(forecast: Mapping, feature_layers: Sequence[int], base_layers: Sequence[int], *,
               features_store: str = "the features", base_store: str = "the base scores"
               ) -> tuple[list[int], list[int], list[int]]:
    """The present layers, window layers ``k`` and distances ``d`` of the forecast-depth grid.

    Present layers are those of the forecast analysis (``layers``, else ``n_layers`` evenly spaced
    among the layers the base scores and the features share), so that F(d, k) compares like with
    like; window layers are ``depth_layers``, else ``n_depth_layers`` evenly spaced among all the
    features' layers (first and last included); distances are ``depth_distances``, else ``distances``.

    Raises
    ------
    brainalign.errors.ConfigError
        A requested layer that is missing, naming the key, the store and the layers present.
    """
    common = sorted(set(int(v) for v in base_layers) & set(int(v) for v in feature_layers))
    present = (check_layers(forecast["layers"], common, "analyses.forecast.layers",
                            f"both {base_store} and {features_store}")
               if forecast["layers"] else evenly_spaced_layers(common, forecast["n_layers"]))
    available = sorted(int(v) for v in feature_layers)
    ks = (check_layers(forecast["depth_layers"], available, "analyses.forecast.depth_layers", features_store)
          if forecast["depth_layers"] else evenly_spaced_layers(available, forecast["n_depth_layers"]))
    distances = [int(d) for d in (forecast["depth_distances"] or forecast["distances"])]
    return present, ks, distances


def depth_window(features: Mapping[str, xr.Dataset], depth_layer: int, distance: int, width: int = 1,
                 combine: str = "concat") -> dict[str, xr.Dataset]:
    """The forecast window from layer ``k``: layer ``k``'s features of the words ahead, per story.

    Built by :func:`brainalign.analyses.forecast_fit.forecast_window` (the ordinary forecast
    analysis' own windows) on layer ``k`` alone, so the two analyses share one window definition;
    its single layer joins every present layer in :func:`~brainalign.analyses.forecast_fit.window_scores`.

    Parameters
    ----------
    features
        ``{story: Features dataset}`` (``hidden``: ``word × layer × feature``).
    depth_layer
        Layer ``k`` whose features of words ``t + d … t + d + w − 1`` form the window.
    distance, width, combine
        As in :func:`brainalign.features.forecast_features` (``d >= 1``, ``w >= 1``, ``concat``
        or ``sum``).

    Returns
    -------
    dict[str, xr.Dataset]
        ``{story: Dataset}`` with ``hidden`` (``word × layer × feature``, one layer: ``k``); rows
        whose window passes the story's end hold zeros there.

    Raises
    ------
    ValueError
        A story whose features lack layer ``k`` (naming it and the layers present).
    """
    for story, ds in features.items():
        have = [int(v) for v in ds["layer"].values]
        if int(depth_layer) not in have:
            raise ValueError(f"forecast depth: layer {depth_layer} is not in the features of story {story!r} "
                             f"(layers {have})")
    return forecast_window({story: ds.sel(layer=[int(depth_layer)]) for story, ds in features.items()},
                           int(distance), width, combine)


def depth_scores(features: Mapping[str, xr.Dataset], recordings: Mapping[str, Mapping[str, xr.DataArray]], *,
                 present_layers: Sequence[int], depth_layers: Sequence[int], distances: Sequence[int],
                 width: int, combine: str, penalty: str, scalings: Sequence[float], min_improvement: float,
                 log: Callable[[str], None] | None = None, **encode_options) -> xr.Dataset:
    """Scores of the present layers + a window from layer ``k`` at distance ``d``, over the (d, k) grid.

    Each cell is one :func:`brainalign.analyses.forecast_fit.window_scores` fit, present features
    and window as separate bands, with the forecast analysis' penalty choice: with ``"banded"`` the
    window has its own penalty (or is left out), so a window that carries nothing costs ~0 and
    F(d, k) is not biased down by the window's extra columns, as it is with one ``"shared"`` penalty.

    Parameters
    ----------
    features
        ``{story: Features dataset}`` holding the present layers and every window layer.
    recordings
        As in :func:`brainalign.encoding.encode_dataset`.
    present_layers, depth_layers, distances
        The present layers, the window's source layers ``k`` and the distances ``d``.
    width, combine
        The window (see :func:`depth_window`).
    penalty, scalings, min_improvement
        The joint model's penalty (``analyses.forecast.penalty``, ``window_scalings``,
        ``window_min_improvement``; see :func:`~brainalign.analyses.forecast_fit.window_scores`).
    log
        Progress messages (one per grid cell), e.g. a logger's ``info``.
    **encode_options
        ``modality``, ``design``, ``encoding`` (complete settings), ``onsets``, ``on_beyond_end``,
        ``word_sources``, as in :func:`~brainalign.analyses.forecast_fit.window_scores`.

    Returns
    -------
    xr.Dataset
        The joint model's Scores variables plus ``window_scaling``, with two more dims, ``distance``
        and ``depth_layer`` (coordinate ``depth_relative_depth``: ``k``'s relative depth in the
        features); attribute ``penalty``.
    """
    cells = {}
    for (k, d), present, window in depth_cells(features, present_layers=present_layers, depth_layers=depth_layers,
                                               distances=distances, width=width, combine=combine):
        if log is not None:
            log(f"forecast depth: window from layer {k} at d = {d}, present layers {list(present_layers)}, "
                f"{penalty} penalty")
        # the depth map needs no window-alone scores (no variance partition): one fit less per cell
        cells[k, d] = window_scores(present, window, recordings, penalty=penalty, scalings=scalings,
                                    min_improvement=min_improvement, window_alone=False, **encode_options)
    return stack_depth(cells, depth_layers=depth_layers, distances=distances, width=width, combine=combine,
                       relative_depth=depth_relative(next(iter(features.values())), depth_layers))


def depth_cells(features: Mapping[str, xr.Dataset], *, present_layers: Sequence[int], depth_layers: Sequence[int],
                distances: Sequence[int], width: int, combine: str
                ) -> Iterator[tuple[tuple[int, int], dict[str, xr.Dataset], dict[str, xr.Dataset]]]:
    """The cells of the (k, d) grid, one at a time: ``((k, d), present features, window of layer k at d)``.

    Shared by :func:`depth_scores` and the shards of a sharded run
    (:mod:`brainalign.analyses.refit_shards`); each cell is fitted as
    :func:`~brainalign.analyses.forecast_fit.window_scores` fits it, with ``window_alone=False``.

    Raises
    ------
    ValueError
        An empty grid, or present layers missing from the features (naming them and the layers present).
    """
    distances = [int(d) for d in distances]
    depth_layers = [int(k) for k in depth_layers]
    present_layers = [int(p) for p in present_layers]
    if not distances or not depth_layers or not present_layers:
        raise ValueError("forecast depth: present_layers, depth_layers and distances must be non-empty")
    have = [int(v) for v in next(iter(features.values()))["layer"].values]
    if missing := [p for p in present_layers if p not in have]:
        raise ValueError(f"forecast depth: present layers {missing} are not in the features (layers {have})")
    present = {story: ds.sel(layer=present_layers) for story, ds in features.items()}
    for k in depth_layers:
        for d in distances:
            yield (k, d), present, depth_window(features, k, d, width, combine)


def depth_relative(features: xr.Dataset, depth_layers: Sequence[int]) -> np.ndarray:
    """Relative depth of each window layer ``k`` (the features' ``relative_depth``; NaN without it)."""
    depth_layers = [int(k) for k in depth_layers]
    if "relative_depth" not in features.coords:
        return np.full(len(depth_layers), np.nan)
    return np.asarray(features["relative_depth"].sel(layer=depth_layers).values, dtype=float)


def stack_depth(cells: Mapping[tuple[int, int], xr.Dataset], *, depth_layers: Sequence[int], distances: Sequence[int],
                width: int, combine: str, relative_depth: Sequence[float]) -> xr.Dataset:
    """The cells' scores (``{(k, d): window scores}``) as the grid :func:`depth_scores` returns."""
    distances = [int(d) for d in distances]
    depth_layers = [int(k) for k in depth_layers]
    per_k = []
    for k in depth_layers:
        per_d = [cells[k, d].drop_vars(["r_window", "r2_window"]) for d in distances]
        per_k.append(xr.concat(per_d, dim=xr.DataArray(distances, dims="distance", name="distance"),
                               coords="minimal", compat="override"))
    grid = xr.concat(per_k, dim=xr.DataArray(depth_layers, dims=DEPTH_DIM, name=DEPTH_DIM),
                     coords="minimal", compat="override")
    grid.attrs.update(forecast_width=int(width), forecast_combine=combine)
    return grid.assign_coords(depth_relative_depth=(DEPTH_DIM, np.asarray(relative_depth, dtype=float)))


def depth_gain(base: xr.Dataset, grid: xr.Dataset, *, var: str = "r", by: str | None = "region",
               layer: int | str = "peak", lag_reduce: LagReduce = "mean") -> xr.DataArray:
    """The gain map F(d, k) per subject and unit.

    Parameters
    ----------
    base
        Scores of the present features alone.
    grid
        Output of :func:`depth_scores` (the same targets and subjects as ``base``).
    var, by, layer, lag_reduce
        As in :func:`brainalign.analyses.forecast.forecast_gain` (``layer="peak"``: each side's
        best present layer per subject and unit).

    Returns
    -------
    xr.DataArray
        ``forecast_gain`` with dims ``subject × <unit> × distance × depth_layer`` and coordinate
        ``depth_relative_depth``.
    """
    for dim in ("distance", DEPTH_DIM):
        if dim not in grid.dims:
            raise ValueError(f"forecast depth scores lack the {dim!r} dimension (expected the output of depth_scores)")
    parts = []
    for k in grid[DEPTH_DIM].values:
        cell = grid.sel({DEPTH_DIM: k}, drop=True)
        by_d = {int(d): cell.sel(distance=d, drop=True) for d in grid["distance"].values}
        parts.append(forecast_gain(base, by_d, var=var, by=by, layer=layer, lag_reduce=lag_reduce))
    gain = xr.concat(parts, dim=xr.DataArray(grid[DEPTH_DIM].values, dims=DEPTH_DIM, name=DEPTH_DIM),
                     coords="minimal", compat="override")
    if "depth_relative_depth" in grid.coords:
        gain = gain.assign_coords(depth_relative_depth=(DEPTH_DIM, grid["depth_relative_depth"].values))
    gain.name = "forecast_gain"
    gain.attrs = dict(parts[0].attrs)
    return gain.transpose("subject", ..., "distance", DEPTH_DIM)


def _unit(gain: xr.DataArray) -> str:
    rest = [d for d in gain.dims if d not in ("subject", "distance", DEPTH_DIM)]
    if len(rest) != 1:
        raise ValueError(f"forecast depth gain must have dims subject × unit × distance × {DEPTH_DIM}, got {gain.dims}")
    return rest[0]


def depth_gain_table(gain: xr.DataArray, confidence: float = 0.95) -> pd.DataFrame:
    """Tidy F(d, k): one row per unit, window layer and distance, with the across-subject statistics.

    Returns
    -------
    pd.DataFrame
        ``<unit>, depth_layer, depth_relative_depth, distance, mean, sem, ci_low, ci_high, t, p,
        n_subjects`` (``p``: one-sided t-test of F > 0 across subjects).
    """
    unit = _unit(gain)
    st = subject_stats(gain, confidence)
    keep = (unit, "distance", DEPTH_DIM, "depth_relative_depth")
    df = st.drop_vars([c for c in st.coords if c not in keep]).to_dataframe().reset_index()
    if "depth_relative_depth" not in df:
        df["depth_relative_depth"] = np.nan
    df["n_subjects"] = int(gain.sizes["subject"])
    cols = [unit, DEPTH_DIM, "depth_relative_depth", "distance", "mean", "sem", "ci_low", "ci_high", "t", "p",
            "n_subjects"]
    return df[cols]


def best_forecast_depth(gain: xr.DataArray, *, min_gain: float = 0.01, alpha: float = 0.05,
                        confidence: float = 0.95) -> pd.DataFrame:
    """Each unit's best cell of the gain map: forecast distance ``d*`` and forecast depth ``k*``.

    The cell maximises the subject-mean F(d, k); as for :func:`~brainalign.analyses.forecast.best_distance`
    it counts only if that mean gain exceeds ``min_gain`` and is significant across subjects
    (one-sided t-test, ``p < alpha``; one subject: ``min_gain`` only).  Otherwise the unit has no
    forecast benefit: ``d_star = 0``, ``k_star = -1``.

    Returns
    -------
    pd.DataFrame
        ``<unit>, d_star, k_star, k_star_relative_depth, argmax_distance, argmax_depth_layer, gain,
        ci_low, ci_high, p, significant``.
    """
    unit = _unit(gain)
    st = subject_stats(gain, confidence)
    mean = st["mean"].transpose(unit, "distance", DEPTH_DIM).values
    distances = gain["distance"].values
    ks = gain[DEPTH_DIM].values
    rel = gain["depth_relative_depth"].values if "depth_relative_depth" in gain.coords else np.full(ks.size, np.nan)
    rows = []
    for j, name in enumerate(gain[unit].values):
        m = mean[j]
        if not np.isfinite(m).any():
            rows.append({unit: name, "d_star": 0, "k_star": -1, "k_star_relative_depth": np.nan,
                         "argmax_distance": -1, "argmax_depth_layer": -1, "gain": np.nan, "ci_low": np.nan,
                         "ci_high": np.nan, "p": np.nan, "significant": False})
            continue
        i_d, i_k = np.unravel_index(int(np.nanargmax(m)), m.shape)
        pick = {unit: j, "distance": int(i_d), DEPTH_DIM: int(i_k)}
        p = float(st["p"].isel(pick))
        sig = bool(m[i_d, i_k] > min_gain and (p < alpha if np.isfinite(p) else gain.sizes["subject"] == 1))
        rows.append({unit: name, "d_star": int(distances[i_d]) if sig else 0, "k_star": int(ks[i_k]) if sig else -1,
                     "k_star_relative_depth": float(rel[i_k]) if sig else np.nan,
                     "argmax_distance": int(distances[i_d]), "argmax_depth_layer": int(ks[i_k]),
                     "gain": float(m[i_d, i_k]), "ci_low": float(st["ci_low"].isel(pick)),
                     "ci_high": float(st["ci_high"].isel(pick)), "p": p, "significant": sig})
    return pd.DataFrame(rows)


def forecast_hierarchy_correlation(position: Mapping[str, float] | pd.Series, best: pd.DataFrame, *,
                                   unit: str = "region") -> pd.DataFrame:
    """Do ``d*`` and ``k*`` grow along the hierarchy?  Spearman and Pearson across units.

    Only units with a significant forecast gain enter: ``d* = 0`` means *no forecast*, not a
    forecast of the present word, and would pull the correlation towards the noise units.

    Parameters
    ----------
    position
        ``{unit: hierarchy position}``; units absent from ``best`` or without a significant gain
        are left out.
    best
        Output of :func:`best_forecast_depth`.

    Returns
    -------
    pd.DataFrame
        Two rows, ``quantity`` = ``d_star`` and ``k_star_relative_depth``, with ``n,
        spearman_rho, spearman_p, pearson_r, pearson_p`` (NaN with fewer than 3 units).
    """
    position = pd.Series(position, dtype=float)
    sig = best[best["significant"].astype(bool)]
    names = set(sig[unit].astype(str))
    position = position[[str(u) in names for u in position.index]]
    table = sig.assign(**{unit: sig[unit].astype(str)})
    rows = []
    for column in ("d_star", "k_star_relative_depth"):
        corr = hierarchy_correlation(position, table, unit=unit, column=column) if len(position) else \
            {"n": 0, "spearman_rho": np.nan, "spearman_p": np.nan, "pearson_r": np.nan, "pearson_p": np.nan}
        rows.append({"quantity": column, **corr})
    return pd.DataFrame(rows)
