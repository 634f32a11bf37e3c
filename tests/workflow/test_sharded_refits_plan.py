"""Sharded refits in the plan (issue 16): with encoding.max_job_memory_gb, forecast_scores,
forecast_depth_scores and context_scores are planned as shard jobs (each asking for its planned memory,
within the budget; the forecast's plan sized for its wider design) and one gather each; without it, the
single jobs ask for the memory and runtime brainalign.encoding.sizing derives from inputs.tsv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "config" / "datasets" / "podcast_ecog.yaml"
# every refitting analysis on, small: 2 distances, 2 window layers, 2 context lengths
ANALYSES = {"forecast": {"modalities": None, "distances": [2, 4], "depth_layers": [0, 1], "n_layers": 2},
            "context": {"enabled": True, "lengths": [8, 32], "n_layers": 2}}
SIZES = (("01", "240"), ("02", "100"))  # channels of the two patients


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """Two iEEG patients of the Podcast layout, and the input check's table as if it had run."""
    from brainalign.io.inputs import COLUMNS

    bids = tmp_path / "bids"
    for sub, _ in SIZES:
        d = bids / f"sub-{sub}" / "ieeg"
        d.mkdir(parents=True)
        (d / f"sub-{sub}_task-podcast_ieeg.edf").touch()
        (d / f"sub-{sub}_task-podcast_channels.tsv").touch()
    (bids / "stimuli").mkdir()
    (bids / "stimuli" / "podcast_transcript.csv").write_text("word,start,end\nAct,3.71,3.95\nso,4.3,4.5\n")
    table = tmp_path / "work" / "results" / "podcast_ecog" / "inputs.tsv"
    table.parent.mkdir(parents=True)
    rows = [dict.fromkeys(COLUMNS, "n/a") | {"subject": s, "story": "podcast", "modality": "ieeg", "status": "ok",
                                              "sfreq_hz": "512", "n_samples": "1000000", "n_words": "5000",
                                              "n_targets": n} for s, n in SIZES]
    table.write_text("\t".join(COLUMNS) + "\n" + "".join("\t".join(r[c] for c in COLUMNS) + "\n" for r in rows))
    (tmp_path / "work" / "config").mkdir()
    (tmp_path / "work" / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    return bids, table


def _dry_run(tmp_path: Path, override: dict) -> tuple[str, dict]:
    extra = tmp_path / "override.yaml"
    extra.write_text(yaml.safe_dump(override))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                          str(tmp_path / "work"), "-n", "--configfile", str(PROFILE), str(extra)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
    return out.stdout + out.stderr, override


def _jobs(text: str, rule: str) -> list[dict]:
    """Each planned job of a rule: its wildcards and resources."""
    jobs = []
    for block in text.split(f"\nrule {rule}:")[1:]:
        block = block.split("\nrule ")[0].split("\nlocalrule ")[0]
        wildcards = dict(kv.split("=") for kv in block.split("wildcards: ")[1].splitlines()[0].split(", "))
        resources = dict(kv.split("=", 1) for kv in block.split("resources: ")[1].splitlines()[0].split(", "))
        jobs.append({"wildcards": wildcards, "resources": resources})
    return jobs


def _config(override: dict) -> dict:
    from brainalign.config_sections import with_defaults

    def merge(into: dict, part: dict) -> dict:  # as Snakemake merges config files: nested keys one by one
        for key, value in part.items():
            into[key] = merge(dict(into.get(key) or {}), value) if isinstance(value, dict) else value
        return into

    config: dict = {}
    for part in (yaml.safe_load(PROFILE.read_text()), override):  # a --configfile replaces config/config.yaml
        merge(config, part)
    return {key: with_defaults(key, config.get(key)) for key in ("encoding", "design", "preprocess", "analyses")}


def test_sharded_refits_are_planned_as_shards_within_the_budget(tmp_path):
    from brainalign.analyses.refit_shards import refit_design_factor
    from brainalign.encoding.shards import plan_from_config

    bids, table = _tree(tmp_path)
    text, override = _dry_run(tmp_path, {"dataset": {"bids_root": str(bids)}, "encoding": {"max_job_memory_gb": 6},
                                         "analyses": ANALYSES})
    config = _config(override)
    runs = [(s, "podcast") for s, _ in SIZES]
    for analysis, n_jobs in (("forecast", 1), ("forecast_depth", 1), ("context", 2)):  # context: per length
        factor = refit_design_factor(analysis, config["analyses"]["forecast"])
        plan = plan_from_config(table, "ieeg", runs, config, design_factor=factor)
        shards = _jobs(text, f"{analysis}_shard")
        assert len(shards) == n_jobs * len(plan.shards), (analysis, len(shards), plan.ids)
        asked = {j["wildcards"]["shard"]: int(j["resources"]["mem_mb"]) for j in shards}
        assert asked == {s.id: s.mem_mb for s in plan.shards}, analysis
        assert max(asked.values()) <= 6 * 1024
        assert len(_jobs(text, f"{analysis}_gather")) == n_jobs, analysis
    # the window doubles the design: patient 01 needs more target blocks for the forecast than for encode
    forecast = plan_from_config(table, "ieeg", runs, config, design_factor=2)
    encode = plan_from_config(table, "ieeg", runs, config)
    assert len(forecast.shards) > len(encode.shards)
    for rule in ("forecast_scores", "forecast_depth_scores", "context_scores", "encode"):
        assert not _jobs(text, rule), rule


def test_single_jobs_ask_for_memory_and_runtime_from_their_inputs(tmp_path):
    from brainalign.encoding.sizing import job_resources

    bids, table = _tree(tmp_path)
    text, override = _dry_run(tmp_path, {"dataset": {"bids_root": str(bids)}, "analyses": ANALYSES})
    config = _config(override)
    runs = [(s, "podcast") for s, _ in SIZES]
    for rule, job in (("encode", "encode"), ("forecast_scores", "forecast"),
                      ("forecast_depth_scores", "forecast_depth"), ("context_scores", "context")):
        want = job_resources(job, table, "ieeg", runs, config)
        jobs = _jobs(text, rule)
        assert jobs, rule
        for j in jobs:
            assert int(j["resources"]["mem_mb"]) == want["mem_mb"], rule
            assert int(j["resources"]["runtime"]) == want["runtime"], rule
    for rule in ("encode_shard", "forecast_shard", "forecast_depth_shard", "context_shard"):
        assert not _jobs(text, rule), rule
