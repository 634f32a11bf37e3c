"""The reliability suite: one test per kind of damaged or unusual input (issue: trust on real inputs).

Every test builds its damaged input (from the demo, the shared recordings in ``../shared/data`` or a
small synthetic BIDS tree), runs the library call or the rule, and asserts the exact class of
outcome: an error whose message names the file (or config key) and what was expected
(:func:`assert_input_error`), or a documented, logged correction recorded in the output's
attributes.  A traceback alone never passes.

Each area keeps its own builders in its own module (``test_<area>.py``) so that the suite reads as
a list of cases; shared helpers live here.
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
