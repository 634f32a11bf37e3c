"""Helpers of the reliability suite, importable as ``reliability_helpers`` from its test modules.

(A plain ``from conftest import ...`` would resolve to another folder's conftest.py when the whole
suite is collected: tests/workflow has one too.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from brainalign.errors import InputError

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"


def assert_input_error(excinfo: pytest.ExceptionInfo, source: str | Path, *needles: str) -> InputError:
    """The raised error is an :class:`InputError` naming ``source`` (a path or part of it, or a
    config key) and containing every regular expression of ``needles`` (field, expectation)."""
    err = excinfo.value
    assert isinstance(err, InputError), f"expected an InputError, got {type(err).__name__}: {err}"
    message = str(err)
    assert str(source) in err.source or str(source) in message, f"{source!r} not named in: {message}"
    for needle in needles:
        assert re.search(needle, message), f"{needle!r} not in: {message}"
    return err
