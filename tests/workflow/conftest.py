"""Shared fixture: one run of the whole workflow on the reduced demo, reused by end-to-end tests."""

from pathlib import Path

import pytest
from workflow_runner import REDUCED, run_workflow


@pytest.fixture(scope="session")
def reduced_demo(tmp_path_factory) -> Path:
    """Working directory holding a complete run of the workflow on the reduced demo config."""
    workdir = tmp_path_factory.mktemp("reduced_demo")
    out = run_workflow(workdir, "--configfile", str(REDUCED))
    if out.returncode != 0:
        pytest.fail(f"workflow failed:\n{out.stdout[-5000:]}\n{out.stderr[-8000:]}")
    return workdir
