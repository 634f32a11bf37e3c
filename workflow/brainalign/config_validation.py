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
