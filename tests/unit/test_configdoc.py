"""docs/config.md, the configuration reference generated from the schema (brainalign.configdoc)."""

from __future__ import annotations

import re

import pytest

from brainalign import configdoc
from brainalign.configdoc import (DOC, NAME, constraints_text, iter_options, load_schema, lookup,
                                  missing_descriptions, render, type_text)


def test_every_schema_key_has_a_description():
    assert missing_descriptions(load_schema()) == []


def test_docs_config_md_is_current():
    """Fails when the schema (or a profile, whose values are the examples) changed and docs/config.md was
    not regenerated: run `python -m brainalign.configdoc`."""
    assert DOC.read_text() == render(), "docs/config.md is stale: run `python -m brainalign.configdoc`"


def test_every_key_is_documented_with_type_default_and_meaning():
    schema = load_schema()
    text = render(schema)
    options = list(iter_options(schema))
    headings = re.findall(r"^#{2,6} `([^`]+)`$", text, re.M)
    assert headings == [o.key for o in options]
    assert len(options) > 250 and "models.<name>.source" in headings and "encoding.subjects.ieeg" in headings
    sections = text.split("\n#")
    for option in options:
        body = next(s for s in sections if s.lstrip("#").startswith(f" `{option.key}`\n"))
        assert "**Type:**" in body
        assert ("**Default:**" in body) or ("**Required**" in body)
    # a few entries in full
    assert "### `encoding.layer_stride`\n\n**Type:** integer · **Allowed:** ≥ 1 · **Default:** `1`\n" in text
    assert "*Examples:* demo (config/config.yaml): `2`" in text.split("### `encoding.layer_stride`")[1].split("###")[0]
    forecast = text.split("#### `analyses.forecast.distances`")[1].split("####")[0]
    assert "**Default:** `[1, 2, 4, 6, 8, 12, 20, 30]`" in forecast and "demo (config/config.yaml): `[5, 10, 20, 30]`" in forecast
    assert "#### `models.<name>.source`" not in text  # <name> levels do not deepen the heading
    assert "### `models.<name>.source`\n\n**Type:** one of `pypi`, `gguf`, `hub`, `local` · **Required**" in text


def test_missing_description_and_stale_page_are_reported(tmp_path, capsys):
    schema = {"type": "object", "properties": {
        "a": {"type": "object", "default": {}, "description": "Section.", "properties": {
            "b": {"type": "integer", "default": 1},
            "c": {"type": "string", "description": "   "}}},
        "m": {"type": "object", "description": "Mapping.",
              "additionalProperties": {"type": "object", "properties": {"x": {"type": "number"}}}}}}
    assert missing_descriptions(schema) == ["a.b", "a.c", f"m.{NAME}.x"]
    path = tmp_path / "schema.yaml"
    import yaml
    path.write_text(yaml.safe_dump(load_schema()))
    page = tmp_path / "config.md"
    assert configdoc.main(["--schema", str(path), "--output", str(page), "--check"]) == 1  # no page yet
    assert "is stale" in capsys.readouterr().err
    assert configdoc.main(["--schema", str(path), "--output", str(page)]) == 0
    assert configdoc.main(["--schema", str(path), "--output", str(page), "--check"]) == 0
    page.write_text(page.read_text().replace("Seed of every random process", "Seed"))
    assert configdoc.main(["--schema", str(path), "--output", str(page), "--check"]) == 1
    path.write_text(yaml.safe_dump(schema))
    assert configdoc.main(["--schema", str(path), "--output", str(page)]) == 1
    assert "3 key(s) without a description: a.b, a.c, m.<name>.x" in capsys.readouterr().err


@pytest.mark.parametrize("schema, text", [
    ({"type": "integer"}, "integer"),
    ({"type": ["number", "null"]}, "number or null"),
    ({"enum": ["a", None]}, "one of `a`, `null`"),
    ({"type": "array", "items": {"type": "string"}}, "list of string"),
    ({"anyOf": [{"const": "auto"}, {"type": "number"}]}, "`auto` or number"),
    ({"type": "object", "additionalProperties": {"type": "number"}}, "mapping of name to number"),
])
def test_type_text(schema, text):
    assert type_text(schema) == text


def test_constraints_and_lookup():
    assert constraints_text({"type": "number", "exclusiveMinimum": 0, "maximum": 1}) == "> 0, ≤ 1"
    assert constraints_text({"type": "array", "items": {"minimum": 1}, "minItems": 1, "uniqueItems": True}) \
        == "at least 1 items, no duplicates, items ≥ 1"
    config = {"models": {"a": {"source": "pypi"}, "b": {"source": "hub"}}, "seed": 3}
    assert lookup(config, "models.<name>.source") == [("a", "pypi"), ("b", "hub")]
    assert lookup(config, "seed") == [("", 3)] and lookup(config, "dataset.name") == []
