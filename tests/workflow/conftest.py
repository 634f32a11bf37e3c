"""Shared fixture: one run of the whole workflow on the default demo, reused by end-to-end tests."""

from pathlib import Path

import pytest
from workflow_runner import run_workflow


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """Working directory holding a complete run of the workflow on the default config (`make demo`).

    The default demo (3 subjects, 1,000 words per story) is what users run; the smaller
    tests/workflow/configs/reduced_demo.yaml (2 subjects, 400 words) is too small for the forecast
    region's layer to be recovered reliably.
    """
    workdir = tmp_path_factory.mktemp("demo")
    out = run_workflow(workdir)
    if out.returncode != 0:
        pytest.fail(f"workflow failed:\n{out.stdout[-5000:]}\n{out.stderr[-8000:]}")
    return workdir
