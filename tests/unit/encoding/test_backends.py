"""The ridge solver's array backends give the same numbers (brainalign.encoding.backends)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.encoding.backends import NumpyBackend, TorchBackend, get_backend


@pytest.mark.parametrize("name", ["numpy", "torch_cpu"])
def test_operations_match_their_numpy_definitions(name):
    backend = get_backend(name)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4))
    y = rng.standard_normal((5, 4))
    ax = backend.asarray(x)
    assert backend.to_numpy(ax).dtype == np.float32
    for axis in range(3):
        np.testing.assert_allclose(backend.to_numpy(backend.sum_squares(ax, axis)), (x ** 2).sum(axis), rtol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(backend.inner(ax, backend.asarray(y))),
                               np.einsum("avt,vt->at", x, y), rtol=1e-5, atol=1e-6)
    assert backend.to_numpy(backend.zeros((2, 3))).tolist() == [[0.0] * 3] * 2
    assert backend.to_numpy(backend.index(np.array([2, 0]))).tolist() == [2, 0]


def test_names_and_instances():
    assert isinstance(get_backend(), NumpyBackend)
    assert get_backend("torch_cpu").device == "cpu"
    assert get_backend("torch").device == ("cuda" if torch.cuda.is_available() else "cpu")
    backend = TorchBackend("cpu")
    assert get_backend(backend) is backend
    with pytest.raises(ValueError, match=r"encoding.backend='jax': expected one of 'numpy', 'torch'"):
        get_backend("jax")


def test_torch_cuda_without_a_gpu_names_the_alternatives(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"'torch_cuda' but no CUDA device is available; use 'torch' or 'numpy'"):
        get_backend("torch_cuda")


def test_numpy_asarray_does_not_copy_a_float32_c_array():
    x = np.zeros((4, 3), np.float32)
    assert NumpyBackend().asarray(x) is x
