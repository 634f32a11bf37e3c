"""``n_compcor``: the schema's default, read only with ``compcor``; required (no library default)."""

from __future__ import annotations

import pytest

from brainalign.config_sections import defaults, with_defaults
from brainalign.errors import ConfigError
from brainalign.preprocess.fmri import confound_columns, confound_keys

COLUMNS = ["trans_x"] + [f"a_comp_cor_{i:02d}" for i in range(12)]


def test_compcor_without_n_compcor_is_an_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"preprocess\.fmri\.strategy\.n_compcor.*missing with compcor='anat'"):
        confound_columns(COLUMNS, {"compcor": "anat"})


def test_the_schema_default_n_compcor_selects_that_many_components():
    strategy = with_defaults("preprocess.fmri.strategy", {"compcor": "anat"})
    n = defaults("preprocess.fmri.strategy.n_compcor")
    assert strategy["n_compcor"] == n and isinstance(n, int) and 1 <= n < 12
    assert confound_columns(COLUMNS, strategy) == [f"a_comp_cor_{i:02d}" for i in range(n)]
    assert confound_columns(COLUMNS, {"compcor": "anat", "n_compcor": 3}) == COLUMNS[1:4]


def test_n_compcor_alone_selects_nothing():
    """``strategy: {}`` filled by the schema is ``{n_compcor: 5}``: still no confounds and no file needed."""
    filled = with_defaults("preprocess.fmri.strategy", {})
    assert set(filled) == {"n_compcor"}
    assert confound_keys(filled) == [] and confound_columns(COLUMNS, filled) == []
