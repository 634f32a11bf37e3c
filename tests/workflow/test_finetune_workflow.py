"""Rules finetune and analysis_finetune: their plan in the real workflow, and the comparison rule end to
end on synthetic scores (the fine-tuning itself is covered on the tiny model: tests/unit/finetune)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from brainalign.analyses.synthetic import make_scores
from brainalign.io.store import write_zarr

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "tests" / "workflow" / "configs" / "finetune_demo.yaml"
TARGET = "results/demo/analyses/finetune/smollm2/fmri/finetune_comparison.tsv"


def _snakemake(snakefile: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir),
                           *args], capture_output=True, text=True, timeout=600, env=env)


def test_off_by_default_and_planned_when_enabled(tmp_path):
    """No fine-tuning in the default plan; enabled, one finetune job per objective whose merged model
    the features rule of '<model>-ft-<objective>' reads, and one comparison per selected modality."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    off = _snakemake(REPO / "Snakefile", tmp_path, "-n")
    assert off.returncode == 0, off.stderr[-3000:]
    assert "rule finetune" not in off.stdout + off.stderr and "analysis_finetune" not in off.stdout + off.stderr
    on = _snakemake(REPO / "Snakefile", tmp_path, "-n", TARGET, "--configfile", str(CONFIG))
    assert on.returncode == 0, on.stderr[-3000:]
    text = on.stdout + on.stderr
    for objective in ("next_token", "long_range", "short_range"):
        model = f"smollm2-ft-{objective.replace('_', '-')}"
        assert f"output: results/demo/finetune/smollm2/{objective}/model" in text
        assert f"input: results/demo/words/lighthouse.tsv, results/demo/finetune/smollm2/{objective}/model" in text
        assert f"results/demo/scores/{model}/fmri.zarr" in text
    counts = {line.split()[0]: int(line.split()[1]) for line in text.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts["finetune"] == 3 and counts["analysis_finetune"] == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"analyses": {"finetune": {"enabled": True, "model": "nope"}}}))
    err = _snakemake(REPO / "Snakefile", tmp_path, "-n", "--configfile", str(bad))
    assert err.returncode != 0 and "analyses.finetune.model" in err.stdout + err.stderr


SNAKEFILE = f"""
configfile: "config.yaml"
RESULTS = "results/demo"
BIDS_ROOT = "bids"
KIND = "bids"
SEED = 0
STORIES = ["s1"]
MODALITIES = ["fmri"]
BASE_MODELS = ["m"]
CONTROL_OF = {{}}
MODELS = ["m"]
FT_BASE = "m"
scores_path = lambda model, modality: f"{{RESULTS}}/scores/{{model}}/{{modality}}.zarr"
model_entry = lambda name: {{}}
model_files = lambda wildcards: []

# as common.smk: the shared analyses/figures settings and helpers
from brainalign.analyses import plan as _an_plan
from brainalign.analyses.regions import region_input_files
from brainalign.config_validation import validated
from brainalign.resources import input_mem_mb, input_runtime
ANALYSES_CFG = validated(config, "analyses")
FIGURES_CFG = validated(config, "figures")
FIG_EXT = FIGURES_CFG["format"]
_TRAINED_RE = _an_plan.alternation(BASE_MODELS)
_REGION_FILES, ANALYSES_CFG["regions"] = region_input_files(BIDS_ROOT, ANALYSES_CFG["regions"], demo=KIND == "demo")
region_inputs = lambda modality: _REGION_FILES[modality]

wildcard_constraints:
    model=r"[A-Za-z0-9-]+(_random)?",
    modality=r"fmri|meg|eeg|ieeg",

include: "{REPO}/workflow/rules/figures.smk"
include: "{REPO}/workflow/rules/finetune.smk"

rule all:
    input: finetune_targets()
"""


@pytest.mark.slow
def test_comparison_rule_finds_the_planted_gain(tmp_path):
    regions = {"early": {"depth": 0.2, "amplitude": 0.3}, "forecast": {"depth": 0.6, "amplitude": 0.2}}
    res = tmp_path / "results" / "demo" / "scores"
    write_zarr(make_scores(regions, n_layers=6, n_subjects=4, seed=0), res / "m" / "fmri.zarr")
    gains = {"next-token": 0.0, "long-range": 0.06, "short-range": 0.0}
    for i, (name, gain) in enumerate(gains.items()):
        planted = {**regions, "forecast": {"depth": 0.6, "amplitude": 0.2 + gain}}
        write_zarr(make_scores(planted, n_layers=6, n_subjects=4, seed=i + 1), res / f"m-ft-{name}" / "fmri.zarr")
    config = {"analyses": {"regions": {"atlas": None, "channel_groups": None},
                           "finetune": {"enabled": True}}, "features": {"device": "cpu"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    run = _snakemake(tmp_path / "Snakefile", tmp_path, "--cores", "1")
    assert run.returncode == 0, run.stderr[-4000:]
    out = tmp_path / "results" / "demo" / "analyses" / "finetune" / "m" / "fmri"
    assert (out / "finetune_delta_by_region.png").stat().st_size > 5000
    table = pd.read_csv(out / "finetune_comparison.tsv", sep="\t").set_index(["objective", "region"])
    assert table.loc[("long_range", "forecast"), "q"] < 0.05
    assert table.loc[("long_range", "forecast"), "delta"] == pytest.approx(0.06, abs=0.02)
    assert table.loc[("next_token", "forecast"), "q"] > 0.05
    assert table.loc[("long_range", "forecast"), "model"] == "m-ft-long-range"
