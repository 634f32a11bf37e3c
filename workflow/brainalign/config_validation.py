"""Config sections validated against the config schema's types and ranges (jsonschema).

For the Snakemake process (rule files, which have snakemake and so jsonschema) and tests; the
library modules the rule scripts import use :mod:`brainalign.config_sections`, which needs only
PyYAML, so that the rules' conda environments need no jsonschema.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .config_sections import require, section_schema, with_defaults
from .configdoc import SCHEMA, load_schema
from .errors import ConfigError


def check_values(values: Mapping[str, Any], key: str) -> dict:
    """:func:`~brainalign.config_sections.require`, then the schema's types and ranges.

    Raises
    ------
    ConfigError
        Naming the missing, unknown or invalid key (``figures.format``) and what the schema expects.
    """
    import jsonschema

    values = require(values, key)
    schema = section_schema(key)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(values))
    if error is not None:
        where = ".".join([key, *map(str, error.absolute_path)])
        raise ConfigError(where, error.message,
                          expected=f"{error.validator} {error.validator_value!r} (see docs/config.md)")
    return values


def validated(config: Mapping[str, Any], key: str) -> dict:
    """``config[key]`` with the schema's defaults filled (a copy), then checked (:func:`check_values`).

    For a rule file that must also run without the main Snakefile's validation (``brainbench.smk``)
    or be included on its own (``figures.smk``); after that validation it changes nothing.
    """
    return check_values(with_defaults(key, copy.deepcopy(dict(config.get(key) or {}))), key)


def _nullable(schema: Mapping[str, Any]) -> bool:
    kinds = schema.get("type")
    return kinds == "null" or (isinstance(kinds, list) and "null" in kinds) or "type" not in schema


def reject_null_sections(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None, key: str = "") -> None:
    """Fail, naming the key, where the config sets a settings block to null that the schema has as a
    mapping with defaults (``preprocess.meeg.ica: null``, the form before ICA got ``enabled``).

    Snakemake's ``validate`` answers such a null with "None is not of type 'object'" and a dump of
    the block's schema, which does not say how to switch the block off (and a block typed
    ``[object, null]`` whose keys have defaults crashes it: its ``set_default`` calls ``setdefault``
    on the None), so the workflow calls this first (``workflow/rules/common.smk``).

    Raises
    ------
    ConfigError
        Naming the key, with the mapping expected (``{enabled: false}`` for a block switched by
        ``enabled``, else ``{}`` for its defaults).
    """
    if schema is None:
        schema = section_schema(key) if key else load_schema(SCHEMA)
    for name, sub in (schema.get("properties") or {}).items():
        where = f"{key}.{name}" if key else name
        value = config.get(name) if isinstance(config, Mapping) else None
        properties = sub.get("properties") or {}
        if value is None and name in config and not _nullable(sub) and properties:
            off = "{enabled: false}" if "enabled" in properties else "{}"
            raise ConfigError(where, "is null",
                              expected=f"a mapping of {sorted(properties)} (write {off} or leave the key out "
                              "for the defaults; see docs/config.md)")
        if isinstance(value, Mapping) and properties:
            reject_null_sections(value, sub, where)
