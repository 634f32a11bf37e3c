"""Model-to-model similarity on the stimulus words: linear CKA and RSA between every pair of layers.

Linear CKA (Kornblith et al. 2019) compares two representations of the same n words through their
(centred) Gram matrices K = XXᵀ, L = YYᵀ:  CKA = HSIC(K, L) / √(HSIC(K, K) HSIC(L, L)).  It is
invariant to orthogonal transforms and isotropic scaling of either representation.  The plain
(biased) HSIC inflates CKA between unrelated representations when the feature count is not small
next to n; ``debiased=True`` uses the unbiased HSIC estimator (Song et al. 2012; Nguyen et al.
2021), whose CKA is ≈ 0 for independent representations.

All layers of a model are handled at once: each layer's Gram matrix is flattened into one row, so
that every layer pair's HSIC is one matrix product (n² · L_a · L_b) instead of L_a · L_b products
of n × p matrices.  Memory is ``n_layers · n_words² · 4`` bytes per model: cap ``max_words``.

RSA builds each layer's representational dissimilarity matrix (1 − Pearson r between word
vectors) and compares two layers by the Spearman correlation of the RDMs' upper triangles.
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

Method = Literal["cka", "rsa"]


def stack_features(stories: Sequence[xr.Dataset] | Mapping[str, xr.Dataset], var: str = "hidden") -> xr.DataArray:
    """Concatenate one model's per-story feature stores along ``word``.

    Returns
    -------
    xr.DataArray
        ``word × layer × feature`` with coordinates ``story`` and ``text`` per word, ``layer``
        and ``relative_depth``; ``word`` renumbered 0..N−1 over all stories.
    """
    items = list(stories.values()) if isinstance(stories, Mapping) else list(stories)
    if not items:
        raise ValueError("stack_features needs at least one feature store")
    parts = []
    for i, ds in enumerate(items):
        if var not in ds or tuple(ds[var].dims) != ("word", "layer", "feature"):
            raise ValueError(f"feature store {i} lacks {var!r} with dims (word, layer, feature)")
        da = ds[var]
        story = str(ds["story"].values) if "story" in ds.coords else str(i)
        keep = {"layer": da["layer"].values}
        if "relative_depth" in da.coords:
            keep["relative_depth"] = ("layer", da["relative_depth"].values)
        text = da["text"].values if "text" in da.coords else np.full(da.sizes["word"], "")
        parts.append(xr.DataArray(
            np.asarray(da.values), dims=("word", "layer", "feature"),
            coords={**keep, "story": ("word", np.full(da.sizes["word"], story, dtype=object)),
                    "text": ("word", np.asarray(text, dtype=object))}))
    out = xr.concat(parts, dim="word", coords="minimal", compat="override")
    return out.assign_coords(word=np.arange(out.sizes["word"]))


def _check_aligned(a: xr.DataArray, b: xr.DataArray) -> None:
    if a.sizes["word"] != b.sizes["word"]:
        raise ValueError(f"models saw different numbers of words ({a.sizes['word']} vs {b.sizes['word']}); "
                         "compare models on the same word tables")
    if "text" in a.coords and "text" in b.coords:
        ta, tb = np.asarray(a["text"].values, str), np.asarray(b["text"].values, str)
        bad = np.flatnonzero(ta != tb)
        if bad.size:
            raise ValueError(f"word {bad[0]} differs between models ({ta[bad[0]]!r} vs {tb[bad[0]]!r})")


def _grams(x: np.ndarray, debiased: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened centred Gram matrices of every layer (layer × n²), their sums and row sums.

    For the debiased estimator the diagonal is zeroed (the Gram is built from centred features; the
    unbiased HSIC does not depend on that centring).
    """
    n, n_layer, _ = x.shape
    flat = np.empty((n_layer, n * n), dtype=np.float32)
    sums = np.zeros(n_layer)
    rows = np.zeros((n_layer, n))
    for i in range(n_layer):
        xi = x[:, i, :].astype(np.float64)
        xi -= xi.mean(axis=0)
        k = xi @ xi.T
        if debiased:
            np.fill_diagonal(k, 0.0)
            rows[i] = k.sum(axis=1)
            sums[i] = rows[i].sum()
        flat[i] = k.astype(np.float32).ravel()
    return flat, sums, rows


