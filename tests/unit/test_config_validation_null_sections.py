"""``reject_null_sections``: a null where the schema has a settings block (``ica: null``) fails naming it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from brainalign.config_validation import reject_null_sections
from brainalign.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("block,needle", [
    ("ica", r"preprocess\.meeg\.ica': is null .*\{enabled: false\}"),
    ("ssp", r"preprocess\.meeg\.ssp': is null .*write \{\} "),
])
def test_a_null_block_is_an_error_naming_the_key_and_the_form(block, needle):
    config = {"preprocess": {"meeg": {"l_freq": 0.5, block: None}}}
    with pytest.raises(ConfigError, match=needle):
        reject_null_sections(config)


def test_nullable_keys_and_left_out_blocks_pass():
    reject_null_sections({"preprocess": {"meeg": {"h_freq": None, "montage": None}, "fmri": {"atlas": None}}})
    reject_null_sections({})
    reject_null_sections({"preprocess": {"meeg": {"ica": {"enabled": False}}}})


@pytest.mark.parametrize("path", sorted((REPO / "config").rglob("*.yaml")), ids=lambda p: p.name)
def test_the_shipped_configs_pass(path):
    config = yaml.safe_load(path.read_text()) or {}
    before = copy.deepcopy(config)
    reject_null_sections(config)
    assert config == before  # it only checks
