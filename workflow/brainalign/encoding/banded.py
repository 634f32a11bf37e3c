"""Banded ridge (several feature spaces, one regularisation per space): a grid solver and himalaya.

Two solvers share the story-wise outer CV and the scores of :func:`brainalign.encoding.cv.cross_validate`:

* :func:`cross_validate_banded_grid` (the forecast windows use it) searches each extra space's
  penalty relative to the first on a small grid of design scalings ``s`` (penalty ``alpha / s^2``),
  with the same alpha grid, inner folds and solver (:func:`~brainalign.encoding.ridge.fit_ridge_cv`)
  as the encode rule.  ``s = 0`` (the extra spaces left out) is always on the grid and wins ties,
  so the joint model nests the first space's own model exactly: where an extra space does not help
  in the inner folds, the joint prediction *is* the first space's prediction.  A grid over 1-2
  ratios is what himalaya's random search over the simplex approximates for many spaces;
* :func:`cross_validate_banded` wraps himalaya's ``BandedRidgeCV`` (random search), for many spaces.

Use banded ridge when a language-model layer is fitted together with controls (word rate, word frequency,
acoustic envelope...) that need their own penalty: a single alpha would let the large LM space
set the penalty for a 1-column control.  himalaya's ``BandedRidgeCV`` searches the per-space
scalings by random search over the simplex with inner K-fold CV; this module wraps it in the same
story-wise outer CV and scores as :func:`brainalign.encoding.cv.cross_validate`, and also returns
each space's share of the prediction (himalaya's split correlation: the r of each space's partial
prediction with the data, which sum to the total r's numerator).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .cv import check_targets, outer_splits, standardize
from .ridge import DEFAULT_ALPHAS, fit_ridge_cv
from .scores import pearson_r, r2_score

_HIMALAYA_BACKENDS = {"numpy": "numpy", "torch": "torch", "torch_cpu": "torch", "torch_cuda": "torch_cuda"}


@dataclass
class BandedCVResult:
    """Outcome of :func:`cross_validate_banded`.

    Attributes
    ----------
    r, r2 : (n_targets,) held-out scores of the joint model, mean over outer folds.
    r_split : (n_spaces, n_targets) split correlation per feature space, mean over outer folds.
    deltas : (n_outer, n_spaces, n_targets) log scalings chosen per fold (``alpha_i = exp(-delta_i)``).
    spaces : names of the feature spaces, in order.
    """

    r: np.ndarray
    r2: np.ndarray
    r_split: np.ndarray
    deltas: np.ndarray
    spaces: list[str]


def cross_validate_banded(
    spaces: dict[str, np.ndarray],
    Y: np.ndarray,
    groups,
    *,
    alphas=DEFAULT_ALPHAS,
    inner_folds: int = 5,
    outer_folds: int | None = None,
    n_iter: int = 20,
    backend: str = "numpy",
    seed: int = 0,
) -> BandedCVResult:
    """Story-wise outer CV of himalaya's banded ridge.

    Parameters
    ----------
    spaces
        ``{name: (n_samples, n_features_i)}`` feature spaces (standardised here per outer fold).
    Y
        (n_samples, n_targets) targets (centred per outer fold).
    groups
        (n_samples,) story label per row.
    alphas
        Grid of global penalties himalaya combines with the space scalings.
    inner_folds, outer_folds
        As in :func:`~brainalign.encoding.cv.cross_validate`.
    n_iter
        Random-search iterations over the simplex of space weights.
    backend
        ``"numpy"``, ``"torch"`` or ``"torch_cuda"`` (himalaya backend).
    seed
        Random-search seed.
    """
    try:  # optional: the rules use the grid solver; himalaya is in the .venv (requirements.txt), not in envs/
        from himalaya.backend import get_backend, set_backend
        from himalaya.ridge import BandedRidgeCV
        from himalaya.scoring import correlation_score_split
    except ImportError as err:
        raise ImportError("cross_validate_banded needs himalaya (pip install himalaya); "
                          "cross_validate_banded_grid does not") from err
    from sklearn.model_selection import KFold

    if not spaces:
        raise ValueError("no feature spaces given")
    names = list(spaces)
    Xs = [np.asarray(spaces[k], dtype=np.float32) for k in names]
    Y = np.asarray(Y, dtype=np.float32)
    for k, x in zip(names, Xs):
        if x.ndim != 2 or x.shape[0] != Y.shape[0]:
            raise ValueError(f"feature space {k!r} has shape {x.shape}; expected ({Y.shape[0]}, n_features)")
    check_targets(Y)
    if backend not in _HIMALAYA_BACKENDS:
        raise ValueError(f"backend={backend!r}: expected one of {sorted(_HIMALAYA_BACKENDS)}")
    splits = outer_splits(np.asarray(groups), outer_folds)
    previous = get_backend().name
    hb = set_backend(_HIMALAYA_BACKENDS[backend], on_error="raise")
    try:
        r_f, r2_f, split_f, deltas = [], [], [], []
        for train, test in splits:
            parts = [standardize(x[train], x[test]) for x in Xs]
            mu = Y[train].mean(0)
            model = BandedRidgeCV(
                groups="input", cv=KFold(inner_folds), random_state=seed,
                solver_params=dict(alphas=np.asarray(alphas, dtype=np.float32), n_iter=n_iter,
                                   progress_bar=False, warn=False))
            model.fit([p[0] for p in parts], Y[train] - mu)
            split_pred = model.predict([p[1] for p in parts], split=True)
            pred = hb.to_numpy(split_pred).sum(0) + mu
            r_f.append(pearson_r(Y[test], pred))
            r2_f.append(r2_score(Y[test], pred))
            split_f.append(hb.to_numpy(correlation_score_split(hb.asarray(Y[test] - Y[test].mean(0)), split_pred)))
            deltas.append(hb.to_numpy(model.deltas_))
    finally:
        set_backend(previous)
    return BandedCVResult(r=np.mean(r_f, 0), r2=np.mean(r2_f, 0), r_split=np.mean(split_f, 0),
                          deltas=np.stack(deltas), spaces=names)


#: Design scalings ``s`` of the extra spaces searched besides 0 (penalty ratio ``1 / s^2``: 100 to 0.1).
DEFAULT_SCALINGS = (0.1, 0.316, 1.0, 3.16)
#: Relative inner-CV error reduction an extra space must bring to enter (see :func:`fit_banded_grid`).
DEFAULT_MIN_IMPROVEMENT = 0.03


@dataclass
class BandedGridResult:
    """Outcome of :func:`cross_validate_banded_grid`.

    Attributes
    ----------
    r, r2 : (n_targets,) held-out scores of the joint model, mean over outer folds.
    alpha : (n_targets,) penalty of the first space, geometric mean over outer folds.
    scalings : (n_spaces - 1, n_targets) design scaling of each extra space, mean over outer folds
        (0 where the space was left out in every fold).
    r_folds, scalings_folds : per outer fold (leading axis).
    spaces : names of the feature spaces, in order.
    """

    r: np.ndarray
    r2: np.ndarray
    alpha: np.ndarray
    scalings: np.ndarray
    r_folds: np.ndarray
    scalings_folds: np.ndarray
    spaces: list[str]


def _check_spaces(spaces: dict[str, np.ndarray], Y: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    if not spaces:
        raise ValueError("no feature spaces given")
    names = list(spaces)
    Xs = [np.asarray(spaces[k]) for k in names]
    for k, x in zip(names, Xs):
        if x.ndim != 2 or x.shape[0] != Y.shape[0]:
            raise ValueError(f"feature space {k!r} has shape {x.shape}; expected ({Y.shape[0]}, n_features)")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"feature space {k!r} contains NaN/inf values")
    return names, Xs


def fit_banded_grid(
    train: list[np.ndarray],
    test: list[np.ndarray],
    Y_train: np.ndarray,
    *,
    alphas=DEFAULT_ALPHAS,
    scalings=DEFAULT_SCALINGS,
    inner_folds: int = 5,
    backend: str = "numpy",
    chunk_size: int | None = None,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Banded ridge on one training set: per target the (alpha, scalings) of least inner-CV error.

    Parameters
    ----------
    train, test
        Standardised spaces (same order) on the training and the test rows.
    Y_train
        (n_train, n_targets) targets (centred here, as :func:`fit_ridge_cv` does).
    alphas, inner_folds, backend, chunk_size
        As in :func:`~brainalign.encoding.ridge.fit_ridge_cv`.
    scalings
        Positive scalings tried for each extra space besides 0 (every combination is fitted).
    min_improvement
        An extra space enters a target's model only if it lowers the inner-CV error of the first
        space alone by at least this fraction.  Picking the least inner-CV error among several
        models favours, by chance, one with a useless space, which then costs on held-out data
        (forecast windows on the default demo, worst region without look-ahead, d = 30: -0.014 r
        with no margin, -0.012 with 1 %, -0.008 with 3 %); the margin keeps the first space alone
        unless the extra one clearly helps (cf. the one-standard-error rule).

    Returns
    -------
    (predictions, best_alpha, best_scalings)
        ``(n_test, n_targets)``, ``(n_targets,)`` and ``(n_spaces - 1, n_targets)``.
    """
    grid = sorted({0.0, *(float(s) for s in scalings)})
    if grid[0] < 0 or len(grid) < 2:
        raise ValueError(f"scalings must be positive numbers, got {list(scalings)}")
    n_t = Y_train.shape[1]
    best_err = np.full(n_t, np.inf)
    preds = np.zeros((test[0].shape[0], n_t), dtype=np.float32)
    best_alpha = np.full(n_t, np.nan)
    best_s = np.zeros((len(train) - 1, n_t))
    alone_err = None
    # (0, ..., 0) first: the first space alone wins ties, so the joint model nests it exactly.
    for combo in itertools.product(grid, repeat=len(train) - 1):
        kept = [0] + [i + 1 for i, s in enumerate(combo) if s > 0]
        scale = [1.0] + [s for s in combo if s > 0]
        Xtr = np.concatenate([train[i] * c for i, c in zip(kept, scale)], axis=1)
        Xte = np.concatenate([test[i] * c for i, c in zip(kept, scale)], axis=1)
        fit = fit_ridge_cv(Xtr, Y_train, alphas, inner_folds=inner_folds, X_test=Xte, center=True,
                           backend=backend, chunk_size=chunk_size)
        if alone_err is None:
            alone_err = fit.cv_mse * (1.0 - min_improvement)
            better = np.ones(n_t, dtype=bool)
        else:
            better = (fit.cv_mse < best_err) & (fit.cv_mse < alone_err)
        best_err[better] = fit.cv_mse[better]
        preds[:, better] = fit.predictions[:, better]
        best_alpha[better] = fit.best_alpha[better]
        best_s[:, better] = np.asarray(combo, dtype=float)[:, None]
    return preds, best_alpha, best_s


