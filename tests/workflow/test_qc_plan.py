"""The QC rules (workflow/rules/qc.smk) are part of the default plan: per-run QC of every fMRI and EEG run
of the demo, of every iEEG patient's run, and the result tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from test_plan import patients_tree

REPO = Path(__file__).resolve().parents[2]


def _dry_run(workdir: Path, *configfiles: Path) -> dict[str, int]:
    """Job counts of a dry run of the default target (rule -> count)."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    extra = ["--configfile", *map(str, configfiles)] if configfiles else []
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                          str(workdir), "-n", "--quiet", "rules", *extra], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
    return {p[0]: int(p[1]) for p in (line.split() for line in out.stdout.splitlines())
            if len(p) == 2 and p[1].isdigit()}


def test_demo_plans_qc_of_every_fmri_and_eeg_run_and_the_result_tables(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    n_runs = config["demo"]["n_subjects"] * len(config["demo"]["stories"])
    counts = _dry_run(tmp_path)
    assert counts.get("qc_fmri") == n_runs and counts.get("qc_meeg") == n_runs, counts
    assert counts.get("qc_summary") == 2, counts  # fmri and eeg
    assert counts.get("table_validation") == 1, counts
    # one best-layer table per trained model and modality (the random-init control is in its model's table)
    assert counts.get("table_best_layers") == len(config["models"]) * 2, counts
    assert counts.get("table_best_distance", 0) >= 1, counts


def test_fmri_only_config_plans_no_meeg_qc(tmp_path):
    counts = _dry_run(tmp_path, REPO / "tests" / "workflow" / "configs" / "tiny_demo.yaml")
    assert counts.get("qc_fmri") == 2 and "qc_meeg" not in counts, counts
    assert counts.get("qc_summary") == 1, counts


def test_ieeg_patients_get_qc(tmp_path):
    bids = patients_tree(tmp_path)
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"dataset": {"bids_root": str(bids)}}))
    counts = _dry_run(tmp_path / "work", REPO / "config" / "datasets" / "podcast_ecog.yaml", override)
    assert counts.get("qc_meeg") == 2 and counts.get("qc_summary") == 1 and "qc_fmri" not in counts, counts
    assert "table_validation" not in counts, counts  # the demo's validation only
