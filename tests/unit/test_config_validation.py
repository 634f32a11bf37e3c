"""Config sections checked against the schema's types and ranges (brainalign.config_validation)."""

from __future__ import annotations

import copy

import pytest

from brainalign.config_sections import defaults, with_defaults
from brainalign.config_validation import check_values, validated
from brainalign.errors import ConfigError


def test_a_valid_section_is_returned_unchanged():
    section = with_defaults("figures")
    assert check_values(copy.deepcopy(section), "figures") == section


def test_a_bad_value_names_its_full_key_and_the_schemas_constraint():
    with pytest.raises(ConfigError) as exc:
        check_values({**with_defaults("figures"), "format": "gif"}, "figures")
    assert exc.value.key == "figures.format"
    assert "(expected enum" in str(exc.value) and "see docs/config.md" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        validated({"analyses": {"forecast": {"distances": [3, 0]}}}, "analyses")
    assert exc.value.key == "analyses.forecast.distances.1"          # the list index of the bad item
    assert "minimum 1" in str(exc.value)


def test_validated_fills_defaults_on_a_copy():
    config = {"analyses": {"forecast": {"distances": [3]}}}
    before = copy.deepcopy(config)
    section = validated(config, "analyses")
    assert section["forecast"]["distances"] == [3]
    assert section["forecast"]["width"] == defaults("analyses.forecast.width")
    assert config == before                                          # the caller's config is not filled in place
    assert validated({}, "figures") == with_defaults("figures")      # an absent section: all defaults
