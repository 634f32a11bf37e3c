"""The rule scripts' logging: warnings, records and a failing job's traceback reach the rule's log file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess, str]:
    log = tmp_path / "logs" / "job.log"
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(f"""
        import sys, warnings
        sys.path.insert(0, {str(REPO / "workflow")!r})
        from brainalign.runtime import setup_logging
        log = setup_logging({str(log)!r})
    """) + textwrap.dedent(body))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    return proc, log.read_text() if log.exists() else ""


def test_failing_job_traceback_goes_to_its_log(tmp_path):
    proc, text = _run(tmp_path, """
        log.info("starting")
        warnings.warn("a library warning")
        def inner():
            raise ValueError("sub-01_bold.nii.gz: 3 volumes short")
        inner()
    """)
    assert proc.returncode != 0
    assert "starting" in text and "a library warning" in text
    # the whole traceback, not only the message: the frame that raised and the exception line
    assert "Traceback (most recent call last)" in text
    assert "in inner" in text and "ValueError: sub-01_bold.nii.gz: 3 volumes short" in text
    # the terminal still shows it once
    assert proc.stderr.count("ValueError: sub-01_bold.nii.gz: 3 volumes short") == 1


def test_successful_job_log_has_no_failure(tmp_path):
    proc, text = _run(tmp_path, 'log.info("done")\n')
    assert proc.returncode == 0
    assert "done" in text and "failed" not in text
