"""`snakemake check_inputs` on a synthetic BIDS dataset: the table on good data, every problem listed on bad.

Runs the real rule (headers only: seconds), on tests/synthetic_bids.py's tree (2 subjects x 2
stories, fMRI + BrainVision EEG).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests import synthetic_bids as synth
import yaml

from brainalign.io.inputs import COLUMNS
from brainalign.io.tsv import read_bids_tsv

REPO = Path(__file__).resolve().parents[2]


def _check_inputs(work: Path, root: Path) -> subprocess.CompletedProcess:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(synth.bids_config(root))
    (work / "config").mkdir(exist_ok=True)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
                           "--cores", "1", "check_inputs"], capture_output=True, text=True, timeout=600, env=env)


def test_check_inputs_writes_the_table(tmp_path):
    """A good dataset: results/synth/inputs.tsv, one row per subject x story x modality, the documented columns."""
    root = synth.make_dataset(tmp_path / "bids")
    out = _check_inputs(tmp_path, root)
    assert out.returncode == 0, out.stderr[-3000:]
    table = read_bids_tsv(tmp_path / "results" / "synth" / "inputs.tsv")
    assert list(table.columns) == COLUMNS
    assert sorted(zip(table.subject, table.story, table.modality)) == sorted(
        (s, t, m) for s in ("01", "02") for t in ("a", "b") for m in ("fmri", "eeg"))
    assert set(table.status) == {"ok"} and set(table.duration_s) == {"80.0"}


def test_check_inputs_lists_every_problem_and_stops(tmp_path):
    """Three damaged runs: the rule fails before any other job, its error lists all three, no inputs.tsv is left,
    and the log holds every run's row."""
    root = synth.make_dataset(tmp_path / "bids")
    bold = root / "sub-02" / "func" / "sub-02_task-b_bold.nii.gz"
    bold.write_bytes(bold.read_bytes()[:bold.stat().st_size // 2])
    (root / "sub-01" / "eeg" / "sub-01_task-a_eeg.vmrk").unlink()
    side = root / "sub-02" / "eeg" / "sub-02_task-b_eeg.json"
    side.write_text(json.dumps({**json.loads(side.read_text()), "RecordingDuration": 160.0}))
    out = _check_inputs(tmp_path, root)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "3 blocking problem(s) in 3 of 8 run(s)" in text, text[-4000:]
    for needle in ("sub-02_task-b_bold.nii.gz: data size: truncated", "MarkerFile=sub-01_task-a_eeg.vmrk",
                   "RecordingDuration 160 s"):
        assert needle in text, needle
    assert not (tmp_path / "results" / "synth" / "inputs.tsv").exists()
    log = (tmp_path / "results" / "synth" / "logs" / "check_inputs.log").read_text()
    assert "8 run(s) checked: 3 error, 5 ok" in log and log.count("\tok\t") == 5
    assert "3 blocking problem(s) in 3 of 8 run(s)" in log


@pytest.mark.parametrize("modality", ["fmri", "eeg"])
def test_data_jobs_wait_for_the_check(tmp_path, modality):
    """In the plan, every preprocessing and words job comes after check_inputs (the checkpoint)."""
    root = synth.make_dataset(tmp_path / "bids", subjects=("01",), modalities=(modality,))
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(synth.bids_config(root, subjects=("01",), modalities=(modality,)))
    # word timings from the run's own events (an EEG-only tree has no func/ folder)
    config["dataset"]["timings"]["path"] = "{root}/sub-01/" + ("func" if modality == "fmri" else "eeg") \
        + "/sub-01_task-{story}_events.tsv"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
                          "--dag"], capture_output=True, text=True, timeout=600, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert out.returncode == 0, out.stderr[-3000:]
    dot = out.stdout
    ids = {line.split("[")[0].strip(): line for line in dot.splitlines() if "label = \"" in line}
    check = next(i for i, line in ids.items() if "check_inputs" in line)
    readers = [i for i, line in ids.items() if any(r in line for r in ("preprocess_", "label = \"words"))]
    assert len(readers) == 4  # words of two stories, sub-01's preprocessing of each
    for node in readers:
        assert f"{check} -> {node}" in dot, f"no edge check_inputs -> {ids[node]}"
