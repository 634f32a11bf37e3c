"""Resources of the unsharded encoder jobs (issue 16): mem_mb and runtime from the input check's sizes,
the same estimate as a shard's, and a measured single job's peak within its request."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from brainalign.config_sections import with_defaults
from brainalign.encoding.shards import BASE_MB, estimate_mb
from brainalign.encoding.sizing import (BASE_MINUTES, job_resources, single_job_mb, single_job_minutes)
from brainalign.io.inputs import COLUMNS


def _table(tmp_path, n_subjects=3, n_samples=300, n_targets=20000):
    rows = []
    for sub in range(n_subjects):
        for story in ("a", "b"):
            r = dict.fromkeys(COLUMNS, "n/a") | {"subject": f"{sub:02d}", "story": story, "modality": "fmri",
                                                 "n_samples": str(n_samples), "n_words": "900",
                                                 "n_targets": str(n_targets)}
            rows.append("\t".join(r[c] for c in COLUMNS))
    path = tmp_path / "inputs.tsv"
    path.write_text("\n".join(["\t".join(COLUMNS), *rows]) + "\n")
    return path, [(f"{s:02d}", t) for s in range(n_subjects) for t in ("a", "b")]


def _config(**analyses):
    return {"encoding": with_defaults("encoding", {"alphas": {"num": 11}}), "design": with_defaults("design"),
            "preprocess": with_defaults("preprocess"), "analyses": with_defaults("analyses", analyses)}


def test_joint_subjects_are_one_fit_and_separate_ones_wait_in_memory():
    sizes = {s: {"rows": 600, "targets": 20000, "stories": ["a", "b"]} for s in ("01", "02", "03")}
    joint = single_job_mb(sizes, subject_fits="joint", design_width=4096, n_alphas=11)
    assert joint == estimate_mb(600, 3 * 20000, design_width=4096, n_alphas=11, target_cells=3 * 600 * 20000)
    separate = single_job_mb(sizes, subject_fits="separate", design_width=4096, n_alphas=11)
    one = estimate_mb(600, 20000, design_width=4096, n_alphas=11, target_cells=600 * 20000)
    assert separate == pytest.approx(one + 4 * 2 * 600 * 20000 / 2**20, abs=1)  # the two others' targets held
    more = single_job_mb({**sizes, "04": sizes["01"]}, subject_fits="joint", design_width=4096, n_alphas=11)
    assert more > joint


def test_runtime_grows_with_the_work():
    sizes = {s: {"rows": 600, "targets": 20000, "stories": ["a", "b"]} for s in ("01", "02")}
    opts = dict(subject_fits="joint", design_width=4096, n_alphas=11, inner_folds=5)
    one = single_job_minutes(sizes, n_layers=1, **opts)
    assert one > BASE_MINUTES
    assert single_job_minutes(sizes, n_layers=10, **opts) > one
    assert single_job_minutes(sizes, n_layers=10, n_fits=4, **opts) > single_job_minutes(sizes, n_layers=10, **opts)


def test_job_resources_from_the_input_check(tmp_path):
    """The forecast window widens the design; the forecast and depth grids multiply the fits."""
    table, runs = _table(tmp_path)
    config = _config()
    encode = job_resources("encode", table, "fmri", runs, config)
    forecast = job_resources("forecast", table, "fmri", runs, config)
    depth = job_resources("forecast_depth", table, "fmri", runs, config)
    context = job_resources("context", table, "fmri", runs, config)
    # 3 subjects x 600 volumes x 20,000 voxels: the targets alone are 137 MB per float32 copy
    assert encode["mem_mb"] > BASE_MB + 9 * 137
    assert forecast["mem_mb"] > encode["mem_mb"] and depth["mem_mb"] == forecast["mem_mb"]
    assert context["mem_mb"] == encode["mem_mb"]
    assert forecast["runtime"] > context["runtime"] and depth["runtime"] > context["runtime"]
    fewer = job_resources("forecast", table, "fmri", runs, _config(forecast={"distances": [1]}))
    assert fewer["runtime"] < forecast["runtime"]
    (tmp_path / "big").mkdir()
    bigger, same_runs = _table(tmp_path / "big", n_targets=40000)
    assert job_resources("encode", bigger, "fmri", same_runs, config)["mem_mb"] > encode["mem_mb"]
    with pytest.raises(ValueError, match="unknown job"):
        job_resources("similarity", table, "fmri", runs, config)


MEASURE = """
import json, resource, sys
import numpy as np, xarray as xr
from tests.synthetic_features import random_features
from brainalign.design.fmri import fmri_operator
from brainalign.encoding import encode_dataset
from brainalign.encoding.settings import design_settings, solver_settings
rng = np.random.default_rng(0)
feats = random_features(rng, 2, 64, 600, ("a", "b"))
recs = {}
for sub in ("01", "02", "03"):
    recs[sub] = {}
    for s, f in feats.items():
        times = (np.arange(2, int(f.onset.values[-1] / 2.0) + 8) + 0.5) * 2.0
        recs[sub][s] = xr.DataArray(rng.standard_normal((times.size, 6000)).astype(np.float32),
                                    dims=("time", "voxel"), coords={"time": times}, attrs={"tr": 2.0})
