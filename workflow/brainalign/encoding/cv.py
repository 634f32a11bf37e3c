"""Nested cross-validation: outer folds by story/run, inner K-fold alpha selection.

Scores are computed on each held-out fold (one story, or a group of stories) and then **averaged
over folds**, as Caucheteux et al. do and as the Huth lab does per held-out story.  Averaging keeps
each held-out story an independent replication: concatenating predictions across folds would fold
between-fold differences in offset and scale (different alphas, different training sets) into r.
``cross_validate(..., return_predictions=True)`` also returns the concatenated predictions for
analyses that need them (permutation statistics, noise ceilings).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .backends import NumpyBackend, TorchBackend
from .ridge import DEFAULT_ALPHAS, fit_ridge_cv, kfold_blocks
from .scores import pearson_r, r2_score


def outer_splits(groups, n_folds: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test row indices with whole groups (stories/runs) held out.

    Parameters
    ----------
    groups
        (n_samples,) group label of each row (e.g. the story).
    n_folds
        ``None``: leave one group out.  Otherwise at most ``n_folds`` folds, groups assigned to folds
        in order of first appearance, round robin (deterministic, like ``GroupKFold`` without sizes).

    Returns
    -------
    list of (train, test) index arrays.  Every row is tested exactly once.

    Notes
    -----
    With a single group no story-wise split exists: the function warns and falls back to
    contiguous blocks (``n_folds`` or 5) of that group, which still keeps neighbouring,
    autocorrelated samples together but is more optimistic than a held-out story.
    """
    groups = np.asarray(groups)
    labels, first = np.unique(groups, return_index=True)
    labels = labels[np.argsort(first)]
    n = groups.size
    if labels.size == 1:
        k = n_folds or 5
        warnings.warn(
            f"only one story/run ({labels[0]!r}): no story-wise outer split is possible; falling back to "
            f"{k} contiguous blocks of it (scores are more optimistic than with a held-out story)",
            UserWarning, stacklevel=2)
        blocks = kfold_blocks(n, k)
        return [(np.setdiff1d(np.arange(n), b), b) for b in blocks]
    k = labels.size if n_folds is None else min(n_folds, labels.size)
    if k < 2:
        raise ValueError(f"outer_folds={n_folds}: need at least 2 outer folds")
    fold_of_label = {lab: i % k for i, lab in enumerate(labels)}
    fold = np.array([fold_of_label[g] for g in groups])
    return [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(k)]


@dataclass
class CVResult:
    """Outcome of :func:`cross_validate`.

    Attributes
    ----------
    r, r2 : (n_targets,) held-out scores, mean over outer folds.
    alpha : (n_targets,) geometric mean over outer folds of the chosen alpha.
    r_folds, r2_folds, alpha_folds : (n_outer, n_targets) per-fold values.
    splits : the outer (train, test) index arrays.
    predictions : (n_samples, n_targets) held-out predictions (each row from the fold that tested it),
        only with ``return_predictions=True``.
    """

    r: np.ndarray
    r2: np.ndarray
    alpha: np.ndarray
    r_folds: np.ndarray
    r2_folds: np.ndarray
    alpha_folds: np.ndarray
    splits: list = field(default_factory=list)
    predictions: np.ndarray | None = None


def standardize(X_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Z-score columns with the mean/std of ``X_train`` only; constant columns become 0."""
    mu = X_train.mean(0, dtype=np.float64)
    sd = X_train.std(0, dtype=np.float64)
    sd[sd == 0] = 1.0
    return [((x - mu) / sd).astype(np.float32) for x in (X_train, *others)]


def check_targets(Y: np.ndarray, name: str = "targets") -> None:
    """Raise on NaN/inf targets, naming the first offending row/column."""
    if not np.all(np.isfinite(Y)):
        rows, cols = np.nonzero(~np.isfinite(Y))
        raise ValueError(f"{name} contain {rows.size} NaN/inf values (first at row {rows[0]}, target {cols[0]}); "
                         "remove or interpolate them before encoding")


def cross_validate(
    X: np.ndarray,
    Y: np.ndarray,
    groups,
    *,
    alphas=DEFAULT_ALPHAS,
    inner_folds: int = 5,
    outer_folds: int | None = None,
    backend: str | NumpyBackend | TorchBackend = "numpy",
    chunk_size: int | None = None,
    return_predictions: bool = False,
    progress: bool = False,
) -> CVResult:
    """Story-wise outer CV of a per-target ridge with inner K-fold alpha selection.

    Parameters
    ----------
    X
        (n_samples, n_features) design (raw: standardised here on each outer training fold only).
    Y
        (n_samples, n_targets) targets; all subjects sharing the design may be concatenated along
        targets (one decomposition serves them all).  Centred on each outer training fold.
    groups
        (n_samples,) story/run label of each row; outer folds hold whole groups out.
    alphas, inner_folds, backend, chunk_size, progress
        See :func:`brainalign.encoding.ridge.fit_ridge_cv`.
    outer_folds
        ``None`` = leave one story out; else at most that many folds of whole stories.
    return_predictions
        Keep the (n_samples, n_targets) held-out predictions.

    Returns
    -------
    CVResult

    Raises
    ------
    ValueError
        Mismatched row counts, NaN/inf values, or too few samples for the folds.
    """
    X = np.asarray(X)
    groups = np.asarray(groups)
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"expected 2-D design and targets, got shapes {X.shape} and {Y.shape}")
    if X.shape[0] != Y.shape[0] or groups.shape[0] != X.shape[0]:
        raise ValueError(f"sample counts differ: design has {X.shape[0]} rows, targets {Y.shape[0]}, "
                         f"groups {groups.shape[0]}")
    if not np.all(np.isfinite(X)):
        raise ValueError("design contains NaN/inf values")
    check_targets(Y)
    splits = outer_splits(groups, outer_folds)
    n_targets = Y.shape[1]
    r_f = np.full((len(splits), n_targets), np.nan)
    r2_f = np.full((len(splits), n_targets), np.nan)
    a_f = np.full((len(splits), n_targets), np.nan)
    preds = np.empty(Y.shape, dtype=np.float32) if return_predictions else None
    for i, (train, test) in enumerate(splits):
        if train.size < inner_folds:
            raise ValueError(f"outer fold {i}: {train.size} training samples but inner_folds={inner_folds}")
        Xtr, Xte = standardize(X[train], X[test])
        fit = fit_ridge_cv(Xtr, Y[train], alphas, inner_folds=inner_folds, X_test=Xte, center=True,
                           backend=backend, chunk_size=chunk_size, progress=progress)
        y_test = np.asarray(Y[test])
        r_f[i] = pearson_r(y_test, fit.predictions)
        r2_f[i] = r2_score(y_test, fit.predictions)
        a_f[i] = fit.best_alpha
        if preds is not None:
            preds[test] = fit.predictions
    undefined = np.isnan(r_f).any(0)
    if undefined.any():
        warnings.warn(f"{int(undefined.sum())} of {n_targets} targets are constant in a held-out fold: their r/R² "
                      "there is undefined (NaN) and they are averaged over the remaining folds",
                      UserWarning, stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        r = np.nanmean(r_f, 0)
        r2 = np.nanmean(r2_f, 0)
    return CVResult(r=r, r2=r2, alpha=np.exp(np.log(a_f).mean(0)), r_folds=r_f, r2_folds=r2_f,
                    alpha_folds=a_f, splits=splits, predictions=preds)
