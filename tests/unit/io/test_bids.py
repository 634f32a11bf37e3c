"""Run discovery in BIDS trees of the published datasets' shapes (empty files: names are what matter)."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import mne
import mne_bids
import nibabel as nib
import numpy as np
import pytest

from brainalign.errors import ConfigError, InputError
from brainalign.io.bids import find_runs, locate_run, parse_entities, recording_duration, select_runs

RECORDINGS = Path("/work/shared/data/recordings")


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def narratives_tree(root: Path) -> None:
    """Narratives (ds002345): raw func + fMRIPrep volume and fsaverage6 derivatives."""
    deriv = root / "derivatives" / "fmriprep"
    for sub, tasks in {"001": ["pieman", "tunnel"], "002": ["pieman"], "003": ["pieman", "tunnel"]}.items():
        for task in tasks:
            f = root / f"sub-{sub}" / "func"
            touch(f / f"sub-{sub}_task-{task}_bold.nii.gz")
            touch(f / f"sub-{sub}_task-{task}_events.tsv", "onset\tduration\n")
            d = deriv / f"sub-{sub}" / "func"
            touch(d / f"sub-{sub}_task-{task}_space-MNI152NLin2009cAsym_res-native_desc-preproc_bold.nii.gz")
            touch(d / f"sub-{sub}_task-{task}_space-MNI152NLin2009cAsym_res-native_desc-brain_mask.nii.gz")
            touch(d / f"sub-{sub}_task-{task}_space-MNI152NLin2009cAsym_res-native_desc-preproc_bold.json",
                  '{"RepetitionTime": 1.5}')
            for hemi in "LR":
                touch(d / f"sub-{sub}_task-{task}_hemi-{hemi}_space-fsaverage6_bold.func.gii")
            touch(d / f"sub-{sub}_task-{task}_desc-confounds_regressors.tsv")
    touch(root / "task-pieman_bold.json", '{"RepetitionTime": 1.5}')


def test_narratives_volume_and_surface(tmp_path):
    narratives_tree(tmp_path)
    runs = find_runs(tmp_path, {"modality": "fmri", "space": "MNI152NLin2009cAsym"})
    assert runs[["subject", "story"]].values.tolist() == [["001", "pieman"], ["001", "tunnel"], ["002", "pieman"],
                                                          ["003", "pieman"], ["003", "tunnel"]]
    row = runs.iloc[0]
    assert row["path"].endswith("sub-001_task-pieman_space-MNI152NLin2009cAsym_res-native_desc-preproc_bold.nii.gz")
    assert row["confounds"].endswith("sub-001_task-pieman_desc-confounds_regressors.tsv")
    assert row["events"].endswith("sub-001/func/sub-001_task-pieman_events.tsv")
    assert row["sidecar"].endswith("desc-preproc_bold.json") and row["path_r"] is None
    surf = find_runs(tmp_path, {"modality": "fmri", "space": "fsaverage6", "stories": ["pieman"]})
    assert len(surf) == 3 and surf["path"].str.contains("hemi-L").all() and surf["path_r"].str.contains("hemi-R").all()
    assert surf["sidecar"].iloc[0].endswith("task-pieman_bold.json")  # inherited from the root
    raw = find_runs(tmp_path, {"modality": "fmri", "use_derivatives": False})
    assert raw["path"].str.endswith("_bold.nii.gz").all() and not raw["path"].str.contains("derivatives").any()
    assert raw["confounds"].str.contains("derivatives/fmriprep").all()  # raw BOLD, fMRIPrep confounds
    loc = locate_run(tmp_path, "003", "tunnel", "fmri", space="fsaverage6")
    assert isinstance(loc["bold"], list) and loc["bold"][1].endswith("hemi-R_space-fsaverage6_bold.func.gii")


def test_fmri_bold_choice(tmp_path):
    """Of several fMRIPrep BOLDs of one run in the space, the first by name; a run without the space is left out."""
    from brainalign.io.bids import _fmri_bolds, _fmri_rows

    narratives_tree(tmp_path)
    deriv = tmp_path / "derivatives" / "fmriprep"
    d = deriv / "sub-001" / "func"
    touch(d / "sub-001_task-pieman_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz")
    (deriv / "sub-002" / "func" / "sub-002_task-pieman_space-MNI152NLin2009cAsym_res-native_desc-preproc_bold.nii.gz"
     ).unlink()
    runs = _fmri_bolds(tmp_path, deriv, "MNI152NLin2009cAsym", False, True)
    assert Path(runs["sub-001_task-pieman"]["deriv"]).name.startswith("sub-001_task-pieman_space-MNI152NLin2009cAsym_res-2")
    assert runs["sub-001_task-pieman"]["raw"].endswith("sub-001/func/sub-001_task-pieman_bold.nii.gz")
    assert "deriv" not in runs["sub-002_task-pieman"] and len(runs) == 5
    rows = _fmri_rows(tmp_path, {"space": "MNI152NLin2009cAsym"})
    assert sorted((r["subject"], r["story"]) for r in rows) == [("001", "pieman"), ("001", "tunnel"),
                                                                 ("003", "pieman"), ("003", "tunnel")]
    assert set(_fmri_bolds(tmp_path, deriv, None, False, False)["sub-002_task-pieman"]) == {"ent", "raw"}


def test_missing_story_error_or_drop(tmp_path, caplog):
    narratives_tree(tmp_path)
    runs = find_runs(tmp_path, {"modality": "fmri"})
    with pytest.raises(FileNotFoundError, match=r"1 subject/story run\(s\) not found: sub-002/task-tunnel"):
        select_runs(runs, ["001", "002", "003"], ["pieman", "tunnel"], root=tmp_path)
    with caplog.at_level(logging.WARNING):
        kept = select_runs(runs, ["001", "002", "003"], ["pieman", "tunnel"], missing="drop")
    assert len(kept) == 5 and "sub-002/task-tunnel" in caplog.text
    with pytest.raises(FileNotFoundError, match=r"no fmri run for sub-002 task-tunnel"):
        locate_run(tmp_path, "002", "tunnel", "fmri")


def test_megmasc_sessions_and_locate(tmp_path):
    """MEG-MASC: four stories (task-0..3) in two sessions, KIT .con files."""
    for sub in ("01", "02"):
        for ses in ("0", "1"):
            for task in ("0", "1", "2", "3"):
                d = tmp_path / f"sub-{sub}" / f"ses-{ses}" / "meg"
                touch(d / f"sub-{sub}_ses-{ses}_task-{task}_meg.con")
                touch(d / f"sub-{sub}_ses-{ses}_task-{task}_events.tsv")
                touch(d / f"sub-{sub}_ses-{ses}_task-{task}_channels.tsv")
                touch(d / f"sub-{sub}_ses-{ses}_task-{task}_meg.json")
                touch(d / f"sub-{sub}_ses-{ses}_task-{task}_markers.mrk")
    runs = find_runs(tmp_path, {"modality": "meg"})
    assert len(runs) == 16 and runs["channels"].notna().all() and runs["events"].notna().all()
    only0 = find_runs(tmp_path, {"modality": "meg", "sessions": ["0"], "stories": ["2"]})
    assert only0["path"].str.endswith("_ses-0_task-2_meg.con").all() and len(only0) == 2
    with pytest.raises(ConfigError, match=r"dataset.repeated_runs.*sub-01 task-0 has 2 runs \(\['ses-0', 'ses-1'\]"):
        select_runs(runs, ["01"], ["0"])  # repeated stories: never silently the first
    chosen = select_runs(runs, ["01"], ["0"], repeated="first")
    assert chosen["session"].tolist() == ["0"] and chosen["repeats"].tolist() == ["ses-1"]
    assert select_runs(runs, ["01"], ["0"], repeated="last")["session"].tolist() == ["1"]
    loc = locate_run(tmp_path, "01", "3", "meg", session="1")
    assert loc["bids_path"].session == "1" and loc["bids_path"].task == "3" and loc["raw"].endswith("_meg.con")


def test_eeg_real_file(tmp_path):
    raw = mne.io.read_raw(RECORDINGS / "BDF_test_bdf_stim_channel.bdf", verbose="error")
    raw.info["line_freq"] = 50
    bp = mne_bids.BIDSPath(subject="01", task="story", run="1", root=tmp_path, datatype="eeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(raw, bp, overwrite=True, verbose=False)
    loc = locate_run(tmp_path, "01", "story", "eeg")
    assert loc["bids_path"].fpath == bp.fpath and loc["channels"].endswith("_channels.tsv")
    assert recording_duration(loc["raw"]) == pytest.approx(10.0)
    # the located BIDSPath is readable as is
    assert mne_bids.read_raw_bids(loc["bids_path"], verbose="error").info["sfreq"] == 500.0


def test_recording_duration_nifti(tmp_path):
    img = nib.Nifti1Image(np.zeros((2, 2, 2, 12), np.float32), np.eye(4))
    img.header["pixdim"][4] = 2.0
    nib.save(img, tmp_path / "sub-01_task-x_bold.nii.gz")
    (tmp_path / "sub-01_task-x_bold.json").write_text(json.dumps({"RepetitionTime": 2.0}))
    assert recording_duration(tmp_path / "sub-01_task-x_bold.nii.gz") == 24.0


def test_parse_entities():
    assert parse_entities("sub-001_ses-2_task-pie_run-1_space-MNI_desc-preproc_bold.nii.gz") == \
        {"sub": "001", "ses": "2", "task": "pie", "run": "1", "space": "MNI", "desc": "preproc"}


# ------------------------------------------------------------ conditions, repeats, stimulus onsets
def test_read_conditions_lists_and_one_per_subject(tmp_path):
    from brainalign.io.bids import read_conditions

    narr = touch(tmp_path / "a" / "participants.tsv", "participant_id\tage\ttask\tcondition\n"
                 "sub-001\t22,23\tpieman,tunnel\tn/a,n/a\nsub-023\t27\tprettymouth,milkyway\taffair,vodka\n")
    table = read_conditions(narr)
    assert table.values.tolist() == [["001", "pieman", None], ["001", "tunnel", None],
                                     ["023", "prettymouth", "affair"], ["023", "milkyway", "vodka"]]
    plain = touch(tmp_path / "b" / "participants.tsv", "participant_id\tgroup\nsub-01\tA\nsub-02\tn/a\n")
    assert read_conditions(plain, column="group").values.tolist() == [["01", None, "A"], ["02", None, None]]
    assert read_conditions(plain).empty  # no 'condition' column: no conditions


def test_condition_units_select_or_split(tmp_path):
    from brainalign.io.bids import check_mixed_conditions, read_conditions, split_condition_units

    for sub in ("001", "002", "003"):
        touch(tmp_path / f"sub-{sub}" / "func" / f"sub-{sub}_task-prettymouth_bold.nii.gz")
    cond = read_conditions(touch(tmp_path / "participants.tsv", "participant_id\ttask\tcondition\n"
                                 "sub-001\tprettymouth\taffair\nsub-002\tprettymouth\tparanoia\n"
                                 "sub-003\tprettymouth\taffair\n"))
    runs = find_runs(tmp_path, {"modality": "fmri"})
    # a unit named like its task selects one condition; the others are excluded, not missing
    units = {"prettymouth": {"task": "prettymouth", "condition": "affair"}}
    split, excluded = split_condition_units(runs, units, cond)
    chosen = select_runs(split, ["001", "002", "003"], ["prettymouth"], excluded=excluded)
    assert chosen["subject"].tolist() == ["001", "003"] and excluded == {("002", "prettymouth"): "condition paranoia"}
    assert check_mixed_conditions(chosen, cond, units)["condition"].tolist() == ["affair", "affair"]
    # pooled on purpose: a unit naming both
    both = {"pm": {"task": "prettymouth", "condition": ["affair", "paranoia"]}}
    split, excluded = split_condition_units(runs, both, cond)
    assert select_runs(split, ["001", "002", "003"], ["pm"])["condition"].tolist() == ["affair", "paranoia", "affair"]
    # the task as is: mixed versions stop
    plain = select_runs(runs, ["001", "002", "003"], ["prettymouth"])
    with pytest.raises(ConfigError, match=r"affair: 2 subject\(s\), paranoia: 1 subject\(s\)"):
        check_mixed_conditions(plain, cond)


def test_repeated_runs_by_label(tmp_path):
    from brainalign.io.bids import choose_repeat

    for run in ("1", "2"):
        touch(tmp_path / "sub-001" / "func" / f"sub-001_task-pieman_run-{run}_bold.nii.gz")
    touch(tmp_path / "sub-002" / "func" / "sub-002_task-pieman_bold.nii.gz")
    runs = find_runs(tmp_path, {"modality": "fmri"})
    row, others = choose_repeat(runs[runs["subject"] == "001"], "001", "pieman", "run-2")
    assert row["run"] == "2" and others == ["run-1"]
    chosen = select_runs(runs, ["001", "002"], ["pieman"], repeated="run-2")  # sub-002's single run is kept
    assert chosen["run"].tolist() == ["2", None] and chosen["repeats"].tolist() == ["run-1", ""]
    loc = locate_run(tmp_path, "001", "pieman", "fmri", run="1")
    assert loc["bold"].endswith("run-1_bold.nii.gz")
    with pytest.raises(ConfigError, match="dataset.repeated_runs"):
        locate_run(tmp_path, "001", "pieman", "fmri")


def test_stimulus_onset_options(tmp_path):
    from brainalign.config_sections import with_defaults
    from brainalign.io.bids import stimulus_onset, stimulus_spec

    events = touch(tmp_path / "sub-01_task-x_events.tsv", "onset\tduration\ttrial_type\tstim_file\n"
                   "2.0\t10.0\tmusic\tstimuli/x_audio.wav\n13.0\t100.0\tstory\tstimuli/x_audio.wav\n"
                   "200.0\t5.0\tprobe\tn/a\n")
    spec = with_defaults("dataset.stimulus_onset", {"stim_file": "{task}_audio.wav"})
    info = stimulus_onset(events, spec, subject="01", story="x")
    assert (info["onset"], info["line"], info["stim_file"]) == (2.0, 2, "x_audio.wav")  # file name in a folder
    assert stimulus_onset(events, {**spec, "trial_type": "story"}, subject="01", story="x")["onset"] == 13.0
    assert stimulus_onset(events, with_defaults("dataset.stimulus_onset"), subject="01", story="x")["onset"] == 2.0  # the run's one stim_file
    assert stimulus_onset(events, {**spec, "runs": {"01/x": 4.0}}, subject="01", story="x")["source"] == "override"
    with pytest.raises(ConfigError, match=r"stimulus_onset.stim_file.*unknown placeholder 'version'"):
        stimulus_onset(events, {**spec, "stim_file": "{version}.wav"}, subject="01", story="x")
    with pytest.raises(InputError, match=r"no row with trial_type 'speech'"):
        stimulus_onset(events, {**spec, "trial_type": "speech"}, subject="01", story="x")
    # a unit's own pattern replaces the dataset's
    ds = with_defaults("dataset", {"stimulus_onset": spec, "conditions": {"units": {
        "xb": {"task": "x", "condition": "b", "stim_file": "{task}{condition}.wav"}}}})
    assert stimulus_spec(ds, "xb")["stim_file"] == "{task}{condition}.wav"
    assert stimulus_spec(ds, "x") == {"source": "events", "stim_file": "{task}_audio.wav", "trial_type": None, "runs": {}}


def test_stimulus_onset_phases(tmp_path):
    """The config's fixed onsets, the rows that play the story's audio, and its parts in time order."""
    from brainalign.io.bids import _audio_parts_in_order, _audio_rows, _configured_onset
    from brainalign.io.tsv import read_bids_tsv

    assert _configured_onset({"source": "none", "runs": {"01/x": 3}}, "01/x") == {"onset": 3.0, "source": "override"}
    assert _configured_onset({"source": "none", "runs": {}}, "01/x") == {"onset": 0.0, "source": "none"}
    assert _configured_onset({"source": 1.5, "runs": {}}, "01/x") == {"onset": 1.5, "source": "config"}
    assert _configured_onset({"source": "events", "runs": {}}, "01/x") is None
    with pytest.raises(ConfigError, match="dataset.stimulus_onset.source"):
        _configured_onset({"source": "audio", "runs": {}}, "01/x")

    # rows listed out of time order: the audio's parts are sorted by onset, other files' rows ignored
    events = touch(tmp_path / "sub-01_task-x_events.tsv", "onset\tduration\ttrial_type\tstim_file\n"
                   "20.0\t100.0\tstory\tstimuli/x_audio.wav\n0.0\t5.0\tmusic\tstimuli/intro.wav\n"
                   "6.0\t14.0\tmusic\tstimuli/x_audio.wav\n")
    table = read_bids_tsv(events, what="events file")
    kw = dict(story="x", task="x", condition=None, subject="01")
    expected, match = _audio_rows(table, events, "{task}_audio.wav", "hint", **kw)
    assert (expected, match) == ("x_audio.wav", [0, 2])
    onsets, ordered = _audio_parts_in_order(table, events, match, expected, "hint")
    assert ordered == [2, 0] and onsets[ordered[0]] == 6.0
    with pytest.raises(InputError, match=r"2 stimulus files .* and no dataset.stimulus_onset.stim_file"):
        _audio_rows(table, events, None, "hint", **kw)
    with pytest.raises(InputError, match=r"no row plays the story's audio 'y_audio.wav'"):
        _audio_rows(table, events, "{task}_audio.wav", "hint", **{**kw, "task": "y"})
    # a part that runs past the start of the next part of the same file: its start is ambiguous
    overlap = touch(tmp_path / "sub-02_task-x_events.tsv", "onset\tduration\ttrial_type\tstim_file\n"
                    "0.0\t15.0\tmusic\tx_audio.wav\n10.0\t100.0\tstory\tx_audio.wav\n")
    with pytest.raises(InputError, match=r"rows at lines 2 \(music, 0-15 s\) and 3 \(story, from 10 s\).*overlap"):
        _audio_parts_in_order(read_bids_tsv(overlap, what="events file"), overlap, [0, 1], "x_audio.wav", "hint")
    negative = touch(tmp_path / "sub-03_task-x_events.tsv", "onset\tstim_file\n-1.0\tx_audio.wav\n")
    with pytest.raises(InputError, match=r"line 2.*seconds >= 0"):
        _audio_parts_in_order(read_bids_tsv(negative, what="events file"), negative, [0], "x_audio.wav", "hint")


def test_story_segment_reads_events_as_bids(tmp_path):
    """A double quote in a field is a character, not a quoted field swallowing the next rows."""
    from brainalign.config_sections import with_defaults
    from brainalign.io.bids import story_segment

    def entry(**values) -> dict:  # a story_runs entry as the workflow's validation fills it
        return with_defaults("dataset.story_runs", {"s": values})["s"]

    events = touch(tmp_path / "sub-01_task-pair_events.tsv", "onset\tduration\ttrial_type\tnote\n"
                   "0.0\t5.0\tmusic\t\"intro\n10.0\t50.0\tstory\tfirst\n70.0\t40.0\tstory\tsecond\n")
    assert story_segment("b", entry(task="pair", onset="events", events_index=1), events) == (70.0, 40.0)
    with pytest.raises(InputError, match=r"events_index=2 but the file has 2 row\(s\) with trial_type 'story'"):
        story_segment("c", entry(task="pair", onset="events", events_index=2), events)


def test_select_runs_matches_rows_anywhere_in_the_table():
    """A pair's rows are found wherever they lie (a repetition far from its first run, a shuffled
    table): the same choice, repeats and grid order as a per-pair lookup."""
    import pandas as pd

    rows = [dict(subject=s, story=t, session=ses, run=None, path=f"{s}-{t}-{ses}")
            for ses in ("1", "2") for t in ("b", "a") for s in ("02", "01")]
    runs = pd.DataFrame(rows[:-1]).iloc[::-1]  # sub-01 a has one session only; the table reversed
    chosen = select_runs(runs, ["01", "02"], ["a", "b"], repeated="first")
    assert list(zip(chosen["subject"], chosen["story"])) == [("01", "a"), ("01", "b"), ("02", "a"), ("02", "b")]
    assert chosen["session"].tolist() == ["1", "1", "1", "1"]
    assert chosen["repeats"].tolist() == ["", "ses-2", "ses-2", "ses-2"]
    assert select_runs(runs, ["01", "02"], ["a", "b"], repeated="last")["session"].tolist() == ["1", "2", "2", "2"]
    assert select_runs(runs, ["03"], ["a"], missing="drop").empty


def test_find_runs_lists_each_folder_anew(tmp_path):
    """Sidecars are looked up in directory listings shared within one discovery only: a file added
    (or removed) between two discoveries is seen by the second; hidden files never match."""
    narratives_tree(tmp_path)
    func = tmp_path / "sub-002" / "func"
    (func / "sub-002_task-pieman_events.tsv").unlink()
    touch(func / ".sub-002_task-pieman_events.tsv")
    spec = {"modality": "fmri", "space": "MNI152NLin2009cAsym"}
    first = find_runs(tmp_path, spec).set_index(["subject", "story"])
    assert not isinstance(first.loc[("002", "pieman"), "events"], str)  # none found (NaN in the table)
    assert first.loc[("001", "pieman"), "events"].endswith("sub-001_task-pieman_events.tsv")
    touch(func / "sub-002_task-pieman_events.tsv")
    (tmp_path / "sub-001" / "func" / "sub-001_task-pieman_events.tsv").unlink()
    again = find_runs(tmp_path, spec).set_index(["subject", "story"])
    assert again.loc[("002", "pieman"), "events"] == str(func / "sub-002_task-pieman_events.tsv")
    assert not isinstance(again.loc[("001", "pieman"), "events"], str)
