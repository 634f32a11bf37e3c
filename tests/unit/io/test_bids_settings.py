"""io.bids reads dataset settings from complete (validated) sections: a missing key is a ConfigError naming it."""

from __future__ import annotations

import pytest

from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError
from brainalign.io.bids import hf5_spec, plan_runs, stimulus_onset, stimulus_spec, story_segment


def test_stimulus_onset_needs_the_whole_section():
    with pytest.raises(ConfigError, match=r"dataset\.stimulus_onset\.stim_file.*missing"):
        stimulus_onset(None, {"source": "none", "trial_type": None, "runs": {}}, subject="01", story="x")
    with pytest.raises(ConfigError, match=r"dataset\.stimulus_onset.*not a mapping"):
        stimulus_onset(None, None, subject="01", story="x")
    spec = with_defaults("dataset.stimulus_onset", {"source": "none"})
    assert stimulus_onset(None, spec, subject="01", story="x") == {"onset": 0.0, "source": "none"}


def test_story_segment_names_the_entry_key():
    entry = with_defaults("dataset.story_runs", {"b": {"task": "t", "onset": "events"}})["b"]
    del entry["events_index"]
    with pytest.raises(ConfigError, match=r"dataset\.story_runs\.b\.events_index.*missing"):
        story_segment("b", entry, None)


def test_dataset_level_settings_are_required(tmp_path):
    ds = with_defaults("dataset", {"stimulus_onset": {"stim_file": "{task}.wav"}})
    assert stimulus_spec(ds, "x")["stim_file"] == "{task}.wav"
    del ds["conditions"]["column"]
    with pytest.raises(ConfigError, match=r"dataset\.conditions\.column.*missing"):
        stimulus_spec(ds, "x")
    ds = with_defaults("dataset")
    del ds["repeated_runs"]
    with pytest.raises(ConfigError, match=r"dataset\.repeated_runs.*missing"):
        plan_runs(tmp_path, ds, spec={"modality": "fmri"}, subjects=["01"], stories=["x"])


def test_no_profile_is_the_schemas_default_profile():
    assert hf5_spec(None, "/bids") == {"responses": with_defaults("dataset.profile")["responses"], "hf5_root": None}
    profile = with_defaults("dataset.profile", {"responses": "hf5", "hf5": {"tr": 2.0, "root": "{root}/d"}})
    assert hf5_spec(profile, "/bids") == {"responses": "hf5", "hf5_root": "/bids/d"}
    with pytest.raises(ConfigError, match=r"dataset\.profile\.responses.*missing"):
        hf5_spec({"use_derivatives": False}, "/bids")


def test_a_find_runs_query_without_profile_keys_takes_the_schemas(tmp_path, monkeypatch):
    """find_runs' left-out use_derivatives/responses follow the schema's dataset.profile defaults."""
    import brainalign.config_sections as sections
    from brainalign.io.bids import find_runs

    bold = tmp_path / "sub-01" / "func" / "sub-01_task-a_bold.nii.gz"
    prep = tmp_path / "derivatives" / "fmriprep" / "sub-01" / "func" / "sub-01_task-a_desc-preproc_bold.nii.gz"
    for p in (bold, prep):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"")
    assert find_runs(tmp_path, {"modality": "fmri"})["path"].tolist() == [str(prep)]  # schema: true
    real = sections.defaults
    monkeypatch.setattr("brainalign.io.bids.defaults",
                        lambda key: False if key == "dataset.profile.use_derivatives" else real(key))
    assert find_runs(tmp_path, {"modality": "fmri"})["path"].tolist() == [str(bold)]
