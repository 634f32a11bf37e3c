"""Sharded encoding in the workflow (issue 16): with encoding.max_job_memory_gb the tiny demo's scores come
from encode_shard jobs (several target blocks, each asking for its planned memory) and encode_gather, and
equal the single encode job's bit for bit (values, attributes, CSV)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

TINY = Path(__file__).resolve().parent / "configs" / "tiny_demo.yaml"
SCORES = "results/demo/scores"


def test_sharded_scores_equal_the_single_jobs(tiny_demo, tmp_path, output_digest, digest_diff, snakemake_runner):
    work = tmp_path / "work"
    shutil.copytree(tiny_demo, work, symlinks=True)  # every input of the encoding, up to date
    shutil.rmtree(work / SCORES)
    config = yaml.safe_load(TINY.read_text())
    # the tiny demo (one subject, 78 volumes, ~45,000 voxels in its BOLD grid, FIR design of 4 x 4096
    # planned features): 0.45 GB holds about a third of its voxels per shard
    config["encoding"]["max_job_memory_gb"] = 0.45
    sharded = tmp_path / "sharded.yaml"
    sharded.write_text(yaml.safe_dump(config))
    out = snakemake_runner(work, f"{SCORES}/smollm2/fmri.csv", config=sharded)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    shards = sorted((work / "results/demo/shards/encode/smollm2/fmri").glob("*.pkl"))
    assert len(shards) >= 2, shards
    assert "rule encode:" not in out.stdout + out.stderr  # gathered, not the single job
    diff = digest_diff(output_digest(tiny_demo / "results/demo", "scores"), output_digest(work / "results/demo", "scores"))
    assert not diff, diff
    # each shard asked for its planned memory and stayed within it
    asked = {}
    for job in (out.stdout + out.stderr).split("rule encode_shard:")[1:]:
        job = job.split("rule ")[0]  # up to the next (local)rule
        asked[job.split("shard=")[1].split()[0].rstrip(",")] = int(job.split("mem_mb=")[1].split(",")[0])
    assert sorted(asked) == [p.stem for p in shards]
    for shard, mem_mb in asked.items():
        bench = pd.read_csv(work / f"results/demo/benchmarks/encode_shard/smollm2/fmri/{shard}.tsv", sep="\t")
        assert float(bench["max_rss"].iloc[-1]) <= mem_mb, (shard, bench["max_rss"].iloc[-1], mem_mb)
