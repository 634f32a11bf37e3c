"""Same config and inputs -> bit-identical outputs, run after run.

The reference is the session's uninterrupted run of the tiny demo (fixture ``tiny_demo`` of
tests/conftest.py: every stage of the workflow, tests/workflow/configs/tiny_demo.yaml); a second run
in a fresh directory must reproduce every output: the generated BIDS demo, word tables, features,
preprocessed recordings, scores (Zarr arrays compared on their values, attributes without
timestamps), the validation table, every file byte for byte.

The first tests check the comparison itself on planted differences, so that "identical" means
something.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr



def _store(path: Path, values: np.ndarray, **attrs) -> None:
    ds = xr.Dataset({"r": (("layer", "voxel"), values)}, coords={"layer": [0, 1]}, attrs=attrs)
    ds.to_zarr(path, mode="w", zarr_format=3)


def _tree(root: Path, values: np.ndarray, table: str = "a\tb\n1\t2\n", **attrs) -> Path:
    (root / "results" / "x" / "scores").mkdir(parents=True)
    _store(root / "results" / "x" / "scores" / "m.zarr", values, **attrs)
    (root / "results" / "x" / "scores" / "m.csv").write_text(table)
    (root / "results" / "x" / "logs").mkdir()
    (root / "results" / "x" / "logs" / "job.log").write_text(str(root))  # differs, but logs are not outputs
    return root


def test_digest_sees_one_changed_value(tmp_path, output_digest, digest_diff):
    values = np.arange(6, dtype="float32").reshape(2, 3)
    a = _tree(tmp_path / "a", values)
    changed = values.copy()
    changed[1, 2] = np.nextafter(changed[1, 2], np.float32(np.inf))  # one ulp
    b = _tree(tmp_path / "b", changed)
    assert digest_diff(output_digest(a), output_digest(b)) == ["differs: x/scores/m.zarr::r"]


def test_digest_sees_tables_and_dtype_but_not_timestamps_or_workdir(tmp_path, output_digest, digest_diff):
    values = np.ones((2, 3), dtype="float32")
    a = _tree(tmp_path / "a", values, created="2026-01-01T00:00:00", config_hash="abc",
              source_file=str(tmp_path / "a" / "results" / "raw.nii"))
    b = _tree(tmp_path / "b", values, created="2026-06-30T12:00:00", config_hash="abc",
              source_file=str(tmp_path / "b" / "results" / "raw.nii"))
    assert digest_diff(output_digest(a), output_digest(b)) == []
    c = _tree(tmp_path / "c", values, table="a\tb\n1\t3\n", config_hash="abc")
    assert "differs: x/scores/m.csv" in digest_diff(output_digest(a), output_digest(c))
    d = _tree(tmp_path / "d", values.astype("float64"), config_hash="abc")
    assert "differs: x/scores/m.zarr::r" in digest_diff(output_digest(a), output_digest(d))
    e = _tree(tmp_path / "e", values, config_hash="abd")
    assert "differs: x/scores/m.zarr::@attrs" in digest_diff(output_digest(a), output_digest(e))


@pytest.mark.slow
def test_second_run_is_bit_identical(tiny_demo, tmp_path, output_digest, digest_diff, snakemake_runner):
    out = snakemake_runner(tmp_path)
    assert out.returncode == 0, out.stderr[-8000:]
    first, second = output_digest(tiny_demo), output_digest(tmp_path)
    assert any(k.startswith("demo/scores/") for k in first), sorted(first)[:20]
    differences = digest_diff(first, second)
    assert not differences, "two runs of the same config differ:\n" + "\n".join(differences[:50])


@pytest.fixture(autouse=True)
def _clean_scratch(tmp_path):
    yield
    # full runs leave hundreds of MB; do not keep them in pytest's retained temp folders
    for child in tmp_path.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


@pytest.mark.slow
def test_heavy_rules_leave_benchmark_files(tiny_demo):
    """The heavy rules of a real run write benchmark files, and the usage summary reads them."""
    from brainalign.jobstats import read_benchmarks, summarise_benchmarks

    jobs = read_benchmarks([tiny_demo / "results"])
    rules = set(jobs.rule)
    assert {"features", "preprocess_fmri", "encode"} <= rules, sorted(rules)
    summary = summarise_benchmarks(jobs).set_index("rule")
    # a model job holds the weights and a story's activations: its measured peak is well above zero
    assert summary.loc["features", "max_rss_mb"] > 100
    assert (summary["wall_s_max"] > 0).all()
