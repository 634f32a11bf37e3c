"""Rule analysis_sensitivity end to end on a small demo, its plan, and its config checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_runner import run_workflow

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "tests" / "workflow" / "configs" / "sensitivity_demo.yaml"
OUT = "results/demo/analyses/sensitivity/smollm2/fmri"


def _dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                           str(workdir), "-n", *args], capture_output=True, text=True, timeout=300, env=env)


def test_off_by_default_and_planned_per_modality_when_enabled(tmp_path):
    """The default plan has no sensitivity job; enabled, one job per modality of the dataset."""
    out = _dry_run(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "analysis_sensitivity" not in out.stdout + out.stderr
    on = tmp_path / "on.yaml"
    on.write_text(yaml.safe_dump({"analyses": {"sensitivity": {"enabled": True}}}))
    out = _dry_run(tmp_path, "--configfile", str(on))
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "analysis_sensitivity" in text
    for modality in ("fmri", "eeg"):
        assert f"analyses/sensitivity/smollm2/{modality}/power.tsv" in text


@pytest.mark.parametrize("override, key", [
    ({"snrs": [0.0, 1.0]}, "snrs"),
    ({"n_targets": [1]}, "n_targets"),
    ({"hosts": "strongest"}, "hosts"),
    ({"typo": 1}, "typo"),
    ({"model": "gpt9", "enabled": True}, "analyses.sensitivity.model"),
])
def test_bad_sensitivity_config_is_rejected_naming_the_key(tmp_path, override, key):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"analyses": {"sensitivity": override}}))
    out = _dry_run(tmp_path, "--configfile", str(bad))
    assert out.returncode != 0
    assert key in out.stdout + out.stderr, out.stdout + out.stderr


def test_sensitivity_rule_on_a_small_demo(tmp_path):
    """Tables, figure and summary are written; detection and scores rise with the planted SNR."""
    # the target first: --configfile takes every following word as a config file
    out = run_workflow(tmp_path, f"{OUT}/power.tsv", "--configfile", str(CONFIG), timeout=2400)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-6000:]
    res = tmp_path / OUT
    power = pd.read_csv(res / "power.tsv", sep="\t").sort_values("snr")
    assert list(power["snr"]) == [0.1, 1.0, 10.0] and (power["planted_layer"] == 15).all()
    assert (power["measured_snr"] - power["snr"]).abs().max() < 1e-4
    assert power["score_median"].is_monotonic_increasing
    assert power["detection_rate"].iloc[-1] >= power["detection_rate"].iloc[0]
    assert power["detection_rate"].iloc[-1] > 0.5
    observed = pd.read_csv(res / "observed_snr.tsv", sep="\t")
    assert {"unit", "score", "snr", "snr_bound", "detection_rate_at_snr"} <= set(observed.columns)
    # Known answer: the demo planted its region (a parcel of the atlas) at SNR 2.5 over the unstructured
    # noise of the raw BOLD, on top of drifts, motion and physiology (total noise variance 3.28, so 0.76
    # in raw terms); preprocessing removes the drifts, motion and most of the physiology (up to ~2.1).
    # On the curve, whose SNR is defined on the preprocessed data, its median score must land in that
    # bracket (measured: 0.99), and the median voxel (noise) far below.
    truth = json.loads((tmp_path / "results/demo/bids/derivatives/groundtruth/truth.json").read_text())
    parcel = next(r["atlas_name"] for r in truth["regions"] if r["name"] == "middle")
    planted = observed.set_index("unit").loc[parcel]
    assert planted["snr_bound"] != planted["snr_bound"] and 0.5 <= planted["snr"] <= 2.5, planted  # NaN: no bound
    median = observed.set_index("unit").loc["all targets, quantile 0.5"]
    assert median["snr_bound"] == "<0.1" or median["snr"] < planted["snr"] / 5
    assert len(pd.read_csv(res / "targets.tsv", sep="\t")) == 3 * 10
    summary = json.loads((res / "summary.json").read_text())
    assert summary["layers"] == [0, 15, 30] and summary["seconds"]["total"] > 0
    assert (res / "power_curve.png").stat().st_size > 10_000
    report = run_workflow(tmp_path, f"{OUT}/power.tsv", "--report", str(tmp_path / "report.zip"),
                          "--configfile", str(CONFIG), timeout=600)
    assert report.returncode == 0, report.stderr[-4000:]
    assert (tmp_path / "report.zip").stat().st_size > 10_000
