"""Sharded forecast scores in the workflow (issue 16): with encoding.max_job_memory_gb the tiny demo's
forecast scores come from forecast_shard jobs (planned for the window's wider design, each asking for its
planned memory and staying within it) and forecast_gather, and equal the single forecast_scores job's bit
for bit (values and attributes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

TINY = Path(__file__).resolve().parent / "configs" / "tiny_demo.yaml"
FORECAST = "results/demo/analyses/forecast/smollm2/fmri/scores.zarr"


def test_sharded_forecast_equals_the_single_jobs(tiny_demo, tmp_path, output_digest, digest_diff, snakemake_runner):
    work = tmp_path / "work"
    shutil.copytree(tiny_demo, work, symlinks=True)  # every input of the forecast fits, up to date
    shutil.rmtree(work / FORECAST)
    config = yaml.safe_load(TINY.read_text())
    # one subject, 78 volumes, ~45,000 voxels in its BOLD grid: 0.5 GB holds half of them per encode shard
    # and a third per forecast shard (the window doubles the planned design)
    config["encoding"]["max_job_memory_gb"] = 0.5
    sharded = tmp_path / "sharded.yaml"
    sharded.write_text(yaml.safe_dump(config))
    out = snakemake_runner(work, FORECAST, config=sharded)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    text = out.stdout + out.stderr
    shards = sorted((work / "results/demo/shards/forecast/smollm2/fmri").glob("*.pkl"))
    assert len(shards) == 3, shards
    assert "rule forecast_scores:" not in text  # gathered, not the single job
    want, got = ({k: v for k, v in output_digest(root / "results/demo", "analyses").items()
                  if k.startswith("forecast/smollm2/fmri/scores.zarr")} for root in (tiny_demo, work))
    assert want and not digest_diff(want, got), digest_diff(want, got)
    asked = {}
    for job in text.split("rule forecast_shard:")[1:]:
        job = job.split("rule ")[0]
        asked[job.split("shard=")[1].split()[0].rstrip(",")] = int(job.split("mem_mb=")[1].split(",")[0])
    assert sorted(asked) == [p.stem for p in shards]
    for shard, mem_mb in asked.items():
        assert mem_mb <= 512
        bench = pd.read_csv(work / f"results/demo/benchmarks/forecast_shard/smollm2/fmri/{shard}.tsv", sep="\t")
        assert float(bench["max_rss"].iloc[-1]) <= mem_mb, (shard, bench["max_rss"].iloc[-1], mem_mb)
