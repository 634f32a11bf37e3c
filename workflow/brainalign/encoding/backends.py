"""Array backends for the ridge solver: numpy and torch (CPU, or CUDA when available).

The solver (:mod:`brainalign.encoding.ridge`) is written once against the few operations below, the
way himalaya separates its solvers from its backends.  Small matrices (Gram matrices, their
eigendecompositions) are always handled in float64 numpy on the host; only the large products whose
size grows with the number of targets run on the backend, in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class NumpyBackend:
    """float32 numpy arrays on the host (BLAS does the heavy lifting)."""

    name = "numpy"
    device = "cpu"

    def asarray(self, x: Any) -> np.ndarray:
        """Return ``x`` as a C-contiguous float32 array (no copy if it already is one)."""
        return np.ascontiguousarray(x, dtype=np.float32)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32)

    def sum_squares(self, x: np.ndarray, axis: int) -> np.ndarray:
        """Sum of squares along ``axis`` (einsum avoids a temporary the size of ``x``)."""
        sub = "abc"[: x.ndim]
        out = sub.replace(sub[axis], "")
        return np.einsum(f"{sub},{sub}->{out}", x, x)

    def inner(self, pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``sum_v pred[a, v, t] * y[v, t]`` for every ``a, t``."""
        return np.einsum("avt,vt->at", pred, y)

    def index(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx)


class TorchBackend:
    """float32 torch tensors on ``device`` ("cpu", "cuda", "cuda:1", ...)."""

    name = "torch"

    def __init__(self, device: str | None = None) -> None:
        import torch

        self._torch = torch
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device

    def asarray(self, x: Any):
        torch = self._torch
        if isinstance(x, torch.Tensor):
            return x.to(device=self.device, dtype=torch.float32)
        return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        if isinstance(x, self._torch.Tensor):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def zeros(self, shape: tuple[int, ...]):
        return self._torch.zeros(shape, dtype=self._torch.float32, device=self.device)

    def sum_squares(self, x, axis: int):
        return (x * x).sum(dim=axis)

    def inner(self, pred, y):
        return (pred * y[None]).sum(dim=1)

    def index(self, idx: np.ndarray):
        return self._torch.as_tensor(np.asarray(idx), device=self.device)


def get_backend(name: str | NumpyBackend | TorchBackend = "numpy") -> NumpyBackend | TorchBackend:
    """Return a backend by name: ``"numpy"``, ``"torch"`` (CUDA if available), ``"torch_cpu"``,
    ``"torch_cuda"``.

    Raises
    ------
    ValueError
        For an unknown name, or ``"torch_cuda"`` without a CUDA device.
    """
    if isinstance(name, (NumpyBackend, TorchBackend)):
        return name
    if name == "numpy":
        return NumpyBackend()
    if name == "torch":
        return TorchBackend()
    if name == "torch_cpu":
        return TorchBackend("cpu")
    if name == "torch_cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("encoding.backend='torch_cuda' but no CUDA device is available; use 'torch' or 'numpy'")
        return TorchBackend("cuda")
    raise ValueError(f"encoding.backend={name!r}: expected one of 'numpy', 'torch', 'torch_cpu', 'torch_cuda'")
