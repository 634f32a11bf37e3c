"""Device checks name the config key and the devices present (brainalign.models.device)."""

from __future__ import annotations

import pytest
import torch


def test_check_device_names_the_key_and_the_devices_present(monkeypatch):
    from brainalign.errors import ConfigError
    from brainalign.models.device import available_devices, check_device

    assert check_device("cpu", "features.device") == "cpu"
    with pytest.raises(ConfigError, match=r"config key 'brainbench.device': device 'tpu' .*expected 'cpu', 'cuda'"):
        check_device("tpu", "brainbench.device")
    # One GPU present (simulated): cuda and cuda:0 pass, cuda:1 names the devices there are.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert available_devices() == ["cpu", "cuda:0"]
    assert check_device("cuda", "features.device") == "cuda" and check_device("cuda:0", "features.device") == "cuda:0"
    with pytest.raises(ConfigError, match=r"'features.device': device 'cuda:1' .*only 1 CUDA device.*cpu, cuda:0"):
        check_device("cuda:1", "features.device")
    # No GPU: the reason (no CUDA build, or none visible) is named.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"device 'cuda' is not available on this machine .*(built without CUDA|"
                                          r"no CUDA device is visible).*expected one of the devices present: cpu"):
        check_device("cuda", "features.device")
