"""`preprocess.meeg.ica: null` (the form before ICA got `enabled`): `snakemake -n` stops at parse time with
an error naming the key and the form to write, and plans nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("block,form", [("ica", "{enabled: false}"), ("ssp", "{}")])
def test_a_null_artefact_block_fails_at_parse_time_naming_the_key(tmp_path, block, form):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"preprocess": {"meeg": {block: None}}}))
    cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(bad)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert f"config key 'preprocess.meeg.{block}': is null" in text and f"write {form}" in text, text[-2000:]
    assert not (tmp_path / "results").exists()
