"""Bad inputs to the Python API (``brainalign.encoding.RidgeCV``): each stops with an error naming
the argument or parameter at fault and what was expected.

Values scikit-learn validates itself (NaN/inf, empty or 1-D ``X``, sparse or complex input, a
wrong number of features at predict) raise scikit-learn's own ``ValueError`` messages; they are
covered by ``check_estimator`` in ``tests/unit/encoding/test_estimator.py`` and, for NaN, below.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sklearn.model_selection import ShuffleSplit, TimeSeriesSplit

from brainalign.encoding import RidgeCV

from reliability_helpers import assert_input_error


def _arrays(n=60, p=4, t=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X @ rng.standard_normal((p, t)) + rng.standard_normal((n, t))


def _labelled(n=60, p=4, t=3):
    X, Y = _arrays(n, p, t)
    time = np.arange(n) * 2.0
    Xa = xr.DataArray(X, dims=("time", "feature"), coords={"time": time, "feature": list("abcd")[:p]})
    Ya = xr.DataArray(Y, dims=("time", "voxel"), coords={"time": time, "voxel": np.arange(t)})
    return Xa, Ya


def test_fewer_samples_than_folds():
    """3 samples with cv=5 -> error naming X, n_samples=3 and one sample per fold."""
    X, Y = _arrays(n=3)
    with pytest.raises(ValueError) as excinfo:
        RidgeCV(cv=5).fit(X, Y)
    assert_input_error(excinfo, "RidgeCV.fit: X", r"n_samples=3 is fewer than cv=5", "at least one sample per inner fold")


def test_cv_one_fold():
    """cv=1 -> error naming the parameter cv and 'at least 2 inner folds'."""
    X, Y = _arrays()
    with pytest.raises(ValueError) as excinfo:
        RidgeCV(cv=1).fit(X, Y)
    assert_input_error(excinfo, "RidgeCV parameter 'cv'", "cv=1", "at least 2 inner folds")


def test_cv_wrong_type():
    """cv='5' (a string) -> error naming the parameter cv and the accepted kinds."""
    X, Y = _arrays()
    with pytest.raises(ValueError) as excinfo:
        RidgeCV(cv="5").fit(X, Y)
    assert_input_error(excinfo, "RidgeCV parameter 'cv'", "got '5'", "an int >= 2, a splitter")


@pytest.mark.parametrize("splitter", [TimeSeriesSplit(3), ShuffleSplit(3, random_state=0)], ids=type)
def test_cv_validation_sets_do_not_partition(splitter):
    """A splitter whose validation sets leave samples out or repeat them -> error naming cv, 'do not partition'."""
    X, Y = _arrays()
    with pytest.raises(ValueError) as excinfo:
        RidgeCV(cv=splitter).fit(X, Y)
    assert_input_error(excinfo, "RidgeCV parameter 'cv'", "do not partition the 60 samples")


def test_cv_train_set_with_gap():
    """(train, validation) pairs whose train set skips samples (a gap) -> error naming the split and cv."""
    X, Y = _arrays()
    blocks = np.array_split(np.arange(60), 3)
    pairs = [(np.setdiff1d(np.arange(60), np.arange(b[0] - 2, b[-1] + 3)), b) for b in blocks]
    with pytest.raises(ValueError) as excinfo:
        RidgeCV(cv=pairs).fit(X, Y)
    assert_input_error(excinfo, "RidgeCV parameter 'cv'", "split 0: the train set is not every sample outside",
                       "gaps between train and validation are not supported")


def test_cv_pairs_malformed():
    """cv given as validation blocks without train sets -> error naming cv and (train, validation) pairs."""
    X, Y = _arrays()
    with pytest.raises(ValueError) as excinfo:
        RidgeCV(cv=[np.arange(20), np.arange(20, 40), np.arange(40, 60)]).fit(X, Y)
    assert_input_error(excinfo, "RidgeCV parameter 'cv'", "split 0 has 20 parts", r"\(train, validation\) index pairs")


def test_nonfinite_values():
    """NaN in X or y -> scikit-learn's error naming the input ('Input X contains NaN')."""
    X, Y = _arrays()
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        RidgeCV().fit(X, Y)
    X, Y = _arrays()
    Y[5, 1] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        RidgeCV().fit(X, Y)


def test_dataarrays_without_a_shared_dimension():
    """X (time, feature) with y (word, voxel) -> error naming X and y and the dims of each."""
    Xa, Ya = _labelled()
    with pytest.raises(ValueError) as excinfo:
        RidgeCV().fit(Xa, Ya.rename(time="word"))
    assert_input_error(excinfo, "RidgeCV.fit: X and y", r"no common dimension: X has \('time', 'feature'\)",
                       "a sample dimension both share")


def test_dataarrays_with_different_sample_labels():
    """y's time labels shifted against X's -> error naming dimension 'time' and the first labels."""
    Xa, Ya = _labelled()
    with pytest.raises(ValueError) as excinfo:
        RidgeCV().fit(Xa, Ya.assign_coords(time=Ya.time + 1.0))
    assert_input_error(excinfo, "RidgeCV.fit: X and y", "the labels of dimension 'time' differ",
                       "the same samples in the same order")


@pytest.mark.parametrize("which", ["X", "y"])
def test_dataarray_with_too_many_dimensions(which):
    """A 3-D DataArray (e.g. time x subject x voxel) -> error naming it and suggesting .stack()."""
    Xa, Ya = _labelled()
    Xa3 = Xa.expand_dims(subject=["01", "02"], axis=1)
    Ya3 = Ya.expand_dims(subject=["01", "02"], axis=1)
    with pytest.raises(ValueError) as excinfo:
        RidgeCV().fit(*((Xa3, Ya) if which == "X" else (Xa, Ya3)))
    assert_input_error(excinfo, f"RidgeCV.fit: {which}", "3 dimensions", "stack")


def test_predict_without_the_feature_dimension():
    """predict on a DataArray lacking the feature dim seen in fit -> error naming the dim."""
    Xa, Ya = _labelled()
    model = RidgeCV().fit(Xa, Ya)
    with pytest.raises(ValueError) as excinfo:
        model.predict(Xa.rename(feature="unit"))
    assert_input_error(excinfo, "RidgeCV.predict: X", "no dimension 'feature'", "the feature dimension 'feature' seen in fit")


def test_predict_with_reordered_features():
    """predict on features in another order than in fit -> error naming the feature dimension."""
    Xa, Ya = _labelled()
    model = RidgeCV().fit(Xa, Ya)
    with pytest.raises(ValueError) as excinfo:
        model.predict(Xa.isel(feature=[1, 0, 2, 3]))
    assert_input_error(excinfo, "RidgeCV.predict: X", "labels of dimension 'feature' differ",
                       "the same features in the same order")


def test_score_with_other_targets():
    """score against y whose voxel labels differ from the training targets' -> error naming X and y."""
    Xa, Ya = _labelled()
    model = RidgeCV().fit(Xa, Ya)
    with pytest.raises(ValueError) as excinfo:
        model.score(Xa, Ya.assign_coords(voxel=Ya.voxel + 10))
    assert_input_error(excinfo, "RidgeCV.score: X and y", "their labels differ", "the same samples and targets")
