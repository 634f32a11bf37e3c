"""RidgeCV as a scikit-learn estimator: check_estimator, equality with fit_ridge_cv, meta-estimators, xarray.

scikit-learn's own API checks run through ``parametrize_with_checks``.  Every check applies and
passes; :func:`expected_failed_checks` is where a check that cannot apply would be listed, with its
reason, and ``xfail_strict=True`` makes a listed check that starts passing fail the suite, so the
list cannot go stale.  Checks that scikit-learn does not generate for this estimator:

* sample-weight checks (``check_sample_weights_*``): ``fit`` takes no ``sample_weight``;
* classifier, transformer, clusterer and outlier checks: it is a regressor.

``check_array_api_input`` (array API dispatch with NumPy inputs) is skipped by scikit-learn unless
``SCIPY_ARRAY_API=1`` is set before scipy is imported, so :func:`test_array_api_dispatch` runs it
in a subprocess with the variable set.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, LeaveOneGroupOut, cross_val_predict, \
    cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainalign.encoding import RidgeCV, cross_validate, fit_ridge_cv
from brainalign.encoding.cv import standardize
from brainalign.encoding.ridge import DEFAULT_ALPHAS, kfold_blocks

REPO = Path(__file__).resolve().parents[3]
ESTIMATORS = [
    RidgeCV(),
    RidgeCV(fit_intercept=False),
    RidgeCV(backend="torch_cpu"),
    RidgeCV(alphas=[10.0, 0.1, 1.0], cv=KFold(3, shuffle=True, random_state=0)),
]


def expected_failed_checks(estimator) -> dict[str, str]:
    """Checks of scikit-learn that cannot apply to ``estimator``: {check name: why}.

    None today: every generated check passes for every configuration in ``ESTIMATORS``.
    """
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_array_api_dispatch():
    """check_array_api_input (skipped in-process unless SCIPY_ARRAY_API=1 is set before scipy loads)."""
    code = ("from sklearn.utils.estimator_checks import check_estimator\n"
            "from brainalign.encoding import RidgeCV\n"
            "res = check_estimator(RidgeCV(), on_fail=None, on_skip=None)\n"
            "r = [x for x in res if x['check_name'] == 'check_array_api_input']\n"
            "print(len(r), r[0]['status'] if r else None, repr(r[0]['exception']) if r else '')\n")
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[:2] == ["1", "passed"], out.stdout


# --------------------------------------------------------------------------------------------------
# The same numbers as the solver


def _data(n=240, p=30, t=50, seed=0, offset=3.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2, p) + rng.uniform(-1, 1, p)  # neither centred nor scaled
    W = rng.standard_normal((p, t)) * (rng.random(t) > 0.3)
    noise = np.logspace(-1, 1.5, t)  # from easy to pure noise: alphas across the whole grid
    Y = X @ W * 0.1 + rng.standard_normal((n, t)) * noise + offset * rng.standard_normal(t)
    return X.astype(np.float32), Y.astype(np.float32)


def _zscored(Y):
    """Targets as preprocessing writes them (z-scored per voxel/channel)."""
    return ((Y - Y.mean(0)) / Y.std(0)).astype(np.float32)


def _assert_same_fit(model, ref, Xte, mu=0.0):
    """``model`` (the estimator) made the fit ``ref`` (fit_ridge_cv on the features minus ``mu``) made.

    The alphas are identical and the weights within 1e-6.  Predictions: within 1e-6 of the solver's
    weights applied in float64 (what ``predict`` does), and within 1e-6 relative to their size of
    the solver's own predictions, which it accumulates and stores in float32 (a few float32 ulps).
    """
    np.testing.assert_array_equal(model.best_alphas_, ref.best_alpha)
    assert np.abs(model.coef_ - ref.coef).max() <= 1e-6
    assert np.abs(model.cv_mse_ - ref.cv_mse).max() <= 1e-6 * np.abs(ref.cv_mse).max()
    pred = model.predict(Xte)
    own = (Xte.astype(np.float64) - mu) @ ref.coef.astype(np.float64) + ref.intercept
    assert np.abs(pred - own).max() <= 1e-6
    assert np.abs(pred - ref.predictions).max() <= 1e-6 * max(1.0, np.abs(ref.predictions).max())


@pytest.mark.parametrize("n,p", [(240, 30), (80, 200)])  # primal, and more features than samples
def test_equals_fit_ridge_cv_on_standardised_features(n, p):
    """As the encode rule calls it: features standardised on the training rows, z-scored targets."""
    X, Y = _data(n, p)
    Y = _zscored(Y)
    train, test = np.arange(n) < 0.75 * n, np.arange(n) >= 0.75 * n
    Xtr, Xte = standardize(X[train], X[test])
    mu = Xtr.mean(0, dtype=np.float64)  # ~1e-8: the estimator centres again, exactly as below
    ref = fit_ridge_cv(Xtr - mu, Y[train], DEFAULT_ALPHAS, inner_folds=5, X_test=Xte - mu, center=True,
                       return_coef=True)
    model = RidgeCV(cv=5).fit(Xtr, Y[train])
    np.testing.assert_array_equal(model.alphas_, DEFAULT_ALPHAS)
    _assert_same_fit(model, ref, Xte, mu)
    # and the solver called exactly as cross_validate calls it (no second centring)
    direct = fit_ridge_cv(Xtr, Y[train], DEFAULT_ALPHAS, inner_folds=5, X_test=Xte, center=True, return_coef=True)
    _assert_same_fit(model, direct, Xte)


@pytest.mark.parametrize("backend", ["numpy", "torch_cpu"])
def test_equals_fit_ridge_cv_with_intercept(backend):
    """Raw features, targets with offsets: the estimator centres the features, then calls the solver."""
    X, Y = _data()
    Xtr, Xte, Ytr = X[:180], X[180:], Y[:180]
    mu = Xtr.mean(0, dtype=np.float64)
    ref = fit_ridge_cv(Xtr - mu, Ytr, DEFAULT_ALPHAS, inner_folds=5, X_test=Xte - mu, center=True,
                       return_coef=True, backend=backend)
    model = RidgeCV(backend=backend).fit(Xtr, Ytr)
    np.testing.assert_array_equal(model.coef_, ref.coef)
    np.testing.assert_allclose(model.intercept_, ref.intercept - mu @ ref.coef.astype(np.float64))
    _assert_same_fit(model, ref, Xte, mu)


def test_without_intercept_equals_solver_without_centring():
    X, Y = _data(offset=0.0)
    ref = fit_ridge_cv(X[:180], Y[:180], DEFAULT_ALPHAS, X_test=X[180:], center=False, return_coef=True)
    model = RidgeCV(fit_intercept=False).fit(X[:180], Y[:180])
    np.testing.assert_array_equal(model.intercept_, 0.0)
    _assert_same_fit(model, ref, X[180:])


def test_cv_splitter_and_index_pairs_give_the_solver_s_folds():
    """cv=5, KFold(5), (train, validation) pairs and shuffled KFold map onto the solver's blocks."""
    X, Y = _data()
    base = RidgeCV(cv=5).fit(X, Y)
    for cv in (KFold(5), list(KFold(5).split(X))):
        other = RidgeCV(cv=cv).fit(X, Y)
        np.testing.assert_array_equal(other.best_alphas_, base.best_alphas_)
        np.testing.assert_array_equal(other.coef_, base.coef_)
    shuffled = KFold(4, shuffle=True, random_state=1)
    blocks = [val for _, val in shuffled.split(X)]
    mu = X.mean(0, dtype=np.float64)
    ref = fit_ridge_cv(X - mu, Y, DEFAULT_ALPHAS, inner_folds=blocks, return_coef=True)
    np.testing.assert_array_equal(RidgeCV(cv=shuffled).fit(X, Y).best_alphas_, ref.best_alpha)
    assert [len(b) for b in kfold_blocks(len(X), 5)] == [len(v) for _, v in KFold(5).split(X)]


