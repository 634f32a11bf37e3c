"""preprocess_run reads its settings from complete config sections: a missing key is a ConfigError naming it."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError
from brainalign.preprocess.fmri import DEFAULT_STRATEGY, confound_keys, preprocess_run


def _bold(tmp_path) -> str:
    img = nib.Nifti1Image(np.random.default_rng(0).standard_normal((2, 2, 2, 30)).astype(np.float32), np.eye(4))
    img.header["pixdim"][4] = 2.0
    path = tmp_path / "sub-01_task-a_bold.nii.gz"
    nib.save(img, str(path))
    return str(path)


@pytest.mark.parametrize("key", ["time_reference", "standardize", "strategy", "nonfinite_max_fraction"])
def test_a_missing_fmri_setting_is_named(tmp_path, key):
    options = with_defaults("preprocess.fmri", {"mask": nib.Nifti1Image(np.ones((2, 2, 2), np.int8), np.eye(4)),
                                                "strategy": {}})
    del options[key]
    with pytest.raises(ConfigError, match=rf"preprocess\.fmri\.{key}.*missing"):
        preprocess_run({"bold": _bold(tmp_path)}, options=options, story="a")


def test_a_story_run_entry_and_stimulus_spec_must_be_complete(tmp_path):
    options = with_defaults("preprocess.fmri", {"mask": nib.Nifti1Image(np.ones((2, 2, 2), np.int8), np.eye(4)),
                                                "strategy": {}})
    entry = with_defaults("dataset.story_runs", {"b": {"task": "a", "onset": 0.0, "duration": 20.0}})["b"]
    del entry["tail"]
    with pytest.raises(ConfigError, match=r"dataset\.story_runs\.b\.tail.*missing"):
        preprocess_run({"bold": _bold(tmp_path)}, options=options, story="b", story_run=entry)
    with pytest.raises(ConfigError, match=r"dataset\.stimulus_onset\.stim_file.*missing"):
        preprocess_run({"bold": _bold(tmp_path)}, options=options, story="a", stimulus={"source": "none"})


def test_hf5_settings_come_from_the_validated_profile(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset\.profile\.hf5\.first_volume.*missing"):
        preprocess_run({"bold": str(tmp_path / "x.hf5")}, options=with_defaults("preprocess.fmri"),
                       profile={"use_derivatives": True, "responses": "hf5", "hf5": {"tr": 2.0, "dataset": "data"}})


def test_the_default_strategy_is_the_schemas():
    assert DEFAULT_STRATEGY == with_defaults("preprocess.fmri")["strategy"]
    # {}: no confounds, not the default; the schema fills only n_compcor, which selects no column by itself
    empty = with_defaults("preprocess.fmri", {"strategy": {}})["strategy"]
    assert set(empty) == {"n_compcor"} and confound_keys(empty) == []
