"""Ridge solver: closed form, brute-force alpha selection, himalaya, chunking, backends, bad input."""

import numpy as np
import pytest

from brainalign.encoding.estimator import RidgeCV
from brainalign.encoding.ridge import fit_ridge_cv, kfold_blocks

ALPHAS = np.logspace(-2, 8, 11)


def _data(n, p, t, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    W = rng.standard_normal((p, t)) * (rng.random(t) > 0.3)
    noise = np.logspace(-1, 1.5, t)  # from easy to pure noise: alphas across the whole grid
    Y = X @ W * 0.1 + rng.standard_normal((n, t)) * noise
    Y -= Y.mean(0)
    return X.astype(np.float32), Y.astype(np.float32), rng.standard_normal((40, p)).astype(np.float32)


def _brute_force(X, Y, alphas, n_folds):
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    err = np.zeros((len(alphas), Y.shape[1]))
    for val in kfold_blocks(len(X), n_folds):
        tr = np.setdiff1d(np.arange(len(X)), val)
        for i, a in enumerate(alphas):
            b = np.linalg.solve(X[tr].T @ X[tr] + a * np.eye(X.shape[1]), X[tr].T @ Y[tr])
            err[i] += ((Y[val] - X[val] @ b) ** 2).mean(0)
    return alphas[err.argmin(0)]


@pytest.mark.parametrize("n,p", [(200, 30), (60, 150)])  # primal, and more features than samples
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_matches_closed_form_and_brute_force_selection(n, p, backend):
    X, Y, Xte = _data(n, p, 40)
    fit = fit_ridge_cv(X, Y, ALPHAS, X_test=Xte, center=False, return_coef=True, backend=backend)
    np.testing.assert_array_equal(fit.best_alpha, _brute_force(X, Y, ALPHAS, 5))
    X64 = X.astype(np.float64)
    for j in range(Y.shape[1]):
        b = np.linalg.solve(X64.T @ X64 + fit.best_alpha[j] * np.eye(p), X64.T @ Y[:, j])
        np.testing.assert_allclose(fit.coef[:, j], b, rtol=1e-4, atol=1e-5 * np.abs(b).max())
        np.testing.assert_allclose(fit.predictions[:, j], Xte @ b, rtol=1e-4, atol=1e-4 * np.abs(Xte @ b).max())


def test_intercept_is_training_mean():
    X, Y, Xte = _data(120, 10, 5)
    fit = fit_ridge_cv(X, Y + 3.0, ALPHAS, X_test=Xte, center=True)
    ref = fit_ridge_cv(X, Y, ALPHAS, X_test=Xte, center=False)
    np.testing.assert_allclose(fit.predictions, ref.predictions + 3.0, atol=1e-4)
    np.testing.assert_array_equal(fit.best_alpha, ref.best_alpha)


@pytest.mark.parametrize("n,p", [(300, 40), (80, 200)])
def test_agrees_with_himalaya(n, p):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV

    set_backend("numpy")
    X, Y, Xte = _data(n, p, 60, seed=1)
    ours = RidgeCV(ALPHAS, cv=5, fit_intercept=False).fit(X, Y)  # himalaya's default
    ref = HimalayaRidgeCV(alphas=ALPHAS, cv=5, solver_params=dict(warn=False)).fit(
        X.astype(np.float64), Y.astype(np.float64))
    np.testing.assert_allclose(ours.best_alphas_, ref.best_alphas_, rtol=1e-5)  # the same alpha, every target
    Yte = Xte @ (np.linalg.lstsq(X, Y, rcond=None)[0]) + np.random.default_rng(2).standard_normal((len(Xte), Y.shape[1]))
    from brainalign.encoding.scores import pearson_r

    r_ours = pearson_r(Yte, ours.predict(Xte))
    r_ref = pearson_r(Yte, ref.predict(Xte.astype(np.float64)))
    assert np.nanmax(np.abs(r_ours - r_ref)) < 1e-4


def test_chunked_equals_unchunked():
    X, Y, Xte = _data(150, 25, 53)
    full = fit_ridge_cv(X, Y, ALPHAS, X_test=Xte, return_coef=True, chunk_size=10_000)
    for chunk in (1, 7, 50):
        part = fit_ridge_cv(X, Y, ALPHAS, X_test=Xte, return_coef=True, chunk_size=chunk)
        np.testing.assert_array_equal(part.best_alpha, full.best_alpha)
        np.testing.assert_allclose(part.predictions, full.predictions, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(part.coef, full.coef, rtol=1e-5, atol=1e-6)


def test_torch_equals_numpy():
    X, Y, Xte = _data(150, 25, 30)
    a = fit_ridge_cv(X, Y, ALPHAS, X_test=Xte, backend="numpy")
    b = fit_ridge_cv(X, Y, ALPHAS, X_test=Xte, backend="torch_cpu")
    np.testing.assert_array_equal(a.best_alpha, b.best_alpha)
    np.testing.assert_allclose(a.predictions, b.predictions, rtol=1e-4, atol=1e-5)


def test_accepts_memmap_targets(tmp_path):
    X, Y, Xte = _data(100, 10, 20)
    mm = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float32, shape=Y.shape)
    mm[:] = Y
    a = fit_ridge_cv(X, mm, ALPHAS, X_test=Xte, chunk_size=6)
    b = fit_ridge_cv(X, Y, ALPHAS, X_test=Xte)
    np.testing.assert_allclose(a.predictions, b.predictions, rtol=1e-5, atol=1e-6)


def test_bad_input():
    X, Y, _ = _data(50, 5, 3)
    with pytest.raises(ValueError, match="positive"):
        fit_ridge_cv(X, Y, [0.0, 1.0])
    with pytest.raises(ValueError, match="increasing"):
        fit_ridge_cv(X, Y, [10.0, 1.0])
    with pytest.raises(ValueError, match="rows"):
        fit_ridge_cv(X, Y[:40], ALPHAS)
    with pytest.raises(ValueError, match="inner_folds=5"):
        fit_ridge_cv(X[:3], Y[:3], ALPHAS)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_ridge_cv(bad, Y, ALPHAS)
    with pytest.raises(ValueError, match="partition"):
        fit_ridge_cv(X, Y, ALPHAS, inner_folds=[np.arange(10), np.arange(5, 50)])


def test_cv_mse_is_the_validation_mse_of_the_chosen_alpha():
    X, Y, _ = _data(100, 8, 6)
    fit = fit_ridge_cv(X, Y, ALPHAS, center=False)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    mse = np.zeros(Y.shape[1])
    for val in kfold_blocks(100, 5):
        tr = np.setdiff1d(np.arange(100), val)
        for j in range(Y.shape[1]):
            b = np.linalg.solve(X64[tr].T @ X64[tr] + fit.best_alpha[j] * np.eye(8), X64[tr].T @ Y64[tr, j])
            mse[j] += ((Y64[val, j] - X64[val] @ b) ** 2).mean() / 5
    np.testing.assert_allclose(fit.cv_mse, mse, rtol=1e-4)
