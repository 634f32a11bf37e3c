"""Model-to-model similarity: linear CKA and RSA on Features (brainalign.analyses.similarity)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from brainalign import analyses as A


def _reference_cka(x, y):
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_cka_identical_rotated_independent():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 30))
    q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    y = rng.standard_normal((400, 30))
    assert A.linear_cka(x, x) == pytest.approx(1.0, abs=1e-6)
    assert A.linear_cka(x, 2.5 * x @ q + 3.0) == pytest.approx(1.0, abs=1e-6)
    assert A.linear_cka(x, y) == pytest.approx(_reference_cka(x, y), rel=1e-5)
    assert A.linear_cka(x, y) > 0.03              # the known positive bias of plain CKA (p/n)
    assert abs(A.linear_cka(x, y, debiased=True)) < 0.02
    assert A.linear_cka(x, x @ q, debiased=True) == pytest.approx(1.0, abs=1e-6)


def _features(x: np.ndarray, story: str = "s") -> xr.Dataset:
    n, n_layer, _ = x.shape
    return xr.Dataset({"hidden": (("word", "layer", "feature"), x.astype(np.float32))},
                      coords={"word": np.arange(n), "layer": np.arange(n_layer),
                              "relative_depth": ("layer", np.arange(n_layer) / max(n_layer - 1, 1)),
                              "text": ("word", [f"w{i}" for i in range(n)]), "story": story})


def test_similarity_table_structure_and_values():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((300, 1, 16))
    # Model a: layer 0 = base, layer 1 = independent, layer 2 = base rotated.
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    xa = np.concatenate([base, rng.standard_normal((300, 1, 16)), base @ q], axis=1)
    xb = np.concatenate([base[:, :, ::-1], rng.standard_normal((300, 1, 16))], axis=1)   # permuted base
    fa = A.stack_features([_features(xa[:150], "s1"), _features(xa[150:], "s2")])
    fb = A.stack_features([_features(xb[:150], "s1"), _features(xb[150:], "s2")])
    assert fa.sizes["word"] == 300 and list(np.unique(fa["story"].values)) == ["s1", "s2"]
    table = A.similarity_table({"a": fa, "b": fb}, debiased=True)
    assert set(zip(table["model_a"], table["model_b"])) == {("a", "a"), ("a", "b"), ("b", "b")}
    ab = table[(table["model_a"] == "a") & (table["model_b"] == "b")].set_index(["layer_a", "layer_b"])["similarity"]
    assert ab[(0, 0)] == pytest.approx(1.0, abs=1e-5) and ab[(2, 0)] == pytest.approx(1.0, abs=1e-5)
    assert abs(ab[(1, 0)]) < 0.05 and abs(ab[(0, 1)]) < 0.05
    single = A.layer_similarity(fa, fb, debiased=True)
    assert float(single.sel(layer_a=1, layer_b=1)) == pytest.approx(
        A.linear_cka(xa[:, 1], xb[:, 1], debiased=True), abs=1e-5)


def test_rsa_identity_and_scale_invariance():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((120, 2, 10))
    x[:, 1] = 3 * x[:, 0] + 1          # scaled + shifted copy: same correlation RDM
    f = A.stack_features([_features(x)])
    sim = A.layer_similarity(f, f, method="rsa")
    assert float(sim.sel(layer_a=0, layer_b=1)) == pytest.approx(1.0, abs=1e-6)


def test_similarity_rejects_misaligned_words():
    rng = np.random.default_rng(3)
    fa = A.stack_features([_features(rng.standard_normal((50, 2, 4)))])
    fb = A.stack_features([_features(rng.standard_normal((40, 2, 4)))])
    with pytest.raises(ValueError, match="different numbers of words"):
        A.layer_similarity(fa, fb)


def test_standardized_cka_is_not_dominated_by_an_outlier_dimension():
    rng = np.random.default_rng(4)
    shared = rng.standard_normal((300, 10))
    a = np.concatenate([shared, 100 * rng.standard_normal((300, 1))], axis=1)   # one huge private dim
    b = np.concatenate([shared, 100 * rng.standard_normal((300, 1))], axis=1)
    fa = A.stack_features([_features(a[:, None, :])])
    fb = A.stack_features([_features(b[:, None, :])])
    raw = float(A.layer_similarity(fa, fb, debiased=True)[0, 0])
    std = float(A.layer_similarity(fa, fb, debiased=True, standardize=True)[0, 0])
    assert raw < 0.1 < 0.8 < std
