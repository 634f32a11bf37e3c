"""Rules forecast_depth_scores / analysis_forecast_depth: off in the demo, planned when asked, and on a small
demo with a planted forecast depth (tests/workflow/configs/forecast_depth_demo.yaml) k* is recovered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from workflow_runner import run_workflow

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "tests" / "workflow" / "configs" / "forecast_depth_demo.yaml"
OUT = "results/demo/analyses/forecast_depth/smollm2/fmri"


def _dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                           str(workdir), "-n", *args], capture_output=True, text=True, timeout=300, env=env)


def test_off_in_the_demo_and_planned_per_model_when_layers_are_given(tmp_path):
    out = _dry_run(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "forecast_depth" not in out.stdout + out.stderr       # config/config.yaml: depth_layers: []
    on = tmp_path / "on.yaml"
    on.write_text(yaml.safe_dump({"analyses": {"forecast": {"depth_layers": None}}}))  # the schema's 4 layers
    out = _dry_run(tmp_path, "--configfile", str(on))
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "forecast_depth_scores" in text and "analysis_forecast_depth" in text
    assert f"{OUT}/best_distance_and_depth.tsv" in text
    assert "analyses/forecast_depth/smollm2/eeg" not in text      # fMRI only, as the forecast analysis


def test_bad_depth_config_is_rejected_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"analyses": {"forecast": {"n_depth_layers": -1}}}))
    out = _dry_run(tmp_path, "--configfile", str(bad))
    assert out.returncode != 0 and "n_depth_layers" in out.stdout + out.stderr


def test_planted_forecast_depth_recovered_on_a_small_demo(tmp_path):
    """The forecast region's best cell is the planted (d = 20, k = 25); the region without look-ahead has none."""
    out = run_workflow(tmp_path, f"{OUT}/best_distance_and_depth.tsv", "--configfile", str(CONFIG), timeout=3600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-6000:]
    res = tmp_path / OUT
    truth = json.loads((tmp_path / "results/demo/bids/derivatives/groundtruth/truth.json").read_text())
    parcel = {r["name"]: r["atlas_name"] for r in truth["regions"]}  # the analyses see atlas parcels only
    planted = {r["name"]: r for r in truth["regions"]}["ahead"]
    assert (planted["planted_layer"], planted["forecast_layer"], planted["forecast_distance"]) == (7, 25, 20)
    best = pd.read_csv(res / "best_distance_and_depth.tsv", sep="\t").set_index("region")
    ahead, middle = best.loc[parcel["ahead"]], best.loc[parcel["middle"]]
    assert ahead["significant"] and ahead["k_star"] == 25 and ahead["d_star"] == 20
    assert not middle["significant"] and middle["k_star"] == -1
    table = pd.read_csv(res / "gain_by_distance_and_depth.tsv", sep="\t")
    assert len(table) == best.shape[0] * 2 * 3
    ahead = table[(table.region == parcel["ahead"]) & (table.distance == 20)].set_index("depth_layer")["mean"]
    assert ahead[25] > ahead[7]          # the deeper layer's window beats the present layer's
    corr = pd.read_csv(res / "hierarchy_correlation.tsv", sep="\t")
    assert list(corr["quantity"]) == ["d_star", "k_star_relative_depth"]
    assert (res / "gain_by_distance_and_depth_per_region.png").stat().st_size > 10_000
