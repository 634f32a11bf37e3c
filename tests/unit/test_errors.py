"""Input errors name the source, the field and what was expected, and stay catchable as the built-in
classes (brainalign.errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainalign.errors import ConfigError, InputError, MissingInputError


def test_message_names_source_field_problem_expected_and_hint():
    err = InputError(Path("data/sub-01_events.tsv"), "'n/a' is not a number", field="column 'onset', row 12",
                     expected="seconds from the start of the recording", hint="fix the row or drop it")
    assert str(err) == ("data/sub-01_events.tsv: column 'onset', row 12: 'n/a' is not a number "
                        "(expected seconds from the start of the recording); fix the row or drop it")
    assert (err.source, err.field, err.problem) == ("data/sub-01_events.tsv", "column 'onset', row 12",
                                                    "'n/a' is not a number")
    assert (err.expected, err.hint) == ("seconds from the start of the recording", "fix the row or drop it")


def test_optional_parts_are_left_out_of_the_message():
    assert str(InputError("a.tsv", "empty")) == "a.tsv: empty"
    assert str(InputError("a.tsv", "empty", expected="rows")) == "a.tsv: empty (expected rows)"
    assert str(InputError("a.tsv", "empty", hint="re-run x")) == "a.tsv: empty; re-run x"


def test_missing_input_is_also_a_file_not_found_error():
    err = MissingInputError("sub-01_bold.nii.gz", "does not exist")
    assert isinstance(err, InputError) and isinstance(err, ValueError) and isinstance(err, FileNotFoundError)
    with pytest.raises(FileNotFoundError, match="sub-01_bold.nii.gz: does not exist"):
        raise err


def test_config_error_names_the_key():
    err = ConfigError("features.device", "device 'cuda' is not available", expected="cpu", hint="set cpu")
    assert err.key == "features.device" and err.source == "config key 'features.device'"
    assert str(err) == "config key 'features.device': device 'cuda' is not available (expected cpu); set cpu"
    assert isinstance(err, InputError) and isinstance(err, ValueError) and not isinstance(err, FileNotFoundError)