rows = int(sum(r.sizes["time"] for r in recs["01"].values()))
encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri", method="hrf"),
               encoding=solver_settings(alphas=np.logspace(-1, 5, 11).tolist(), inner_folds=3, ceiling="none"))
# VmHWM: this process's own pages; ru_maxrss would also count the parent's (pytest's) peak, which Linux carries
# across fork + exec (1,890 MB in a full suite run for a 370 MB job)
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"rows": rows, "peak_mb": peak}))
"""


def test_a_measured_single_jobs_peak_is_within_its_request():
    """encode_dataset of 3 subjects x 2 stories x 6,000 voxels (HRF design, 64 features) in a fresh
    interpreter: its peak RSS is within the single job's estimate (which must not be far above it either)."""
    out = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    sizes = {s: {"rows": got["rows"], "targets": 6000, "stories": ["a", "b"]} for s in ("01", "02", "03")}
    asked = single_job_mb(sizes, subject_fits="joint", design_width=64, n_alphas=11)
    print(f"single job: peak {got['peak_mb']:.0f} MB, request {asked} MB")
    assert got["peak_mb"] <= asked
    assert asked <= 3 * got["peak_mb"]


def test_a_shards_runtime_is_its_share_of_the_single_jobs_work(tmp_path):
    from brainalign.encoding.sizing import gather_minutes, job_work, shard_minutes

    table, runs = _table(tmp_path, n_targets=200000)
    config = _config()
    work = job_work("encode", table, "fmri", runs, config)
    subjects = ["00", "01", "02"]
    whole = shard_minutes(work, {"id": "g0-l0-t0", "subjects": subjects, "n_target_blocks": 1, "n_layer_blocks": 1})
    assert whole == job_resources("encode", table, "fmri", runs, config)["runtime"]
    quarter = shard_minutes(work, {"id": "g0-l0-t1", "subjects": subjects, "n_target_blocks": 4, "n_layer_blocks": 1})
    # the targets' share shrinks 4x; the start-up and the design's decompositions do not
    assert BASE_MINUTES < quarter < whole
    assert quarter - BASE_MINUTES <= (whole - BASE_MINUTES) / 4 + 2
    half_layers = shard_minutes(work, {"id": "g0-l1-t0", "subjects": subjects, "n_target_blocks": 1,
                                       "n_layer_blocks": 2})
    assert half_layers < whole
    with pytest.raises(ValueError, match="g9"):
        shard_minutes(work, {"id": "g9-l0-t0", "subjects": ["99"], "n_target_blocks": 1, "n_layer_blocks": 1})
    assert gather_minutes(0) == BASE_MINUTES < gather_minutes(2**31)
