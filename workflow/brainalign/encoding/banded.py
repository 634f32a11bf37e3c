"""Banded ridge (several feature spaces, one regularisation per space) through himalaya.

Use it when a language-model layer is fitted together with controls (word rate, word frequency,
acoustic envelope...) that need their own penalty: a single alpha would let the large LM space
set the penalty for a 1-column control.  himalaya's ``BandedRidgeCV`` searches the per-space
scalings by random search over the simplex with inner K-fold CV; this module wraps it in the same
story-wise outer CV and scores as :func:`brainalign.encoding.cv.cross_validate`, and also returns
each space's share of the prediction (himalaya's split correlation: the r of each space's partial
prediction with the data, which sum to the total r's numerator).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cv import check_targets, outer_splits, standardize
from .ridge import DEFAULT_ALPHAS
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
    from himalaya.backend import get_backend, set_backend
    from himalaya.ridge import BandedRidgeCV
    from himalaya.scoring import correlation_score_split
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