def _hsic(ga, gb, debiased: bool, n: int) -> np.ndarray:
    """HSIC between every layer of a and every layer of b (layer_a × layer_b)."""
    flat_a, sum_a, row_a = ga
    flat_b, sum_b, row_b = gb
    trace = (flat_a @ flat_b.T).astype(np.float64)   # tr(K L) = <K, L>_F for symmetric K, L
    if not debiased:
        return trace / (n - 1) ** 2
    if n < 4:
        raise ValueError("debiased CKA needs at least 4 words")
    return (trace + np.outer(sum_a, sum_b) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (row_a @ row_b.T)) / (n * (n - 3))


def _self_hsic(g, debiased: bool, n: int) -> np.ndarray:
    flat, sums, rows = g
    trace = np.einsum("ij,ij->i", flat, flat, dtype=np.float64)
    if not debiased:
        return trace / (n - 1) ** 2
    return (trace + sums**2 / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * np.einsum("ij,ij->i", rows, rows)) / (n * (n - 3))


def linear_cka(x: np.ndarray, y: np.ndarray, debiased: bool = False) -> float:
    """Linear CKA between two representations ``x`` (n × p) and ``y`` (n × q) of the same n items."""
    x = np.asarray(x, dtype=np.float64)[:, None, :]
    y = np.asarray(y, dtype=np.float64)[:, None, :]
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same items on both sides: {x.shape[0]} vs {y.shape[0]} rows")
    n = x.shape[0]
    gx, gy = _grams(x, debiased), _grams(y, debiased)
    num = _hsic(gx, gy, debiased, n)[0, 0]
    den = np.sqrt(_self_hsic(gx, debiased, n)[0] * _self_hsic(gy, debiased, n)[0])
    return float(num / den) if den > 0 else float("nan")


def _rdm_ranks(x: np.ndarray) -> np.ndarray:
    """Per layer: z-scored ranks of the RDM's upper triangle (layer × n(n−1)/2)."""
    n, n_layer, _ = x.shape
    iu = np.triu_indices(n, k=1)
    out = np.empty((n_layer, iu[0].size), dtype=np.float32)
    for i in range(n_layer):
        rdm = 1.0 - np.corrcoef(x[:, i, :].astype(np.float64))
        ranks = stats.rankdata(rdm[iu])
        ranks -= ranks.mean()
        sd = ranks.std()
        out[i] = ranks / sd if sd > 0 else np.nan
    return out


def _subsample(n: int, max_words: int | None, seed: int) -> np.ndarray:
    if max_words is None or n <= max_words:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_words, replace=False))


def _prepare(feats: xr.DataArray, idx: np.ndarray, method: Method, debiased: bool, standardize: bool = False):
    x = np.asarray(feats.transpose("word", "layer", "feature").values)[idx]
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN/inf; cannot compute similarity")
    if standardize:
        # Per feature z-score (as the encoders see the features): a few high-magnitude "outlier"
        # dimensions of transformer residual streams otherwise dominate linear CKA.
        x = x.astype(np.float64)
        x -= x.mean(axis=0)
        sd = x.std(axis=0)
        x = np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)
    return _grams(x, debiased) if method == "cka" else _rdm_ranks(x)


def _compare(pa, pb, method: Method, debiased: bool, n: int) -> np.ndarray:
    if method == "cka":
        num = _hsic(pa, pb, debiased, n)
        den = np.sqrt(np.outer(_self_hsic(pa, debiased, n), _self_hsic(pb, debiased, n)))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / den, np.nan)
    return (pa.astype(np.float64) @ pb.T.astype(np.float64)) / pa.shape[1]


