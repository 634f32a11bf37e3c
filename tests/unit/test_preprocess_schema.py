"""The schema's preprocess.* blocks: one typed, described entry per keyword of the library functions,
with the functions' own defaults, and no other key (a misspelled key fails at parse time)."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import pytest
import yaml

from brainalign.config_sections import defaults as schema_default
from brainalign.config_sections import with_defaults
from brainalign.preprocess.fmri import DEFAULT_STRATEGY, confound_keys, preprocess_fmri, preprocess_hf5
from brainalign.preprocess.ieeg import preprocess_ieeg
from brainalign.preprocess.meeg import preprocess_meeg

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
BLOCKS = SCHEMA["properties"]["preprocess"]["properties"]
# block -> (function, arguments the workflow supplies from the BIDS tree rather than the config)
FUNCTIONS = {
    "fmri": (preprocess_fmri, {"bold", "confounds", "sidecar"}),
    "meeg": (preprocess_meeg, {"raw_or_bids_path"}),
    "ieeg": (preprocess_ieeg, {"raw_or_bids_path"}),
}


def _plain(value):
    """Tuples as lists (YAML has no tuples)."""
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def _defaults(function, supplied):
    out = {}
    for name, param in inspect.signature(function).parameters.items():
        if name in supplied:
            continue
        default = param.default
        if function is preprocess_fmri and name == "strategy":
            default = DEFAULT_STRATEGY  # None means the default strategy
        out[name] = _plain(default)
    return out


@pytest.mark.parametrize("block", sorted(FUNCTIONS))
def test_every_keyword_has_a_closed_typed_described_entry(block):
    function, supplied = FUNCTIONS[block]
    entry = BLOCKS[block]
    assert entry["additionalProperties"] is False
    keywords = set(_defaults(function, supplied))
    assert set(entry["properties"]) == keywords, (
        f"schema preprocess.{block} vs {function.__name__}: only in schema "
        f"{sorted(set(entry['properties']) - keywords)}, only in the function {sorted(keywords - set(entry['properties']))}")
    for name, prop in entry["properties"].items():
        assert prop.get("description"), f"preprocess.{block}.{name} has no description"
        assert {"type", "enum", "anyOf", "const"} & set(prop), f"preprocess.{block}.{name} has no type"


@pytest.mark.parametrize("block", sorted(FUNCTIONS))
def test_schema_defaults_equal_the_function_defaults(block):
    function, supplied = FUNCTIONS[block]
    defaults = _defaults(function, supplied)
    for name, prop in BLOCKS[block]["properties"].items():
        assert "default" in prop, f"preprocess.{block}.{name} has no default"
        # a block's default with its own keys' defaults filled, as the workflow's validation fills it
        assert schema_default(f"preprocess.{block}.{name}") == defaults[name], (
            f"preprocess.{block}.{name}: schema default {schema_default(f'preprocess.{block}.{name}')!r} != "
            f"{function.__name__} default "
            f"{defaults[name]!r}")


def test_hf5_shares_the_fmri_defaults():
    """The .hf5 path reads time_reference, standardize and the non-finite policy from preprocess.fmri."""
    hf5 = inspect.signature(preprocess_hf5).parameters
    for name in ("time_reference", "standardize", "nonfinite", "nonfinite_max_fraction"):
        assert BLOCKS["fmri"]["properties"][name]["default"] == hf5[name].default


def _base_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("block", sorted(FUNCTIONS))
def test_validated_defaults_bind_to_the_function(block):
    """What the workflow passes (the block with the schema's defaults filled in) is accepted by the function."""
    from snakemake.utils import validate

    config = _base_config()
    validate(config, str(SCHEMA_PATH))
    function, supplied = FUNCTIONS[block]
    options = config["preprocess"][block]
    inspect.signature(function).bind("run", **options)
    given = _base_config().get("preprocess", {}).get(block, {})
    # a block the config gives (strategy) gets its left-out keys' defaults too (n_compcor)
    given = {k: with_defaults(f"preprocess.{block}.{k}", v) if isinstance(v, dict) else v for k, v in given.items()}
    assert options == {**_defaults(function, supplied), **given}


def test_strategy_sub_keys_get_no_default():
    """`strategy: {}` must keep meaning no confounds: the only sub-key with a schema default is
    n_compcor, which selects nothing without compcor."""
    from snakemake.utils import validate

    config = _base_config()
    config["preprocess"]["fmri"]["strategy"] = {}
    validate(config, str(SCHEMA_PATH))
    assert set(config["preprocess"]["fmri"]["strategy"]) == {"n_compcor"}
    assert confound_keys(config["preprocess"]["fmri"]["strategy"]) == []


@pytest.mark.parametrize("block,key,value,needle", [
    ("fmri", "drop_intial_trs", 3, r"'drop_intial_trs' was unexpected"),           # misspelled key
    ("meeg", "hfreq", 30.0, r"'hfreq' was unexpected"),
    ("fmri", "nonfinite", "zero", r"'zero' is not one of \['error', 'interpolate'\]"),
    ("meeg", "bad_channels", "remove", r"'remove' is not one of"),
    ("ieeg", "bad_channels", "interpolate", r"'interpolate' is not one of \['drop', 'keep'\]"),  # not for iEEG
])
def test_bad_key_or_value_fails_validation(block, key, value, needle):
    from snakemake.utils import validate

    config = copy.deepcopy(_base_config())
    config["preprocess"].setdefault(block, {})[key] = value
    with pytest.raises(Exception, match=needle) as excinfo:
        validate(config, str(SCHEMA_PATH))
    assert f"['preprocess']['{block}']" in str(excinfo.value)
