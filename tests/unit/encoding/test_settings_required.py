"""encode_dataset fills nothing in: a missing design/encoding key is a ConfigError naming it (issue 15).

The schema is the only place of a default.  The workflow passes validated sections; library callers
build complete ones with brainalign.encoding.settings.design_settings / solver_settings (the schema's
defaults), and encoding_settings requires the complete ``encoding`` section and the workflow seed.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import xarray as xr

from brainalign.config_sections import defaults, with_defaults
from brainalign.encoding import encode_dataset
from brainalign.encoding.settings import design_settings, encoding_settings, solver_keys, solver_settings
from brainalign.errors import ConfigError


def _data(rng: np.random.Generator) -> tuple[dict, dict]:
    feats, recs = {}, {"01": {}}
    for story in ("s1", "s2"):
        onsets = np.arange(40) * 0.5 + 0.2
        feats[story] = xr.Dataset({"hidden": (("word", "layer", "feature"), rng.standard_normal((40, 2, 3)))},
                                  coords={"word": np.arange(40), "onset": ("word", onsets), "layer": [0, 1]})
        recs["01"][story] = xr.DataArray(rng.standard_normal((12, 4)), dims=("time", "voxel"),
                                         coords={"time": np.arange(12) * 2.0, "voxel": np.arange(4)}, attrs={"tr": 2.0})
    return feats, recs


@pytest.mark.parametrize("key", ["method", "delays", "hrf_model"])
def test_a_missing_design_key_is_named(key):
    feats, recs = _data(np.random.default_rng(0))
    design = design_settings("fmri")
    del design[key]
    with pytest.raises(ConfigError, match=rf"'design\.fmri\.{key}'.*missing") as err:
        encode_dataset(feats, recs, modality="fmri", design=design, encoding=solver_settings(inner_folds=2))
    assert err.value.key == f"design.fmri.{key}"


@pytest.mark.parametrize("key", ["inner_folds", "backend", "ceiling", "subjects", "seed", "alphas"])
def test_a_missing_encoding_key_is_named(key):
    feats, recs = _data(np.random.default_rng(0))
    encoding = solver_settings(inner_folds=2)
    del encoding[key]
    name = "seed" if key == "seed" else f"encoding.{key}"
    with pytest.raises(ConfigError, match=rf"'{name}'.*missing") as err:
        encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri"), encoding=encoding)
    assert err.value.key == name


def test_an_unknown_encoding_key_is_named():
    feats, recs = _data(np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"'encoding\.lags'.*unknown key"):
        encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri"),
                       encoding={**solver_settings(inner_folds=2), "lags": [1]})
    with pytest.raises(ConfigError, match=r"'encoding\.lags'.*not a solver setting"):
        solver_settings(lags=[1])


def test_complete_settings_are_the_schemas_and_encode():
    design = design_settings("fmri")
    assert design == defaults("design.fmri") and design["method"] == "fir"
    assert design_settings("eeg", tmax=0.4) == {**defaults("design.meeg"), "tmax": 0.4}
    solver = solver_settings()
    grid = defaults("encoding.alphas")
    np.testing.assert_allclose(solver["alphas"], np.logspace(grid["start"], grid["stop"], grid["num"]))
    assert solver["seed"] == defaults("seed") and sorted(solver) == solver_keys()
    feats, recs = _data(np.random.default_rng(0))
    scores = encode_dataset(feats, recs, modality="fmri", design=design, encoding=solver_settings(inner_folds=2))
    assert scores["r"].dims == ("subject", "layer", "voxel") and np.isfinite(scores["r"].values).all()


def test_encoding_settings_requires_the_section_and_the_seed():
    section = with_defaults("encoding")
    del section["layer_stride"]
    with pytest.raises(ConfigError, match=r"'encoding\.layer_stride'.*missing"):
        encoding_settings(section, seed=0)
    assert inspect.signature(encoding_settings).parameters["seed"].default is inspect.Parameter.empty
    solver, layers, stride = encoding_settings(with_defaults("encoding"), seed=5)
    assert solver["seed"] == 5 and layers is None and stride == defaults("encoding.layer_stride")


def test_encoding_settings_takes_the_encode_rules_params():
    """The encode rules leave encoding.max_job_memory_gb out of their params (common.smk's ENCODING:
    how the work is split into jobs changes no job); every other key is still required."""
    section = with_defaults("encoding")
    del section["max_job_memory_gb"]
    solver, _, _ = encoding_settings(section, seed=1)
    assert sorted(solver) == solver_keys()
    del section["inner_folds"]
    with pytest.raises(ConfigError, match=r"'encoding\.inner_folds'.*missing"):
        encoding_settings(section, seed=1)
