"""Free-form mappings get their entries' defaults from the schema (issue 15): ``models.<name>``.

The schema writes ``models.<name>.random_control``'s default once, in the ``additionalProperties``
schema of ``models``; the workflow's validation, :func:`brainalign.configdoc.fill_defaults` and
:func:`brainalign.config_sections.with_defaults` fill it in every entry, so the rules read
``e["random_control"]`` directly, and :func:`~brainalign.config_sections.require` names an entry's
missing key.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from brainalign.config_sections import require, section_schema, with_defaults
from brainalign.configdoc import entry_schemas, fill_defaults, load_schema
from brainalign.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_model_entries_get_the_schema_defaults():
    entry = section_schema("models")["additionalProperties"]["properties"]
    models = with_defaults("models", {"a": {"source": "hub", "id": "x/y"},
                                      "b": {"source": "local", "id": "/m", "random_control": False}})
    for name, given in (("a", True), ("b", False)):
        assert models[name]["random_control"] is given
        assert models[name]["dtype"] == entry["dtype"]["default"]
        assert models[name]["trust_remote_code"] == entry["trust_remote_code"]["default"]
    assert models["a"]["random_control"] == entry["random_control"]["default"]


def test_the_workflow_validation_fills_model_entries_the_same_way():
    from snakemake.utils import validate

    config = {"models": {"a": {"source": "hub", "id": "x/y"}}}
    expected = fill_defaults(config, load_schema(SCHEMA))
    validate(config, str(SCHEMA))
    assert config == expected
    assert config["models"]["a"]["random_control"] is True


def test_a_model_entry_missing_a_defaulted_key_is_an_error_naming_it():
    models = with_defaults("models", {"a": {"source": "hub", "id": "x/y"}})
    del models["a"]["random_control"]
    with pytest.raises(ConfigError, match=r"'models\.a\.random_control'.*missing") as exc:
        require(models, "models")
    assert exc.value.key == "models.a.random_control"
    models["a"]["random_control"] = True
    models["a"]["colour"] = "red"
    with pytest.raises(ConfigError, match=r"models\.a\.colour.*unknown key"):
        require(models, "models")


def test_pattern_properties_are_filled_like_snakemake_validation(tmp_path):
    """JSON Schema's rules: a key matching a pattern gets that pattern's schema; additionalProperties
    only the keys matching neither a property nor a pattern (checked against snakemake's validate)."""
    from snakemake.utils import validate

    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "properties": {"fixed": {"type": "object", "default": {},
                                       "properties": {"n": {"type": "integer", "default": 1}}}},
              "patternProperties": {"^x_": {"type": "object",
                                            "properties": {"flag": {"type": "boolean", "default": True}}}},
              "additionalProperties": {"type": "object",
                                       "properties": {"other": {"type": "string", "default": "o"}}}}
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(schema))
    config = {"x_one": {}, "plain": {}, "fixed": {"n": 3}}
    filled = fill_defaults(config, schema)
    assert filled == {"x_one": {"flag": True}, "plain": {"other": "o"}, "fixed": {"n": 3}}
    validated = copy.deepcopy(config)
    validate(validated, str(path))
    assert validated == filled
    assert [s["properties"] for s in entry_schemas(schema, "x_one")] == [{"flag": {"type": "boolean", "default": True}}]
    assert entry_schemas(schema, "fixed") == [schema["properties"]["fixed"]]


def test_rules_read_schema_defaulted_model_keys_directly():
    """No rule file falls back to an inline default for a key of a model entry: the schema fills it."""
    entry = section_schema("models")["additionalProperties"]["properties"]
    defaulted = [k for k, sub in entry.items() if "default" in sub]
    text = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    for key in defaulted:
        assert not re.search(rf"""\.get\(\s*["']{key}["']\s*,""", text), key
    assert 'e["random_control"]' in text
