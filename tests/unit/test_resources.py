"""Job requests from the size of the inputs (brainalign.resources)."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import xarray as xr

from brainalign.io.store import write_zarr
from brainalign.resources import RULE_SIZES, JobSize, input_bytes, path_bytes, rule_size, zarr_bytes


def _scores(n_subjects: int, n_voxels: int) -> xr.Dataset:
    r = np.zeros((n_subjects, 3, n_voxels), dtype="float32")
    return xr.Dataset({"r": (("subject", "layer", "voxel"), r),
                       "alpha": (("subject", "layer", "voxel"), r.astype("float64"))},
                      coords={"subject": [f"{i:02d}" for i in range(n_subjects)], "layer": [0, 1, 2],
                              "voxel": np.arange(n_voxels)})


def test_zarr_bytes_counts_uncompressed_arrays(tmp_path):
    # zeros compress to almost nothing on disk: the request must follow what the job holds in memory
    path = write_zarr(_scores(4, 1000), tmp_path / "s.zarr")
    on_disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    expected = 4 * 3 * 1000 * (4 + 8) + 3 * 8 + 1000 * 8 + 4 * 2 * 4  # r, alpha, layer, voxel, subject (<U2)
    assert zarr_bytes(path) == pytest.approx(expected, rel=0.01)
    assert on_disk < zarr_bytes(path) / 10


def test_bytes_grow_with_the_store(tmp_path):
    small = path_bytes(write_zarr(_scores(2, 500), tmp_path / "a.zarr"))
    large = path_bytes(write_zarr(_scores(20, 500), tmp_path / "b.zarr"))
    assert large > 9 * small


def test_plain_files_and_folders_count_their_size(tmp_path):
    (tmp_path / "t.tsv").write_bytes(b"x" * 1234)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"y" * 100)
    assert input_bytes([tmp_path / "t.tsv", tmp_path / "d"]) == 1334


def test_missing_input_is_a_file_not_found_error_naming_it(tmp_path):
    # Snakemake defers a request (<TBD>) only when the error's filename is one of the job's inputs
    name = str(tmp_path / "not_yet.zarr")
    with pytest.raises(FileNotFoundError) as info:
        input_bytes([name])
    assert info.value.filename == name and info.value.errno == errno.ENOENT


def test_requests_scale_with_input_and_attempt():
    size = JobSize(base_mb=1000, copies=4.0, base_minutes=5, minutes_per_gb=10)
    assert size.mem_mb(0) == 1000
    assert size.mem_mb(2**30) == 1000 + 4 * 1024
    assert size.mem_mb(2**30, attempt=2) == 2 * (1000 + 4 * 1024)
    assert size.runtime(2**31) == 25
    assert size.runtime(0, attempt=3) == 15


def test_rule_size_names_the_sized_rules():
    assert rule_size("analysis_hierarchy") is RULE_SIZES["analysis_hierarchy"]
    with pytest.raises(KeyError, match="analysis_hierarchy"):
        rule_size("no_such_rule")


def test_rule_callables_size_named_inputs(tmp_path):
    from snakemake.iocontainers import Namedlist

    from brainalign.resources import input_mem_mb, input_runtime

    big = write_zarr(_scores(40, 2000), tmp_path / "big.zarr")
    (tmp_path / "atlas.nii").write_bytes(b"z" * 2**20)
    # as Snakemake builds a job's input: flat paths, a name per item or slice
    inputs = Namedlist(toclone=[str(big), str(tmp_path / "atlas.nii")])
    inputs._set_name("scores", 0)
    inputs._set_name("regions", 1, end=2)
    size = RULE_SIZES["figure_layer_profiles"]
    mem = input_mem_mb("figure_layer_profiles", "scores")
    assert mem(None, inputs, 1) == size.mem_mb(zarr_bytes(big))
    assert input_mem_mb("figure_layer_profiles")(None, inputs, 2) == size.mem_mb(zarr_bytes(big) + 2**20, 2)
    assert input_runtime("figure_layer_profiles", "scores")(None, inputs, 1) == size.runtime(zarr_bytes(big))
