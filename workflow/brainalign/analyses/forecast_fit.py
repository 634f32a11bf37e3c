"""Encoder scores of present features plus a forecast window (Caucheteux et al. 2023), per distance.

The forecast gain F(d) = R(present + window) - R(present) compares two nested models.  Fitted with
one ridge penalty over the concatenated features (``penalty="shared"``), the window's extra columns
pull the shared alpha away from the present features' own optimum, so a window that carries nothing
*lowers* the joint score: on the default demo the planted regions with no look-ahead lost 0.04-0.09 r
at every distance.  ``penalty="banded"`` (default) gives the window its own penalty
(:func:`brainalign.encoding.banded.cross_validate_banded_grid`): the window can also be left out
(scaling 0), so the joint model nests the present model and F(d) is ~0 where the window does not help.

Both fits also score the window alone, for the variance partition of
:func:`brainalign.analyses.forecast.band_partition` (unique/shared variance of present and window).
"""

from __future__ import annotations

import logging
from typing import Iterator, Mapping, Sequence

import numpy as np
import xarray as xr

from ..config_checks import check_layers
from ..encoding.banded import DEFAULT_MIN_IMPROVEMENT, DEFAULT_SCALINGS, cross_validate_banded_grid
from ..encoding.cv import cross_validate
from ..encoding.pipeline import (EncodingTargets, GroupFit, assemble_scores, collect_targets, fit_group,
                                 group_ceiling, group_problem, subject_groups)
from ..features.forecast import forecast_features
from .settings import evenly_spaced_layers

PENALTIES = ("banded", "shared")

log = logging.getLogger(__name__)


def _with_hidden(ds: xr.Dataset, hidden: np.ndarray) -> xr.Dataset:
    """``ds`` (its words, layers, coordinates and attributes) with another ``word x layer x feature`` block."""
    base = ds.drop_vars(list(ds.data_vars))
    base = base.drop_vars([c for c in base.coords if "feature" in base[c].dims])
    return base.assign(hidden=(("word", "layer", "feature"), np.asarray(hidden, dtype=np.float32)))


