"""Run the repository's Snakefile in a scratch working directory (used by the end-to-end tests)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REDUCED = REPO / "tests" / "workflow" / "configs" / "reduced_demo.yaml"


def run_workflow(workdir: Path, *args: str, timeout: int = 3600) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in ``workdir`` with the default config copied there."""
    config_dir = workdir / "config"
    if not config_dir.exists():
        config_dir.mkdir(parents=True)
        shutil.copy(REPO / "config" / "config.yaml", config_dir / "config.yaml")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
