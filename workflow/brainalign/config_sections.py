"""Config sections checked against the one config schema (``workflow/schemas/config.schema.yaml``).

The schema is the only place where a setting's default is written.  The workflow validates its
config with ``snakemake.utils.validate(config, schema, set_default=True)``, which fills every left-out
key (nested objects included), so a rule hands a library function a *complete* section.  A library
function that takes such a section therefore does not fill anything in: it calls :func:`require`,
which fails with a :class:`~brainalign.errors.ConfigError` naming the first missing or invalid key,
instead of inventing a default that could drift from the schema's.

Library callers and tests that build a section outside Snakemake get the schema's defaults from
:func:`with_defaults` (``with_defaults("analyses.forecast", {"distances": [3]})``);
:func:`brainalign.config_validation.validated` also checks the values (jsonschema), for a rule file
that must run on its own (``brainbench.smk``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from .configdoc import SCHEMA, entry_schemas, fill_defaults, load_schema
from .errors import ConfigError


@lru_cache(maxsize=1)
def _schema() -> dict:
    return load_schema(SCHEMA)


@lru_cache(maxsize=None)
def _shared_section_schema(key: str) -> Mapping[str, Any]:
    """The sub-schema of ``key`` itself, shared (read-only: :func:`require` only walks it, once per
    rule job and story of a plan, where a deep copy of the ``dataset`` schema each time costs seconds)."""
    schema: Mapping[str, Any] = _schema()
    for part in key.split("."):
        properties = schema.get("properties") or {}
        if part not in properties:
            raise KeyError(f"the config schema has no key {key!r} (no {part!r} under it)")
        schema = properties[part]
    return schema


def section_schema(key: str) -> dict:
    """The sub-schema of the dotted config ``key`` (``"analyses"``, ``"analyses.forecast"``, ``"design.fmri"``),
    a copy the caller may change.

    Raises
    ------
    KeyError
        If the schema has no such key.
    """
    return copy.deepcopy(dict(_shared_section_schema(key)))


def defaults(key: str) -> Any:
    """The value the schema gives ``key`` when the config leaves it out (nested defaults filled)."""
    schema = section_schema(key)
    if "default" not in schema:
        raise KeyError(f"config key {key!r} has no default in the schema")
    return fill_defaults({"value": schema["default"]}, {"properties": {"value": schema}})["value"]


def with_defaults(key: str, values: Mapping[str, Any] | None = None) -> dict:
    """``values`` (a partial ``key`` section) with every left-out key filled from the schema's defaults.

    What the workflow's validation does to the section; for library callers and tests that build a
    config outside Snakemake.  The result is checked with :func:`require` (values are not checked:
    see :func:`brainalign.config_validation.validated`).
    """
    filled = fill_defaults(copy.deepcopy(dict(values or {})), section_schema(key))
    return require(filled, key)


def complete(values: Mapping[str, Any] | None, key: str) -> dict:
    """The complete ``key`` section: ``values`` checked with :func:`require`, or, for None (a caller
    with no such section, e.g. a dataset without a profile), the schema's defaults."""
    return with_defaults(key) if values is None else require(values, key)


def _structure(values: Mapping[str, Any], schema: Mapping[str, Any], key: str,
               absent: tuple[str, ...] = ()) -> ConfigError | None:
    """The first key that has a schema default but is absent from ``values``, or that the schema lacks.

    Nested objects are checked in turn: named keys and the entries of free-form mappings
    (``models.<name>``, whose schema is ``additionalProperties`` or ``patternProperties``) alike.
    """
    properties = schema.get("properties") or {}
    for name, sub in properties.items():
        if name not in values and "default" in sub and name not in absent:
            return ConfigError(f"{key}.{name}", "missing",
                               expected=f"the validated config section '{key}' (its default is in "
                               "workflow/schemas/config.schema.yaml)",
                               hint="outside Snakemake, fill the defaults with "
                               "brainalign.config_sections.with_defaults")
    for name, value in values.items():
        subs = entry_schemas(schema, name)
        if not subs and schema.get("additionalProperties") is False:
            return ConfigError(f"{key}.{name}", "unknown key", expected=f"one of {sorted(properties)}")
        for sub in subs:
            if isinstance(value, Mapping) and (sub.get("properties") or sub.get("additionalProperties")
                                               or sub.get("patternProperties")):
                found = _structure(value, sub, f"{key}.{name}")
                if found:
                    return found
    return None


def require(values: Mapping[str, Any] | None, key: str, absent: tuple[str, ...] = ()) -> dict:
    """Check that ``values`` is a complete ``key`` section of the config; return it as a dict.

    Complete means every key the schema gives a default is present (as after the workflow's
    validation, which fills them): a missing one is an error naming it, not a silent default.  A key
    the schema does not know is an error too.  Types and ranges are the workflow's validation's
    (and the caller's own checks'); :func:`brainalign.config_validation.check_values` checks them
    against the schema where the rules' Python has jsonschema (this module needs only PyYAML, so
    that the rule environments can import it).

    ``absent`` names top-level keys of the section that may be left out (a rule that keeps a key
    out of a job's params on purpose: ``encoding.max_job_memory_gb`` splits the work into jobs and
    is no setting of theirs).

    Raises
    ------
    ConfigError
        Naming the missing or unknown key (``analyses.forecast.distances``) and what is expected.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(key, f"{values!r} is not a mapping", expected="the validated config section")
    problem = _structure(values, _shared_section_schema(key), key, tuple(absent))
    if problem is not None:
        raise problem
    return dict(values)