def cross_validate_banded_grid(
    spaces: dict[str, np.ndarray],
    Y: np.ndarray,
    groups,
    *,
    alphas=DEFAULT_ALPHAS,
    scalings=DEFAULT_SCALINGS,
    inner_folds: int = 5,
    outer_folds: int | None = None,
    backend: str = "numpy",
    chunk_size: int | None = None,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
) -> BandedGridResult:
    """Story-wise outer CV of banded ridge with a grid over the extra spaces' penalties.

    Same outer folds, per-fold standardisation, inner folds, alpha grid and scores as
    :func:`~brainalign.encoding.cv.cross_validate`; with the extra spaces at scaling 0 in every fold
    the result equals ``cross_validate`` of the first space alone.

    Parameters
    ----------
    spaces
        ``{name: (n_samples, n_features_i)}``; the first is the reference space (its penalty is the
        alpha), the others get ``alpha / s^2`` with ``s`` from ``scalings`` or 0 (left out).
    Y
        (n_samples, n_targets) targets.
    groups
        (n_samples,) story label per row.
    alphas, inner_folds, outer_folds, backend, chunk_size
        As in :func:`~brainalign.encoding.cv.cross_validate`.
    scalings
        Positive design scalings tried for each extra space (0 is always tried).
    min_improvement
        See :func:`fit_banded_grid`.
    """
    Y = np.asarray(Y, dtype=np.float32)
    check_targets(Y)
    names, Xs = _check_spaces(spaces, Y)
    splits = outer_splits(np.asarray(groups), outer_folds)
    r_f, r2_f, a_f, s_f = [], [], [], []
    for train, test in splits:
        parts = [standardize(x[train], x[test]) for x in Xs]
        pred, alpha, scale = fit_banded_grid([p[0] for p in parts], [p[1] for p in parts], Y[train],
                                             alphas=alphas, scalings=scalings, inner_folds=inner_folds,
                                             backend=backend, chunk_size=chunk_size, min_improvement=min_improvement)
        r_f.append(pearson_r(Y[test], pred))
        r2_f.append(r2_score(Y[test], pred))
        a_f.append(alpha)
        s_f.append(scale)
    with np.errstate(invalid="ignore"):
        r, r2 = np.nanmean(r_f, 0), np.nanmean(r2_f, 0)
    return BandedGridResult(r=r, r2=r2, alpha=np.exp(np.log(np.stack(a_f)).mean(0)), scalings=np.mean(s_f, 0),
                            r_folds=np.stack(r_f), scalings_folds=np.stack(s_f), spaces=names)
