"""Config sections checked against the one config schema (``workflow/schemas/config.schema.yaml``).

The schema is the only place where a setting's default is written.  The workflow validates its
config with ``snakemake.utils.validate(config, schema, set_default=True)``, which fills every left-out
key (nested objects included), so a rule hands a library function a *complete* section.  A library
function that takes such a section therefore does not fill anything in: it calls :func:`require`,
which fails with a :class:`~brainalign.errors.ConfigError` naming the first missing or invalid key,
instead of inventing a default that could drift from the schema's.

Library callers and tests that build a section outside Snakemake get the schema's defaults from
:func:`with_defaults` (``with_defaults("analyses.forecast", {"distances": [3]})``), and
:func:`validated` does both steps for a rule file that must run on its own (``brainbench.smk``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from .configdoc import SCHEMA, fill_defaults, load_schema
from .errors import ConfigError


@lru_cache(maxsize=1)
def _schema() -> dict:
    return load_schema(SCHEMA)


def section_schema(key: str) -> dict:
    """The sub-schema of the dotted config ``key`` (``"analyses"``, ``"analyses.forecast"``, ``"design.fmri"``).

    Raises
    ------
    KeyError
        If the schema has no such key.
    """
    schema: Mapping[str, Any] = _schema()
    for part in key.split("."):
        properties = schema.get("properties") or {}
        if part not in properties:
            raise KeyError(f"the config schema has no key {key!r} (no {part!r} under it)")
        schema = properties[part]
    return copy.deepcopy(dict(schema))


def defaults(key: str) -> Any:
    """The value the schema gives ``key`` when the config leaves it out (nested defaults filled)."""
    schema = section_schema(key)
    if "default" not in schema:
        raise KeyError(f"config key {key!r} has no default in the schema")
    return fill_defaults({"value": schema["default"]}, {"properties": {"value": schema}})["value"]


def with_defaults(key: str, values: Mapping[str, Any] | None = None, *, check_values: bool = True) -> dict:
    """``values`` (a partial ``key`` section) with every left-out key filled from the schema's defaults.

    What the workflow's validation does to the section; for library callers and tests that build a
    config outside Snakemake.  The result is checked with :func:`require`.
    """
    filled = fill_defaults(copy.deepcopy(dict(values or {})), section_schema(key))
    return require(filled, key, check_values=check_values)


def _structure(values: Mapping[str, Any], schema: Mapping[str, Any], key: str) -> ConfigError | None:
    """The first key that has a schema default but is absent from ``values``, or that the schema lacks."""
    properties = schema.get("properties") or {}
    if schema.get("additionalProperties") is False:
        for name in values:
            if name not in properties:
                return ConfigError(f"{key}.{name}", "unknown key", expected=f"one of {sorted(properties)}")
    for name, sub in properties.items():
        if name not in values:
            if "default" in sub:
                return ConfigError(f"{key}.{name}", "missing",
                                   expected=f"the validated config section '{key}' (its default is in "
                                   "workflow/schemas/config.schema.yaml)",
                                   hint="outside Snakemake, fill the defaults with "
                                   "brainalign.config_sections.with_defaults")
            continue
        if isinstance(values[name], Mapping) and sub.get("properties"):
            found = _structure(values[name], sub, f"{key}.{name}")
            if found:
                return found
    return None


def require(values: Mapping[str, Any] | None, key: str, *, check_values: bool = True) -> dict:
    """Check that ``values`` is a complete, valid ``key`` section of the config; return it as a dict.

    Complete means every key the schema gives a default is present (as after the workflow's
    validation, which fills them): a missing one is an error naming it, not a silent default.  A key
    the schema does not know is an error too.  ``check_values=False`` leaves the values' types and
    ranges to the caller (which checks them with messages of its own).

    Raises
    ------
    ConfigError
        Naming the missing key (``analyses.forecast.distances``) or the key whose value the schema
        rejects, with what the schema expects.
    """
    import jsonschema

    if not isinstance(values, Mapping):
        raise ConfigError(key, f"{values!r} is not a mapping", expected="the validated config section")
    schema = section_schema(key)
    problem = _structure(values, schema, key)
    if problem is not None:
        raise problem
    if not check_values:
        return dict(values)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(dict(values)))
    if error is not None:
        where = ".".join([key, *map(str, error.absolute_path)])
        raise ConfigError(where, error.message, expected=str(error.schema.get("description") or error.validator))
    return dict(values)


def validated(config: Mapping[str, Any], key: str) -> dict:
    """``config[key]`` with the schema's defaults filled, then checked (:func:`require`).

    For a rule file that must also run without the main Snakefile's validation (``brainbench.smk``).
    """
    return with_defaults(key, copy.deepcopy(dict(config.get(key) or {})))
