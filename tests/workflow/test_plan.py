"""The workflow's plan: dry run, DAG, lint, and config validation at parse time."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    # the Snakefile's default configfile is resolved against the working directory
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    return tmp_path


def test_dry_run_plans_every_stage(workdir):
    out = snakemake("-n", cwd=workdir)
    assert out.returncode == 0, out.stderr + out.stdout
    text = out.stdout + out.stderr
    for rule in ("demo_dataset", "words", "features", "preprocess_fmri", "preprocess_meeg", "encode",
                 "validate_demo"):
        assert rule in text, f"rule {rule} missing from the plan"


def test_dag_is_graphviz(workdir):
    out = snakemake("--dag", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.lstrip().startswith("digraph") and "encode" in out.stdout


def test_lint_is_clean(workdir):
    out = snakemake("--lint", cwd=workdir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lints for" not in out.stdout + out.stderr, out.stdout + out.stderr


@pytest.mark.parametrize(
    "override, key",
    [
        ({"features": {"context": {"mode": "bogus"}}}, "mode"),
        ({"features": {"pooling": "max"}}, "pooling"),
        ({"encoding": {"inner_folds": 1}}, "inner_folds"),
        ({"colour": "blue"}, "colour"),
        ({"demo": {"stories": ["lighthouse", "nosuchstory"]}}, "demo.stories"),
        ({"demo": {"planting_model": "gpt9"}}, "demo.planting_model"),
        ({"models": {"x": {"source": "ftp"}}}, "source"),
    ],
)
def test_bad_config_is_rejected_naming_the_key(workdir, override, key):
    bad = workdir / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    out = snakemake("-n", "--configfile", str(bad), cwd=workdir)
    assert out.returncode != 0
    assert key in out.stdout + out.stderr, out.stdout + out.stderr
