"""A scikit-learn estimator for the per-target cross-validated ridge of :mod:`.ridge`.

:class:`RidgeCV` wraps :func:`brainalign.encoding.ridge.fit_ridge_cv` (the solver the ``encode``
rule runs) the way himalaya's ``RidgeCV`` wraps its solvers: ``fit`` / ``predict`` / ``score``,
``get_params`` / ``set_params``, so it works with ``clone``, ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``, and passes ``sklearn.utils.estimator_checks.check_estimator`` (see
``tests/unit/encoding/test_estimator.py`` for the checks and the one that does not apply).

Conventions follow himalaya rather than scikit-learn's ``Ridge`` where the two differ, because
encoding models have many targets: ``coef_`` is ``(n_features, n_targets)`` and ``best_alphas_``
holds one alpha per target.

Labelled data: ``X`` and ``y`` may be :class:`xarray.DataArray` objects.  Their dimensions are
matched **by name** (the sample dimension is the one ``X`` and ``y`` share; with only one of them
labelled, its first dimension), sample labels must agree, and ``predict`` on a DataArray returns a DataArray with the input's sample coordinates and
the training targets' coordinates (e.g. ``time × voxel`` with ``x, y, z``), so a brain map can be
drawn from a score without bookkeeping.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted, validate_data

from brainalign.errors import InputError

from .ridge import DEFAULT_ALPHAS, check_alphas, fit_ridge_cv

#: Name of the target dimension of predictions when ``y`` was not a DataArray.
TARGET_DIM = "target"


def _is_dataarray(obj) -> bool:
    # Duck-typed so that importing this module does not import xarray for numpy users.
    return type(obj).__name__ == "DataArray" and hasattr(obj, "dims") and hasattr(obj, "coords")


def _index_values(da, dim: str) -> np.ndarray | None:
    """The labels of ``dim`` (its index coordinate), or None when it has none."""
    return np.asarray(da.indexes[dim]) if dim in da.indexes else None


class RidgeCV(RegressorMixin, BaseEstimator):
    """Ridge regression with one alpha per target, chosen by K-fold cross-validation.

    ``fit`` calls :func:`brainalign.encoding.ridge.fit_ridge_cv` (eigendecompositions shared by
    every alpha and target, targets streamed in chunks, numpy or torch backend), so the chosen
    alphas, weights and predictions are the ones the ``encode`` rule computes on the same data.

    Parameters
    ----------
    alphas
        Positive, distinct regularisation strengths (sorted here); ``None`` (the default)
        means :data:`brainalign.encoding.ridge.DEFAULT_ALPHAS`, ``logspace(-2, 8, 11)``.
    cv
        Inner cross-validation used to choose each target's alpha: an int (that many contiguous,
        unshuffled blocks, i.e. ``KFold(cv)``, keeping autocorrelated neighbours together), a
        scikit-learn splitter whose ``split(X, y)`` needs no groups (``KFold``, ...) or an iterable
        of ``(train, validation)`` index pairs (e.g. ``list(GroupKFold(5).split(X, y, stories))``).  The validation sets must partition the samples and
        each train set must be the rest of the samples: the solver derives every fold's training
        cross-products from the full ones.  ``TimeSeriesSplit``, ``ShuffleSplit`` and splitters
        with gaps are rejected with an error rather than approximated.
    fit_intercept
        Fit an intercept: features and targets are centred on the training samples (the inner folds
        reuse this centring, as in :func:`fit_ridge_cv`).  With ``False`` both must already be
        centred (as in himalaya's default).  Features are never scaled: put a ``StandardScaler``
        before the estimator (``make_pipeline(StandardScaler(), RidgeCV())``), as
        :func:`brainalign.encoding.cv.cross_validate` does.
    backend
        ``"numpy"``, ``"torch"`` (CUDA when available), ``"torch_cpu"`` or ``"torch_cuda"``.
    chunk_size
        Targets per chunk of the solver (default: sized to keep a chunk under 64 MiB).

    Attributes
    ----------
    alphas_ : ndarray of shape (n_alphas,)
        The grid searched.
    best_alphas_ : ndarray of shape (n_targets,)
        Alpha chosen for each target (shape ``(1,)`` for a 1-D ``y``, as in himalaya).
    coef_ : ndarray of shape (n_features, n_targets) or (n_features,)
        Weights (float32, the solver's precision), ``(n_features,)`` for a 1-D ``y``.
    intercept_ : ndarray of shape (n_targets,) or float
        Intercept (0 when ``fit_intercept=False``).
    cv_mse_ : ndarray of shape (n_targets,)
        Mean inner-validation mean squared error of the chosen alpha (on centred targets).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Only when ``X`` was a pandas DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.encoding import RidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X, W = rng.standard_normal((200, 20)), rng.standard_normal((20, 3))
    >>> Y = X @ W + rng.standard_normal((200, 3))
    >>> model = RidgeCV().fit(X[:150], Y[:150])
    >>> model.predict(X[150:]).shape, model.best_alphas_.shape
    ((50, 3), (3,))
    """

    def __init__(self, alphas=None, cv=5, fit_intercept: bool = True, backend: str = "numpy",
                 chunk_size: int | None = None) -> None:
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.backend = backend
        self.chunk_size = chunk_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # ---------------------------------------------------------------------------------------------
    # Labelled inputs

    def _unlabel_fit(self, X, y):
        """Arrays (samples first) from possibly labelled ``X``/``y``; remembers what predict needs."""
        self._sample_dim = self._feature_dim = self._feature_labels = None
        self._target_dim, self._y_template = TARGET_DIM, None
        x_da, y_da = _is_dataarray(X), _is_dataarray(y)
        if x_da and X.ndim != 2:
            raise InputError("RidgeCV.fit: X", f"a DataArray with {X.ndim} dimensions {X.dims}",
                             expected="2 dimensions (samples, features)",
                             hint="stack extra dimensions first, e.g. X.stack(feature=('layer', 'feature'))")
        if y_da and y.ndim not in (1, 2):
            raise InputError("RidgeCV.fit: y", f"a DataArray with {y.ndim} dimensions {y.dims}",
                             expected="1 or 2 dimensions (samples[, targets])",
                             hint="stack the target dimensions first, e.g. y.stack(target=('subject', 'voxel'))")
        if x_da:
            shared = [d for d in X.dims if y_da and d in y.dims]
            if y_da and not shared:
                raise InputError("RidgeCV.fit: X and y", f"no common dimension: X has {X.dims}, y has {y.dims}",
                                 expected="a sample dimension both share (e.g. 'time' or 'word')")
            sample = shared[0] if len(shared) == 1 else X.dims[0]
            X = X.transpose(sample, ...)
            self._sample_dim, self._feature_dim = sample, X.dims[1]
            self._feature_labels = _index_values(X, self._feature_dim)
        if y_da:
            sample = self._sample_dim or y.dims[0]
            if sample not in y.dims:
                raise InputError("RidgeCV.fit: y", f"dimension {sample!r} of X is not among y's dims {y.dims}",
                                 expected="the same sample dimension in X and y")
            y = y.transpose(sample, ...)
            if x_da:
                xl, yl = _index_values(X, sample), _index_values(y, sample)
                if xl is not None and yl is not None and not np.array_equal(xl, yl):
                    raise InputError("RidgeCV.fit: X and y", f"the labels of dimension {sample!r} differ "
                                     f"(X: {xl[:3].tolist()}..., y: {yl[:3].tolist()}...)",
                                     expected="the same samples in the same order",
                                     hint="select or align them first (xarray.align(X, y, join='exact'))")
            if y.ndim == 2:
                self._target_dim = y.dims[1]
            # Target coordinates (and scalar ones such as 'subject') for predictions; the samples' dropped.
            drop = [name for name, c in y.coords.items() if sample in c.dims]
            self._y_template = y.drop_vars(drop).isel({sample: 0})
            y = y.values
        return (X.values if x_da else X), y

    def _unlabel_predict(self, X):
        """The feature matrix of a labelled ``X`` (features matched by name) and its sample dim."""
        if X.ndim != 2:
            raise InputError("RidgeCV.predict: X", f"a DataArray with {X.ndim} dimensions {X.dims}",
                             expected="2 dimensions (samples, features)")
        feature = self._feature_dim
        if feature is None:  # fitted on plain arrays: the DataArray's own order is (samples, features)
            return X.values, X.dims[0]
        if feature not in X.dims:
            raise InputError("RidgeCV.predict: X", f"no dimension {feature!r} (X has {X.dims})",
                             expected=f"the feature dimension {feature!r} seen in fit")
        X = X.transpose(..., feature)
        labels = _index_values(X, feature)
        if self._feature_labels is not None and labels is not None and not np.array_equal(labels, self._feature_labels):
            raise InputError("RidgeCV.predict: X", f"the labels of dimension {feature!r} differ from those seen in fit",
                             expected="the same features in the same order")
        return X.values, X.dims[0]

    def _label(self, pred: np.ndarray, X, sample: str):
        """Predictions as a DataArray: X's sample coordinates, the training targets' coordinates."""
        import xarray as xr

        coords = {name: c for name, c in X.coords.items() if set(c.dims) <= {sample}}
        dims = (sample,)
        name = None
        if self._y_template is not None:
            name = self._y_template.name
            for cname, c in self._y_template.coords.items():
                coords.setdefault(cname, c)
        if pred.ndim == 2:
            target = self._target_dim
            if target == sample:
                raise InputError("RidgeCV.predict: X", f"its sample dimension is named {sample!r}, like the targets'",
                                 expected="different names for samples and targets")
            dims = (sample, target)
        return xr.DataArray(pred, dims=dims, coords=coords, name=name)

    # ---------------------------------------------------------------------------------------------
    # Estimator API

    def _validation_blocks(self, X, y, n: int):
        """``inner_folds`` for :func:`fit_ridge_cv` from ``cv`` (validated)."""
        cv = self.cv
        if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            if cv < 2:
                raise InputError("RidgeCV parameter 'cv'", f"cv={cv}", expected="at least 2 inner folds")
            if n < cv:
                # Worded so that scikit-learn's check_fit2d_1sample recognises it ("n_samples=1").
                raise InputError("RidgeCV.fit: X", f"n_samples={n} is fewer than cv={cv} inner folds",
                                 expected="at least one sample per inner fold")
            return int(cv)
        if isinstance(cv, (str, bytes, bool, numbers.Number)) or not (hasattr(cv, "split") or hasattr(cv, "__iter__")):
            raise InputError("RidgeCV parameter 'cv'", f"got {cv!r}",
                             expected="an int >= 2, a splitter such as KFold, or (train, validation) index pairs")
        pairs = list(cv.split(X, y) if hasattr(cv, "split") else cv)
        everything = np.arange(n)
        trains, blocks = [], []
        for i, pair in enumerate(pairs):
            if len(pair) != 2:
                raise InputError("RidgeCV parameter 'cv'", f"split {i} has {len(pair)} parts",
                                 expected="(train, validation) index pairs")
            train, val = (np.asarray(p) for p in pair)
            trains.append(np.flatnonzero(train) if train.dtype == bool else train.astype(int))
            blocks.append(np.flatnonzero(val) if val.dtype == bool else val.astype(int))
        if len(blocks) < 2 or not np.array_equal(np.sort(np.concatenate(blocks)), everything):
            raise InputError("RidgeCV parameter 'cv'", f"the validation sets of its {len(blocks)} splits do not "
                             f"partition the {n} samples", expected="every sample validated exactly once, in at "
                             "least 2 splits (e.g. KFold, GroupKFold; not TimeSeriesSplit or ShuffleSplit)")
        for i, (train, val) in enumerate(zip(trains, blocks)):
            if not np.array_equal(np.sort(train), np.setdiff1d(everything, val)):
                raise InputError("RidgeCV parameter 'cv'", f"split {i}: the train set is not every sample outside "
                                 "the validation set", expected="splits like KFold's (the solver trains each inner "
                                 "fold on all other samples)",
                                 hint="use an int, KFold or GroupKFold; gaps between train and validation are "
                                 "not supported")
        return blocks

    def fit(self, X, y) -> "RidgeCV":
        """Choose each target's alpha by inner CV, then refit on all samples.

        Parameters
        ----------
        X
            (n_samples, n_features) array, DataFrame or DataArray.
        y
            (n_samples,) or (n_samples, n_targets) array or DataArray (sharing X's sample dimension).

        Returns
        -------
        self
        """
        X, y = self._unlabel_fit(X, y)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        # Sorted here (the solver breaks ties towards the smaller alpha, so it needs them in order).
        alphas = check_alphas(np.sort(np.asarray(DEFAULT_ALPHAS if self.alphas is None else self.alphas,
                                                  dtype=np.float64).ravel()))
        one_target = y.ndim == 1
        Y = y[:, None] if one_target else y
        n = X.shape[0]
        inner = self._validation_blocks(X, Y, n)
        x_mean = X.mean(0, dtype=np.float64) if self.fit_intercept else np.zeros(X.shape[1])
        Xc = X - x_mean if self.fit_intercept else X
        res = fit_ridge_cv(Xc, Y, alphas, inner_folds=inner, center=self.fit_intercept, return_coef=True,
                           backend=self.backend, chunk_size=self.chunk_size)
        self.alphas_ = alphas
        self.best_alphas_ = res.best_alpha
        self.cv_mse_ = res.cv_mse
        # Centred features: prediction = (X - x_mean) @ coef + y_mean = X @ coef + intercept.
        intercept = res.intercept - x_mean @ res.coef.astype(np.float64)
        self.coef_ = res.coef[:, 0] if one_target else res.coef
        self.intercept_ = float(intercept[0]) if one_target else intercept
        return self

    def predict(self, X):
        """Predict targets (float64).

        Parameters
        ----------
        X
            (n_samples, n_features) array, DataFrame or DataArray.  A DataArray's features are
            matched by the dimension name (and labels) seen in ``fit``.

        Returns
        -------
        ndarray or DataArray
            (n_samples, n_targets), or (n_samples,) after a 1-D ``y``.  For a DataArray ``X``: a
            DataArray with X's sample dimension and coordinates and, after a labelled ``y``, the
            targets' dimension, coordinates and name.
        """
        check_is_fitted(self)
        labelled = _is_dataarray(X)
        if labelled:
            X_da = X
            X, sample = self._unlabel_predict(X)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        pred = X.astype(np.float64, copy=False) @ self.coef_.astype(np.float64) + self.intercept_
        return self._label(pred, X_da, sample) if labelled else pred

    def score(self, X, y, sample_weight=None) -> float:
        """R² of the predictions, averaged uniformly over targets (scikit-learn's convention).

        Per-target scores: ``brainalign.encoding.r2_score(y, model.predict(X))`` or
        ``pearson_r``.  A DataArray ``y`` is put in the predictions' dimension order first.
        """
        pred = self.predict(X)
        if _is_dataarray(y):
            if _is_dataarray(pred):
                # Labelled on both sides: match dimensions by name and require the same labels.
                import xarray as xr

                if set(y.dims) != set(pred.dims):
                    raise InputError("RidgeCV.score: y", f"dimensions {y.dims}",
                                     expected=f"the predictions' dimensions {pred.dims}")
                y = y.transpose(*pred.dims)
                try:
                    xr.align(pred, y, join="exact")
                except ValueError as err:
                    raise InputError("RidgeCV.score: X and y", f"their labels differ ({err})",
                                     expected="the same samples and targets in the same order") from err
            elif y.ndim == 2 and self._target_dim in y.dims:
                y = y.transpose(..., self._target_dim)
        return float(r2_score(np.asarray(y), np.asarray(pred), sample_weight=sample_weight))