def test_alpha_grid_is_sorted_not_reinterpreted():
    X, Y = _data()
    a = RidgeCV(alphas=[100.0, 1.0, 0.01, 1e4]).fit(X, Y)
    b = RidgeCV(alphas=[0.01, 1.0, 100.0, 1e4]).fit(X, Y)
    np.testing.assert_array_equal(a.alphas_, [0.01, 1.0, 100.0, 1e4])
    np.testing.assert_array_equal(a.best_alphas_, b.best_alphas_)
    assert set(np.unique(a.best_alphas_)) <= set(a.alphas_)


def test_one_target_follows_himalaya_shapes():
    X, Y = _data()
    one = RidgeCV().fit(X, Y[:, 3])
    two = RidgeCV().fit(X, Y[:, 3:4])
    assert one.coef_.shape == (X.shape[1],) and one.best_alphas_.shape == (1,)
    assert isinstance(one.intercept_, float)
    assert one.predict(X).shape == (len(X),)
    np.testing.assert_array_equal(one.predict(X), two.predict(X)[:, 0])


def test_pipeline_reproduces_cross_validate():
    """make_pipeline(StandardScaler(), RidgeCV()) in story-wise folds gives cross_validate's predictions."""
    X, Y = _data(n=300)
    stories = np.repeat(["a", "b", "c"], 100)
    ref = cross_validate(X, Y, stories, inner_folds=5, return_predictions=True)
    pipe = make_pipeline(StandardScaler(), RidgeCV(cv=5))
    pred = cross_val_predict(pipe, X, Y, groups=stories, cv=LeaveOneGroupOut())
    # cross_validate stores standardised features in float32 (StandardScaler keeps float64): same alphas,
    # predictions equal to float32 precision.
    assert np.abs(pred - ref.predictions).max() <= 1e-5 * np.abs(ref.predictions).max()
    for i, (train, _) in enumerate(ref.splits):
        fitted = clone(pipe).fit(X[train], Y[train])
        np.testing.assert_array_equal(fitted[-1].best_alphas_, ref.alpha_folds[i])


