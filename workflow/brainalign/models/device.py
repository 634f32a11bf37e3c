"""Check a configured torch device against the machine a job runs on.

The check runs when a job loads its model, never when the workflow is planned: a login node
without GPUs plans (and submits) jobs for GPU nodes, so ``features.device: cuda`` is valid config
there.  On the node that runs the job, a device it does not have is a
:class:`brainalign.errors.ConfigError` naming the config key, the device and the devices present,
instead of torch's bare ``AssertionError: Torch not compiled with CUDA enabled``.
"""

from __future__ import annotations

import os
import re
import socket

from brainalign.errors import ConfigError

_DEVICE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")


def available_devices() -> list[str]:
    """Devices torch can use here: ``["cpu"]`` plus ``cuda:0`` .. ``cuda:N-1`` when CUDA works."""
    import torch

    if not torch.cuda.is_available():
        return ["cpu"]
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def _why_no_cuda() -> str:
    import torch

    if not torch.backends.cuda.is_built():
        return f"this PyTorch ({torch.__version__}) is built without CUDA"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return "no CUDA device is visible" + (f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else "")


def check_device(device: str, key: str) -> str:
    """Return ``device`` if this machine has it, else raise a :class:`ConfigError` naming ``key``.

    Parameters
    ----------
    device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    key
        The config key it came from (``"features.device"``, ``"brainbench.device"``).

    Raises
    ------
    ConfigError
        A device that is not ``cpu``/``cuda[:N]``, CUDA without a usable GPU (no CUDA build, no
        visible device), or ``cuda:N`` beyond the devices present.
    """
    match = _DEVICE.match(str(device))
    if match is None:
        raise ConfigError(key, f"device {device!r} is not a torch device this workflow supports",
                          expected="'cpu', 'cuda' or 'cuda:N'")
    if match.group(1) == "cpu":
        return device
    present = available_devices()
    host = socket.gethostname()
    hint = (f"set {key}: cpu, or run the job on a GPU node (with the SLURM profile, jobs of a cuda "
            "config request a GPU)")
    if len(present) == 1:
        raise ConfigError(key, f"device {device!r} is not available on this machine ({host}): {_why_no_cuda()}",
                          expected=f"one of the devices present: {', '.join(present)}", hint=hint)
    index = int(match.group(2) or 0)
    if f"cuda:{index}" not in present:
        raise ConfigError(key, f"device {device!r} is not available on this machine ({host}): only "
                               f"{len(present) - 1} CUDA device(s)",
                          expected=f"one of the devices present: {', '.join(present)}", hint=hint)
    return device
