"""The phases of :func:`brainalign.encoding.ridge.fit_ridge_cv`, each against a direct computation."""

import numpy as np

from brainalign.encoding.backends import get_backend
from brainalign.encoding.ridge import (_cv_errors, _fold_hat, _mean_square_over_folds, _resolve_chunk_size,
                                       kfold_blocks)


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)


def test_fold_hat_gives_the_validation_predictions_of_every_alpha():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6)), rng.standard_normal((40, 3))
    alphas = np.array([0.1, 10.0, 1000.0])
    val = np.arange(8, 16)
    train = np.setdiff1d(np.arange(40), val)
    hat = _fold_hat(x, x.T @ x, val, alphas)
    assert hat.shape == (alphas.size * val.size, 6)
    pred = (hat @ (x[train].T @ y[train])).reshape(alphas.size, val.size, 3)
    for a_i, alpha in enumerate(alphas):
        np.testing.assert_allclose(pred[a_i], x[val] @ _ridge(x[train], y[train], alpha), rtol=1e-8, atol=1e-10)


def test_cv_errors_plus_dropped_term_are_the_validation_mse():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 5))
    y = rng.standard_normal((50, 4)).astype(np.float32)
    alphas = np.array([0.5, 50.0])
    blocks = kfold_blocks(50, 5)
    be = get_backend("numpy")
    hats = [be.asarray(_fold_hat(x, x.T @ x, b, alphas)) for b in blocks]
    total, err = _cv_errors(be, hats, [be.asarray(x[b]) for b in blocks], [be.index(b) for b in blocks],
                            be.asarray(y), alphas.size)
    np.testing.assert_allclose(total, x.T @ y, rtol=1e-5)
    mse = be.to_numpy(err) / len(blocks) + _mean_square_over_folds(y, blocks)
    for a_i, alpha in enumerate(alphas):
        direct = np.mean([np.mean((y[b] - x[b] @ _ridge(np.delete(x, b, 0), np.delete(y, b, 0), alpha)) ** 2,
                                  axis=0) for b in blocks], axis=0)
        np.testing.assert_allclose(mse[a_i], direct, rtol=1e-4)


def test_chunk_size_is_bounded_by_memory_and_targets():
    assert _resolve_chunk_size(None, 11, 100, 10) == 10  # never more than the targets
    by_memory = _resolve_chunk_size(None, 11, 100, 10**9)
    assert by_memory * 4 * 11 * 100 <= 64 * 2**20 and by_memory >= 64
    assert _resolve_chunk_size(10**9, 11, 100, 10**9) == 4 * by_memory  # a given value is capped
    assert _resolve_chunk_size(5, 11, 100, 10**9) == 5