def layer_similarity(a: xr.DataArray, b: xr.DataArray, *, method: Method = "cka", debiased: bool = False,
                     max_words: int | None = 1000, seed: int = 0, standardize: bool = False) -> xr.DataArray:
    """Similarity between every layer of ``a`` and every layer of ``b`` on the same words.

    Parameters
    ----------
    a, b
        ``word × layer × feature`` (e.g. :func:`stack_features` of each model).
    method
        ``"cka"`` (linear CKA) or ``"rsa"`` (Spearman correlation of correlation-distance RDMs).
    debiased
        CKA only: use the unbiased HSIC estimator.
    max_words
        Use a seeded random subset of at most this many words (memory grows as words²).
    seed
        Seed of the subset.
    standardize
        z-score every feature over words first (what the encoders see); otherwise raw features, as
        in Kornblith et al. (2019), where a few high-magnitude dimensions can dominate.

    Returns
    -------
    xr.DataArray
        ``similarity`` with dims ``layer_a × layer_b`` and coords ``relative_depth_a/b``.
    """
    if method not in ("cka", "rsa"):
        raise ValueError(f"method must be 'cka' or 'rsa', got {method!r}")
    _check_aligned(a, b)
    idx = _subsample(a.sizes["word"], max_words, seed)
    pa = _prepare(a, idx, method, debiased, standardize)
    pb = pa if b is a else _prepare(b, idx, method, debiased, standardize)
    return _wrap(_compare(pa, pb, method, debiased, idx.size), a, b, method, debiased, idx.size)


def _wrap(values, a, b, method, debiased, n) -> xr.DataArray:
    coords = {"layer_a": a["layer"].values, "layer_b": b["layer"].values}
    if "relative_depth" in a.coords:
        coords["relative_depth_a"] = ("layer_a", a["relative_depth"].values)
    if "relative_depth" in b.coords:
        coords["relative_depth_b"] = ("layer_b", b["relative_depth"].values)
    return xr.DataArray(values, dims=("layer_a", "layer_b"), coords=coords, name="similarity",
                        attrs={"method": method, "debiased": int(debiased), "n_words": int(n)})


def similarity_table(features_by_model: Mapping[str, xr.DataArray], *, method: Method = "cka",
                     debiased: bool = False, max_words: int | None = 1000, seed: int = 0,
                     standardize: bool = False) -> pd.DataFrame:
    """Layer-by-layer similarity for every unordered pair of models (each model with itself too).

    Each model's Gram/RDM stack is computed once.  Parameters as in :func:`layer_similarity`.

    Returns
    -------
    pd.DataFrame
        ``model_a, model_b, layer_a, layer_b, relative_depth_a, relative_depth_b, similarity,
        method, debiased, n_words``.
    """
    names = list(features_by_model)
    if not names:
        raise ValueError("similarity_table needs at least one model")
    first = features_by_model[names[0]]
    for name in names[1:]:
        _check_aligned(first, features_by_model[name])
    idx = _subsample(first.sizes["word"], max_words, seed)
    prepared = {name: _prepare(features_by_model[name], idx, method, debiased, standardize) for name in names}
    frames = []
    for i, ma in enumerate(names):
        for mb in names[i:]:
            sim = _wrap(_compare(prepared[ma], prepared[mb], method, debiased, idx.size),
                        features_by_model[ma], features_by_model[mb], method, debiased, idx.size)
            df = sim.to_dataframe().reset_index()
            df.insert(0, "model_b", mb)
            df.insert(0, "model_a", ma)
            frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["method"] = method
    out["debiased"] = bool(debiased)
    out["n_words"] = int(idx.size)
    out["standardized"] = bool(standardize)
    cols = ["model_a", "model_b", "layer_a", "layer_b", "relative_depth_a", "relative_depth_b",
            "similarity", "method", "debiased", "standardized", "n_words"]
    return out[[c for c in cols if c in out.columns]]
