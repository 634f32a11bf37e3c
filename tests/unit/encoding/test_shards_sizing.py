"""Sizing of sharded encoding (issue 16): subjects with different numbers of samples, and the gather's
request from the size of the shard files."""

import pickle

import numpy as np
from brainalign.encoding.settings import design_settings, solver_settings
from tests.synthetic_features import random_features

from brainalign.encoding.shards import (BASE_MB, GATHER_COPIES, Shard, estimate_mb, fit_shard, gather_mem_mb,
                                        plan_shards)


def test_subjects_with_different_samples_are_sized_by_their_sum():
    """Narratives-like: one subject with 4,000 samples, nine with 600; the targets are sized by the samples
    summed (9,400), not 10 x the longest (40,000), so the blocks are fewer and each still fits the budget."""
    sizes = {"long": {"rows": 4000, "targets": 20000}}
    sizes.update({f"s{i}": {"rows": 600, "targets": 20000} for i in range(9)})
    plan = plan_shards(sizes, subject_fits="joint", max_job_memory_gb=4, design_width=1024, n_alphas=10)
    n_blocks = plan.shards[0].n_target_blocks
    per_subject = -(-20000 // n_blocks)
    assert plan.shards[0].mem_mb == estimate_mb(4000, 10 * per_subject, design_width=1024, n_alphas=10,
                                                target_cells=9400 * per_subject)
    assert all(s.mem_mb <= plan.budget_mb for s in plan.shards)
    # one block fewer would not fit
    fewer = -(-20000 // (n_blocks - 1))
    assert estimate_mb(4000, 10 * fewer, design_width=1024, n_alphas=10, target_cells=9400 * fewer) > plan.budget_mb
    # the longest subject's samples times all subjects would need ~4 x the blocks
    as_if_equal = plan_shards({s: {"rows": 4000, "targets": 20000} for s in sizes}, subject_fits="joint",
                              max_job_memory_gb=4, design_width=1024, n_alphas=10)
    assert as_if_equal.shards[0].n_target_blocks >= 3 * n_blocks


def test_equal_subjects_keep_the_plan():
    """Subjects with the same samples: target_cells is rows x columns, the plan as before."""
    sizes = {f"{i:02d}": {"rows": 1200, "targets": 20000} for i in range(5)}
    plan = plan_shards(sizes, subject_fits="joint", max_job_memory_gb=2, design_width=4096, n_alphas=11)
    per = -(-20000 // plan.shards[0].n_target_blocks)
    assert plan.shards[0].mem_mb == estimate_mb(1200, 5 * per, design_width=4096, n_alphas=11)


def test_gather_request_follows_the_shard_files(tmp_path):
    """The gather asks for its base plus GATHER_COPIES x the shard files it reads, measured on real shards."""
    rng = np.random.default_rng(0)
    feats = random_features(rng, 3, 6, 120)
    recs = {}
    for sub in ("01", "02"):
        recs[sub] = {}
        for s, f in feats.items():
            import xarray as xr

            times = (np.arange(2, int(f.onset.values[-1] / 2.0) + 8) + 0.5) * 2.0
            recs[sub][s] = xr.DataArray(rng.standard_normal((times.size, 300)).astype(np.float32),
                                        dims=("time", "voxel"), coords={"time": times}, attrs={"tr": 2.0})
    shard = Shard(id="g0-l0-t0", subjects=("01", "02"), layer_block=0, n_layer_blocks=1, target_block=0,
                  n_target_blocks=1, mem_mb=1000)
    result = fit_shard(feats, recs, shard, modality="fmri", design=design_settings("fmri", method="hrf"),
                       encoding=solver_settings(alphas=[1.0, 10.0, 100.0], inner_folds=3))
    size = len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    # the results' arrays: 3 variables x 3 layers x 300 voxels x 2 subjects (float32) are in the file
    assert size >= 3 * 3 * 300 * 2 * 4
    assert gather_mem_mb(size) == int(np.ceil(2 * BASE_MB + GATHER_COPIES * size / 2**20))
    assert gather_mem_mb(0) == 2 * BASE_MB
    assert gather_mem_mb(10 * 2**30) > gather_mem_mb(2**30) > gather_mem_mb(0)


def test_joint_shard_groups_follow_the_stories_heard():
    """Subjects who heard different stories never share a solve: each set of stories is a shard group
    (reading only its subjects' runs), sized on its own; subjects of one set stay in one group."""
    sizes = {"01": {"rows": 600, "targets": 5000, "stories": ["a", "b"]},
             "02": {"rows": 300, "targets": 5000, "stories": ["a"]},
             "03": {"rows": 600, "targets": 5000, "stories": ["b", "a"]},
             "04": {"rows": 300, "targets": 5000, "stories": ["a"]}}
    plan = plan_shards(sizes, subject_fits="joint", max_job_memory_gb=1, design_width=512, n_alphas=10)
    groups = {}
    for s in plan.shards:
        groups.setdefault(s.id.split("-")[0], set()).add(s.subjects)
    assert groups == {"g0": {("01", "03")}, "g1": {("02", "04")}}
    assert all(s.mem_mb <= plan.budget_mb for s in plan.shards)
    # the shorter group needs no more blocks than the longer one
    blocks = {s.id.split("-")[0]: s.n_target_blocks for s in plan.shards}
    assert blocks["g1"] <= blocks["g0"]
    # without the stories: one group, as before
    plain = plan_shards({k: {"rows": v["rows"], "targets": v["targets"]} for k, v in sizes.items()},
                        subject_fits="joint", max_job_memory_gb=1, design_width=512, n_alphas=10)
    assert {s.subjects for s in plain.shards} == {("01", "02", "03", "04")}
