"""Ridge regression with one regularisation per target, chosen by K-fold cross-validation.

The solver exploits the structure of the problem:

* one eigendecomposition of each (inner) training design serves every alpha and every target;
* for each inner fold the whole "validation hat operator" ``X_val (X_tr^T X_tr + alpha I)^{-1}`` is
  precomputed for all alphas (a matrix of ``n_alphas * n_val`` rows and ``k`` columns), so scoring
  every alpha on a chunk of targets is **one** matrix product;
* the inner folds partition the training rows, so ``X_tr^T Y_tr = X^T Y - X_val^T Y_val``: the
  cross-products of all folds cost one pass over the training rows;
* when there are more features than training samples, the design is first rotated onto the row
  space of the training rows (``X V``, ``V`` from an SVD); ridge predictions depend on ``X`` only
  through ``X X^T``, so this is exact and the problem never has more columns than rows;
* targets are streamed in chunks: memory is bounded by the chunk size, not by the number of targets
  (``Y`` may be a ``numpy.memmap``; only column chunks are read).

Alpha selection follows himalaya's ``RidgeCV`` exactly (mean over folds of the validation mean
squared error, first best alpha on ties), so the two agree target by target.

The decompositions are computed in float64 on the host; the products whose size grows with the
number of targets run on the chosen backend in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from .backends import NumpyBackend, TorchBackend, get_backend

DEFAULT_ALPHAS = np.logspace(-2, 8, 11)

#: Memory (bytes) the per-chunk prediction block may take when ``chunk_size`` is not given.
CHUNK_BYTES = 64 * 2**20


@dataclass
class RidgeCVFit:
    """Result of :func:`fit_ridge_cv` for one set of training rows.

    Attributes
    ----------
    best_alpha : (n_targets,) chosen alpha per target.
    cv_mse : (n_targets,) mean validation MSE of the chosen alpha (on centred targets).
    predictions : (n_test, n_targets) or None, predictions for the test rows (intercept included).
    coef : (n_features, n_targets) or None, weights on the given (standardised) features.
    intercept : (n_targets,) or None, training mean of each target (0 when ``center=False``).
    """

    best_alpha: np.ndarray
    cv_mse: np.ndarray
    predictions: np.ndarray | None = None
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None


def kfold_blocks(n: int, n_folds: int) -> list[np.ndarray]:
    """Contiguous, non-shuffled K-fold validation blocks (sklearn's ``KFold(n_folds)`` layout).

    Contiguous blocks keep temporally autocorrelated neighbours on the same side of the split.

    Raises
    ------
    ValueError
        If there are fewer samples than folds or fewer than 2 folds.
    """
    if n_folds < 2:
        raise ValueError(f"inner_folds={n_folds}: need at least 2 folds for cross-validation")
    if n < n_folds:
        raise ValueError(f"{n} training samples but inner_folds={n_folds}: need at least one sample per fold")
    sizes = np.full(n_folds, n // n_folds, dtype=int)
    sizes[: n % n_folds] += 1
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return [np.arange(edges[i], edges[i + 1]) for i in range(n_folds)]


def check_alphas(alphas) -> np.ndarray:
    """The ridge penalties as a float array; ValueError unless a non-empty list of positive, finite values."""
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ValueError(f"alphas={alphas!r}: expected a non-empty list of positive, finite values")
    if np.any(np.diff(alphas) <= 0):
        raise ValueError("alphas must be strictly increasing (ties are broken towards the smaller alpha)")
    return alphas


def _row_space(X: np.ndarray) -> np.ndarray | None:
    """Right singular vectors spanning the row space of ``X`` when it has more columns than rows."""
    n, p = X.shape
    if p <= n:
        return None
    with threadpool_limits(1, user_api="blas"):  # small LAPACK calls: threads only add contention
        _, s, vt = np.linalg.svd(X.astype(np.float64), full_matrices=False)
    keep = s > s[0] * max(n, p) * np.finfo(np.float64).eps if s.size and s[0] > 0 else np.zeros(s.size, bool)
    return vt[keep].T  # p x r


def _eigh_psd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecomposition of a symmetric PSD matrix; round-off negatives are set to zero."""
    with threadpool_limits(1, user_api="blas"):  # small LAPACK calls: threads only add contention
        lam, q = np.linalg.eigh((a + a.T) / 2)
    return np.clip(lam, 0.0, None), q


def _spectral_filter(lam: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """``1 / (lambda + alpha)`` for every alpha (rows) and eigenvalue (columns).

    Directions outside the training rows' span (numerically zero eigenvalues) get 0 instead of
    ``1 / alpha``: the exact cross-product ``X^T Y`` has no component there, but its float32
    round-off does, and ``1 / alpha`` with a small alpha would amplify that noise.
    """
    f = 1.0 / (lam[None, :] + alphas[:, None])
    null = lam <= lam.max(initial=0.0) * 1e-10
    f[:, null] = 0.0
    return f


def _check_fit_inputs(X_train: np.ndarray, Y_train, X_test: np.ndarray | None,
                      inner_folds: int | list[np.ndarray]) -> list[np.ndarray]:
    """Validate shapes and finiteness; return the inner validation blocks (a partition of the rows)."""
    n, p = X_train.shape
    if Y_train.ndim != 2 or Y_train.shape[0] != n:
        raise ValueError(f"design has {n} rows but targets have shape {Y_train.shape}: expected ({n}, n_targets)")
    if not np.all(np.isfinite(X_train)):
        raise ValueError("design contains NaN or inf values")
    if X_test is not None and (X_test.ndim != 2 or X_test.shape[1] != p):
        raise ValueError(f"X_test has shape {X_test.shape}: expected (n_test, {p})")
    blocks = kfold_blocks(n, inner_folds) if isinstance(inner_folds, int) else [np.asarray(b) for b in inner_folds]
    if not np.array_equal(np.sort(np.concatenate(blocks)), np.arange(n)):
        raise ValueError("inner folds must partition the training rows (each row in exactly one validation block)")
    return blocks


def _fold_hat(Xr: np.ndarray, gram: np.ndarray, val: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Validation hat operator of one inner fold for every alpha.

    ``[X_val (X_tr^T X_tr + alpha I)^{-1}]`` stacked over alphas: an ``(n_alphas * n_val) x k``
    matrix whose product with ``X_tr^T Y_tr`` is the validation predictions of every alpha.
    ``gram`` is ``Xr^T Xr`` over all training rows, so ``X_tr^T X_tr = gram - X_val^T X_val``.
    """
    xv = Xr[val]
    lam, q = _eigh_psd(gram - xv.T @ xv)
    f = _spectral_filter(lam, alphas)  # n_alphas x k
    xq = xv @ q
    return (xq[None, :, :] * f[:, None, :]).reshape(-1, Xr.shape[1]) @ q.T


def _resolve_chunk_size(chunk_size: int | None, n_alphas: int, max_val: int, n_targets: int) -> int:
    """Targets per chunk: bounded by the memory of the ``n_alphas x n_val x chunk`` prediction block."""
    # Cap it by memory as well, so a large configured chunk_size cannot blow up with many alphas or
    # long validation folds.
    by_memory = max(64, CHUNK_BYTES // (4 * n_alphas * max_val))
    chunk_size = by_memory if chunk_size is None else min(int(chunk_size), 4 * by_memory)
    return int(max(1, min(chunk_size, n_targets)))


def _cv_errors(be, hats: list, xblocks: list, val_idx: list, yb, n_alphas: int):
    """Cross-products and inner-CV errors of one chunk of (centred) targets.

    Returns ``(total, err)``: ``total`` is ``X^T Y`` over all training rows (k x t, backend array);
    ``err`` is the sum over folds of ``(||p||^2 - 2 y.p) / n_val`` per alpha and target
    (n_alphas x t, backend array), the validation MSE up to the alpha-independent ``||y||^2`` term.
    """
    t = yb.shape[1]
    # X_b^T Y_b per fold; their sum is X^T Y (the folds partition the rows).
    cross = [xb.T @ yb[vi] for xb, vi in zip(xblocks, val_idx)]
    total = cross[0].clone() if be.name == "torch" else cross[0].copy()
    for c in cross[1:]:
        total += c
    err = be.zeros((n_alphas, t))
    for hat, c_b, vi in zip(hats, cross, val_idx):
        pred = (hat @ (total - c_b)).reshape(n_alphas, -1, t)
        # ||y - p||^2 - ||y||^2 = ||p||^2 - 2 y.p: dropping the alpha-independent ||y||^2 keeps
        # float32 precision relative to the (small) predictions, not to the targets, so near-ties
        # between large alphas are resolved as in float64.
        err += (be.sum_squares(pred, axis=1) - 2 * be.inner(pred, yb[vi])) / pred.shape[1]
        del pred
    return total, err


def _mean_square_over_folds(y: np.ndarray, blocks: list[np.ndarray]) -> np.ndarray:
    """Mean over folds of each target's mean square on the fold's rows (the term ``_cv_errors`` drops)."""
    return sum(np.einsum("vt,vt->t", y[b], y[b], dtype=np.float64) / len(b) for b in blocks) / len(blocks)


def _rotate(X_train: np.ndarray, X_test: np.ndarray | None):
    """``(V, X_train V, X_test V)`` in float64; ``V`` is None (no rotation) unless features outnumber rows.

    Ridge predictions depend on ``X`` only through ``X X^T``, so the rotation onto the row space is
    exact (module docstring).
    """
    V = _row_space(X_train)
    Xr = X_train.astype(np.float64) if V is None else X_train.astype(np.float64) @ V
    Xte = None if X_test is None else (X_test.astype(np.float64) if V is None else X_test.astype(np.float64) @ V)
    return V, Xr, Xte


def _chunk_starts(n_targets: int, chunk_size: int, progress: bool):
    """First column of each target chunk, wrapped in a tqdm bar when ``progress``."""
    starts = range(0, n_targets, chunk_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="ridge target chunks", leave=False)
    return starts


@dataclass
class _Operators:
    """Everything the target chunks share: per-fold hat operators and the full-data eigenbasis.

    Backend arrays except ``f_full`` (host float64, indexed by each target's best alpha).
    """

    hats: list
    xblocks: list
    val_idx: list
    q_full: Any
    f_full: np.ndarray


def _operators(be, Xr: np.ndarray, blocks: list[np.ndarray], alphas: np.ndarray) -> _Operators:
    """Decompose the (rotated) design once for every alpha and target (module docstring)."""
    # Per-fold hat operators for all alphas: H_b = [X_val (A_b + alpha I)^{-1}]_alpha.
    gram = Xr.T @ Xr
    hats = [be.asarray(_fold_hat(Xr, gram, val, alphas)) for val in blocks]
    xblocks = [be.asarray(Xr[val]) for val in blocks]
    lam_full, q_full = _eigh_psd(gram)
    return _Operators(hats=hats, xblocks=xblocks, val_idx=[be.index(b) for b in blocks],
                      q_full=be.asarray(q_full), f_full=_spectral_filter(lam_full, alphas))


def _fit_chunk(be, ops: _Operators, y: np.ndarray, blocks: list[np.ndarray], n_alphas: int):
    """Best alpha index, CV MSE and refitted weights of one chunk of (centred, float32) targets.

    Returns ``(best, cv_mse, w)``: ``best`` (t,) index into the alphas (first minimum: ties go to
    the smaller alpha, as himalaya), ``cv_mse`` (t,) float64, ``w`` (k x t) backend weights in the
    (possibly rotated) design space.
    """
    yb = be.asarray(y)
    total, err = _cv_errors(be, ops.hats, ops.xblocks, ops.val_idx, yb, n_alphas)
    err_np = be.to_numpy(err).astype(np.float64) / len(blocks)
    best = np.argmin(err_np, axis=0)
    # add back the alpha-independent ||y||^2 term
    cv_mse = err_np[best, np.arange(yb.shape[1])] + _mean_square_over_folds(y, blocks)
    # Refit on all training rows with each target's alpha: w = Q diag(f_a) Q^T X^T Y.
    proj = ops.q_full.T @ total  # k x t
    scale = be.asarray(ops.f_full[best].T)  # k x t, the spectral filter of each target's alpha
    return best, cv_mse, ops.q_full @ (proj * scale)


def fit_ridge_cv(
    X_train: np.ndarray,
    Y_train: np.ndarray,
    alphas=DEFAULT_ALPHAS,
    *,
    inner_folds: int | list[np.ndarray] = 5,
    X_test: np.ndarray | None = None,
    center: bool = True,
    return_coef: bool = False,
    backend: str | NumpyBackend | TorchBackend = "numpy",
    chunk_size: int | None = None,
    progress: bool = False,
) -> RidgeCVFit:
    """Fit ridge with a per-target alpha chosen by K-fold CV inside the training rows.

    Parameters
    ----------
    X_train
        (n_train, n_features) design; standardise it beforehand (the solver does not).
    Y_train
        (n_train, n_targets) targets (any array supporting ``Y[:, a:b]``, e.g. a memmap).
    alphas
        Strictly increasing positive grid (default ``logspace(-2, 8, 11)``).
    inner_folds
        Number of contiguous K-fold blocks, or the validation blocks themselves (row indices that
        partition ``range(n_train)``).
    X_test
        Optional (n_test, n_features) rows to predict after refitting on all training rows.
    center
        Centre each target on the training rows (the intercept); otherwise targets are assumed
        centred, as in himalaya with ``fit_intercept=False``.  Inner folds reuse this centring.
    return_coef
        Also return the (n_features, n_targets) weights.
    backend
        ``"numpy"``, ``"torch"``, ``"torch_cpu"``, ``"torch_cuda"`` or a backend object.
    chunk_size
        Maximum targets per chunk; default: as many as keep the per-chunk prediction block
        (``n_alphas x n_val x chunk`` float32) under 64 MiB; a given value is capped at 256 MiB.
    progress
        Show a tqdm bar over target chunks.

    Returns
    -------
    RidgeCVFit
    """
    be = get_backend(backend)
    alphas = check_alphas(alphas)
    X_train = np.asarray(X_train)
    blocks = _check_fit_inputs(X_train, Y_train, X_test, inner_folds)
    p = X_train.shape[1]
    n_targets = Y_train.shape[1]
    n_alphas = alphas.size

    V, Xr, Xte = _rotate(X_train, X_test)
    ops = _operators(be, Xr, blocks, alphas)
    xte_b = None if Xte is None else be.asarray(Xte)
    chunk_size = _resolve_chunk_size(chunk_size, n_alphas, max(len(b) for b in blocks), n_targets)

    best_alpha = np.empty(n_targets)
    cv_mse = np.empty(n_targets)
    intercept = np.zeros(n_targets)
    preds = None if Xte is None else np.empty((Xte.shape[0], n_targets), dtype=np.float32)
    coef = np.empty((p, n_targets), dtype=np.float32) if return_coef else None

    for start in _chunk_starts(n_targets, chunk_size, progress):
        cols = slice(start, min(start + chunk_size, n_targets))
        y = np.asarray(Y_train[:, cols], dtype=np.float32)
        if center:
            mu = y.mean(0, dtype=np.float64)
            y = y - mu.astype(np.float32)
            intercept[cols] = mu
        best, cv_mse[cols], w = _fit_chunk(be, ops, y, blocks, n_alphas)
        best_alpha[cols] = alphas[best]
        if preds is not None:
            preds[:, cols] = be.to_numpy(xte_b @ w) + (intercept[cols] if center else 0.0)
        if coef is not None:
            w_np = be.to_numpy(w).astype(np.float64)
            coef[:, cols] = w_np if V is None else V @ w_np
    return RidgeCVFit(best_alpha=best_alpha, cv_mse=cv_mse, predictions=preds, coef=coef,
                      intercept=intercept if center else np.zeros(n_targets))
