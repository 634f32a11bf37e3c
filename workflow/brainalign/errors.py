"""Errors about a user's inputs: every message names the file (or config key), the field and what was expected.

A research tool must never finish with a plausible wrong number; when an input cannot be used as
it is, the run stops with an :class:`InputError` whose message a user can act on without reading a
traceback::

    data/sub-01/eeg/sub-01_task-x_events.tsv: column 'onset', row 12: 'n/a' is not a number
    (expected seconds from the start of the recording)

The parts are kept as attributes (``source``, ``field``, ``problem``, ``expected``) so tests and the
input check (``rule check_inputs``) can tell *which* file and field failed, not only that something
did.  :class:`InputError` is a ``ValueError`` (and :class:`MissingInputError` also a
``FileNotFoundError``) so callers that catch the built-in classes keep working.
"""

from __future__ import annotations

import os


class InputError(ValueError):
    """An input (file or config key) that cannot be used as it is.

    Parameters
    ----------
    source
        The file (path) or the config key (``"config key 'preprocess.fmri.mask'"``) at fault.
    problem
        What is wrong, in the user's terms (``"3 of 1000 word onsets lie after the recording's end"``).
    field
        The column, key, row or sample range within ``source`` (optional).
    expected
        What would have been accepted (optional).
    hint
        How to fix it or which option changes the behaviour (optional).
    """

    def __init__(self, source: str | os.PathLike, problem: str, *, field: str | None = None,
                 expected: str | None = None, hint: str | None = None) -> None:
        self.source = str(source)
        self.problem = problem
        self.field = field
        self.expected = expected
        self.hint = hint
        message = f"{self.source}: " + (f"{field}: " if field else "") + problem
        if expected:
            message += f" (expected {expected})"
        if hint:
            message += f"; {hint}"
        super().__init__(message)


class MissingInputError(InputError, FileNotFoundError):
    """A file the run needs does not exist (or is empty where content is required)."""


class ConfigError(InputError):
    """A configuration value that is valid for the schema but unusable here (e.g. ``cuda`` without a GPU)."""

    def __init__(self, key: str, problem: str, *, expected: str | None = None, hint: str | None = None) -> None:
        self.key = key
        super().__init__(f"config key '{key}'", problem, expected=expected, hint=hint)