def _window_like(features: Mapping[str, xr.Dataset], window: Mapping[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """The window on the present features' words and layers (a single window layer joins every layer)."""
    out = {}
    for story, ds in features.items():
        if story not in window:
            raise ValueError(f"the forecast window has no features for story {story!r}")
        win = window[story]["hidden"]
        if win.dims != ("word", "layer", "feature") or win.sizes["word"] != ds.sizes["word"]:
            raise ValueError(f"story {story!r}: the window's 'hidden' must be word x layer x feature with the "
                             f"present features' {ds.sizes['word']} words, got {dict(win.sizes)}")
        layers = ds["layer"].values
        if win.sizes["layer"] == 1:
            # one window (e.g. one chosen layer's future words) joins every present layer
            values = np.repeat(win.values, len(layers), axis=1)
        elif not np.isin(layers, win["layer"].values).all():
            raise ValueError(f"story {story!r}: the window has layers {win['layer'].values.tolist()}, not all of "
                             f"the present features' {layers.tolist()} (or give a single window layer)")
        else:
            values = win.sel(layer=layers).values
        out[story] = _with_hidden(ds, values)
    return out


def _group_fits(features, window, targets, group, grid: dict, alone_too) -> tuple[GroupFit, GroupFit, GroupFit]:
    """Joint banded fit, window-alone fit (NaN unless ``alone_too``) and the window's scaling of one group."""
    enc = targets.encoding
    present, ahead = group_problem(features, targets, group), group_problem(window, targets, group)
    keys = ("r", "r2", "alpha")
    joint = {k: np.full((len(targets.layers), present.Y.shape[1]), np.nan, np.float32) for k in keys}
    alone = {k: v.copy() for k, v in joint.items()}
    scale = np.full_like(joint["r"], np.nan)
    opts = dict(alphas=enc["alphas"], inner_folds=enc["inner_folds"], outer_folds=enc["outer_folds"],
                backend=enc["backend"], chunk_size=enc["chunk_size"])
    for i, layer in enumerate(targets.layers):
        Xp, Xw = present.design_of_layer(layer), ahead.design_of_layer(layer)
        res = cross_validate_banded_grid({"present": Xp, "window": Xw}, present.Y, present.rows_story,
                                         **grid, **opts)
        joint["r"][i], joint["r2"][i], joint["alpha"][i], scale[i] = res.r, res.r2, res.alpha, res.scalings[0]
        if alone_too:
            win = cross_validate(Xw, present.Y, present.rows_story, **opts)
            alone["r"][i], alone["r2"][i], alone["alpha"][i] = win.r, win.r2, win.alpha

    def per_subject(arrays):
        return GroupFit(subjects=list(group), layers=list(targets.layers),
                        scores={s: {k: v[..., c] for k, v in arrays.items()} for s, c in present.columns.items()})
    # assemble_scores places r/r2/alpha; the scaling rides in those slots of a third fit
    return per_subject(joint), per_subject(alone), per_subject({k: scale for k in keys})


def window_fits(
    features: Mapping[str, xr.Dataset],
    window: Mapping[str, xr.Dataset],
    recordings: Mapping[str, Mapping[str, xr.DataArray]],
    *,
    penalty: str = "banded",
    scalings: Sequence[float] = DEFAULT_SCALINGS,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
    window_alone: bool = True,
    block: tuple[int, int] | None = None,
    **encode_options,
) -> tuple[EncodingTargets, dict[str, list[GroupFit]], dict[str, np.ndarray]]:
    """The fit phase of :func:`window_scores`: the targets and every group's fits, not yet assembled.

    Shared by the single job (:func:`window_scores`) and the shards of a sharded run
    (:mod:`brainalign.analyses.refit_shards`, ``block=(k, K)``: only target block ``k`` of ``K``).

    Returns
    -------
    tuple
        The targets (:func:`~brainalign.encoding.collect.collect_targets`), the fits per part
        (``joint``; ``alone``, the window alone, absent with a shared penalty and no ``window_alone``;
        ``scale``, banded only: the window's scaling in the ``r``/``r2``/``alpha`` slots) and the
        inter-subject ceilings of the joint model (shared penalty, as :func:`encode_dataset` gives).
    """
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
    encode_options = {**encode_options, "encoding": {**encode_options["encoding"], "n_permutations": 0}}
    window = _window_like(features, window)
    targets = collect_targets(features, recordings, block=block, **encode_options)
    fits: dict[str, list[GroupFit]] = {}
    ceilings: dict[str, np.ndarray] = {}
    for group in subject_groups(targets):
        if penalty == "shared":
            # one penalty over the concatenated features (what encode_dataset of the joined features fits)
            joined = {s: _with_hidden(ds, np.concatenate([ds["hidden"].values, window[s]["hidden"].values], axis=-1))
                      for s, ds in features.items()}
            parts = {"joint": fit_group(joined, targets, group)}
            if window_alone:
                parts["alone"] = fit_group(window, targets, group)
            ceilings.update(group_ceiling(targets, group))
        else:
            grid = {"scalings": scalings, "min_improvement": min_improvement}
            parts = dict(zip(("joint", "alone", "scale"),
                             _group_fits(features, window, targets, group, grid, window_alone)))
        for name, fit in parts.items():
            fits.setdefault(name, []).append(fit)
    return targets, fits, ceilings


def window_dataset(parts: Mapping[str, xr.Dataset], penalty: str) -> xr.Dataset:
    """The finishing phase of :func:`window_scores`: the assembled parts of :func:`window_fits` as one dataset.

    ``parts``: ``joint`` (and ``alone``, ``scale`` where :func:`window_fits` fitted them) assembled
    into Scores datasets (:func:`~brainalign.encoding.assemble.assemble_scores`, or the gather of a
    sharded run).
    """
    joint = parts["joint"].copy()
    alone = parts["alone"] if "alone" in parts else xr.full_like(joint, np.nan)
    if penalty == "shared":
        joint["window_scaling"] = xr.ones_like(joint["r"])
    else:
        joint["window_scaling"] = parts["scale"]["r"]
    joint["r_window"], joint["r2_window"] = alone["r"], alone["r2"]
    joint["r_window"].attrs["description"] = "held-out Pearson r of the window features alone"
    joint["window_scaling"].attrs["description"] = (
        "design scaling of the window band (its penalty is alpha / scaling^2; 0 = left out), mean over outer folds")
    joint.attrs["penalty"] = penalty
    return joint


def window_scores(
    features: Mapping[str, xr.Dataset],
    window: Mapping[str, xr.Dataset],
    recordings: Mapping[str, Mapping[str, xr.DataArray]],
    *,
    modality: str,
    design: dict,
    encoding: dict,
    penalty: str = "banded",
    scalings: Sequence[float] = DEFAULT_SCALINGS,
    onsets: Mapping | None = None,
    on_beyond_end: str = "error",
    word_sources: Mapping[str, str] | None = None,
    window_alone: bool = True,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
) -> xr.Dataset:
    """Scores of the present features plus one window block (any feature block), and of the window alone.

    Parameters
    ----------
    features
        ``{story: Dataset}`` (Features contract, layers already selected): the present features.
    window
        ``{story: Dataset}`` with ``hidden`` (``word x layer x feature``) on the same words: the
        features of the words ahead (:func:`forecast_window`), or any other block; its layers are
        paired with the present's by number, or a single window layer joins every present layer.
    recordings, modality, design, encoding, onsets, on_beyond_end, word_sources
        As in :func:`brainalign.encoding.encode_dataset` (``n_permutations`` is not used here: F(d) is
        tested across subjects).
    penalty
        ``"banded"``: one penalty per band (the window's searched on ``scalings`` relative to the
        present's, or left out); ``"shared"``: one penalty over the concatenated features.
    scalings
        Design scalings of the window tried besides 0 (banded only).
    min_improvement
        Relative inner-CV error reduction the window must bring to enter a target's model (banded
        only; :func:`brainalign.encoding.banded.fit_banded_grid`).
    window_alone
        Also score the window alone (``r_window``, ``r2_window``: the variance partition needs them;
        False leaves them NaN and saves one fit per layer).

    Returns
    -------
    xr.Dataset
        Scores contract of the joint model (``r``, ``r2``, ``alpha``) plus ``r_window``, ``r2_window``
        (the window alone) and ``window_scaling`` (banded: the window's mean scaling over outer folds,
        0 = left out; shared: 1); attribute ``penalty``.
    """
    targets, fits, ceilings = window_fits(features, window, recordings, penalty=penalty, scalings=scalings,
                                          min_improvement=min_improvement, window_alone=window_alone,
                                          modality=modality, design=design, encoding=encoding, onsets=onsets,
                                          on_beyond_end=on_beyond_end, word_sources=word_sources)
    parts = {name: assemble_scores(targets, part, ceilings if name == "joint" else None)
             for name, part in fits.items()}
    return window_dataset(parts, penalty)


def forecast_layers(base_layers: Sequence[int], feature_layers: Sequence[int], forecast: Mapping, *,
                    sources: str = "the base scores and the features") -> list[int]:
    """The layers encoded with forecast windows: ``forecast["layers"]`` (each must be in both the base
    scores and the features), else ``forecast["n_layers"]`` evenly spaced among the common ones, so
    that F(d) compares like with like.

    Raises
    ------
    ConfigError
        A requested layer missing, naming ``analyses.forecast.layers``, ``sources`` and the layers present.
    """
    common = np.intersect1d(np.asarray(base_layers), np.asarray(feature_layers))
    if forecast.get("layers"):
        return check_layers(forecast["layers"], common, "analyses.forecast.layers", sources)
    return evenly_spaced_layers(common, forecast["n_layers"])


def forecast_window(features: Mapping[str, xr.Dataset], distance: int, width: int = 1,
                    combine: str = "concat") -> dict[str, xr.Dataset]:
    """The window block alone (the future words' features) at one distance, per story."""
    out = {}
    for story, ds in features.items():
        fc = forecast_features(ds, [distance], width, combine).isel(distance=0, drop=True)
        out[story] = fc[["hidden"]].isel(feature=np.flatnonzero(fc["block"].values > 0)).drop_vars("block")
    return out


def forecast_cells(features: Mapping[str, xr.Dataset], distances: Sequence[int], width: int = 1,
                   combine: str = "concat") -> Iterator[tuple[int, Mapping[str, xr.Dataset], dict[str, xr.Dataset]]]:
    """The forecast analysis' fits, one at a time: ``(d, present features, window at d)``.

    Shared by :func:`forecast_scores` and the shards of a sharded run
    (:mod:`brainalign.analyses.refit_shards`).
    """
    for d in distances:
        yield int(d), features, forecast_window(features, int(d), width, combine)


def forecast_scores(
    features: Mapping[str, xr.Dataset],
    recordings: Mapping[str, Mapping[str, xr.DataArray]],
    *,
    distances: Sequence[int],
    width: int = 1,
    combine: str = "concat",
    penalty: str = "banded",
    scalings: Sequence[float] = DEFAULT_SCALINGS,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
    **encode_options,
) -> xr.Dataset:
    """:func:`window_scores` of the forecast window at every distance, stacked along ``distance``.

    Parameters
    ----------
    features
        ``{story: Dataset}`` with the layers to encode already selected.
    distances, width, combine
        The windows (:func:`brainalign.features.forecast_features`).
    penalty, scalings, min_improvement
        See :func:`window_scores`.
    **encode_options
        ``recordings`` are positional; ``modality``, ``design``, ``encoding``, ``onsets``,
        ``on_beyond_end``, ``word_sources`` as in :func:`window_scores`.
    """
    per_distance = []
    for d, present, window in forecast_cells(features, distances, width, combine):
        log.info("distance %d: width %d (%s), %s penalty", d, width, combine, penalty)
        per_distance.append(window_scores(present, window, recordings, penalty=penalty, scalings=scalings,
                                          min_improvement=min_improvement, **encode_options))
    return stack_distances(per_distance, distances, width=width, combine=combine)


def stack_distances(per_distance: Sequence[xr.Dataset], distances: Sequence[int], *, width: int,
                    combine: str) -> xr.Dataset:
    """:func:`window_scores` of every distance stacked along ``distance`` (the forecast scores' layout)."""
    out = xr.concat(list(per_distance), dim=xr.DataArray([int(d) for d in distances], dims="distance",
                                                         name="distance"), coords="minimal", compat="override")
    out.attrs.update(forecast_width=int(width), forecast_combine=combine)
    return out