def test_clone_and_grid_search():
    X, Y = _data(n=200, t=5)
    model = RidgeCV(alphas=[0.1, 1.0], cv=4, backend="numpy")
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "coef_")
    grids = [[1e-2, 1e-1], [1e3, 1e4, 1e5]]
    pipe = make_pipeline(StandardScaler(), RidgeCV())
    search = GridSearchCV(pipe, {"ridgecv__alphas": grids, "ridgecv__cv": [3, 5]}, cv=GroupKFold(4))
    groups = np.repeat(np.arange(4), 50)
    search.fit(X, Y, groups=groups)
    manual = {(i, cv): cross_val_score(clone(pipe).set_params(ridgecv__alphas=g, ridgecv__cv=cv), X, Y,
                                       groups=groups, cv=GroupKFold(4)).mean()
              for i, g in enumerate(grids) for cv in (3, 5)}
    best = max(manual, key=manual.get)
    assert search.best_params_ == {"ridgecv__alphas": grids[best[0]], "ridgecv__cv": best[1]}
    assert np.isclose(search.best_score_, manual[best])


# --------------------------------------------------------------------------------------------------
# xarray in, xarray out


def _labelled(n=200, p=12, t=30):
    X, Y = _data(n, p, t)
    time = np.arange(n) * 1.5
    Xa = xr.DataArray(X, dims=("time", "feature"), coords={"time": time, "feature": [f"f{i}" for i in range(p)],
                                                            "story": ("time", np.repeat(["a", "b"], n // 2))})
    Ya = xr.DataArray(Y, dims=("time", "voxel"), name="bold",
                      coords={"time": time, "voxel": np.arange(t), "x": ("voxel", np.arange(t) * 2.0),
                              "y": ("voxel", -np.arange(t) * 2.0), "z": ("voxel", np.zeros(t)), "subject": "01"})
    return Xa, Ya


def test_dataarrays_give_the_numpy_numbers_and_labelled_predictions():
    Xa, Ya = _labelled()
    model = RidgeCV().fit(Xa[:150], Ya[:150])
    plain = RidgeCV().fit(Xa.values[:150], Ya.values[:150])
    np.testing.assert_array_equal(model.coef_, plain.coef_)
    pred = model.predict(Xa[150:])
    assert isinstance(pred, xr.DataArray) and pred.dims == ("time", "voxel") and pred.name == "bold"
    np.testing.assert_array_equal(pred.values, plain.predict(Xa.values[150:]))
    np.testing.assert_array_equal(pred.time, Xa.time[150:])
    np.testing.assert_array_equal(pred.story, Xa.story[150:])
    np.testing.assert_array_equal(pred.x, Ya.x)
    assert pred.subject.item() == "01" and "feature" not in pred.coords
    assert model.score(Xa[150:], Ya[150:]) == pytest.approx(plain.score(Xa.values[150:], Ya.values[150:]))
    # numpy in, numpy out (even after a labelled fit)
    assert type(model.predict(Xa.values[150:])) is np.ndarray


def test_dimensions_are_matched_by_name():
    Xa, Ya = _labelled()
    ref = RidgeCV().fit(Xa[:150], Ya[:150]).predict(Xa[150:])
    model = RidgeCV().fit(Xa[:150].T, Ya[:150].T)  # feature × time, voxel × time
    pred = model.predict(Xa[150:].T)
    assert pred.dims == ("time", "voxel")
    np.testing.assert_array_equal(pred.values, ref.values)
    assert model.score(Xa[150:], Ya[150:].T) == pytest.approx(model.score(Xa[150:], Ya[150:]))


def test_one_labelled_target():
    Xa, Ya = _labelled()
    model = RidgeCV().fit(Xa[:150], Ya[:150, 4])
    pred = model.predict(Xa[150:])
    assert pred.dims == ("time",) and pred.voxel.item() == 4 and pred.x.item() == 8.0
