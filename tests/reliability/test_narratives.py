"""The real Narratives layout (OpenNeuro ds002345): per-run stimulus onsets, repeated runs, per-subject
conditions, music rows, subjects who heard different stories.

The release's metadata (``../shared/data/narratives-metadata``: every ``events.tsv`` and BOLD sidecar
of its 345 subjects and ``participants.tsv``) is copied into a BIDS tree with tiny placeholder images
(names are what planning reads); the timing tests preprocess small synthetic runs.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError, InputError, MissingInputError
from brainalign.io.bids import plan_runs, read_conditions, stimulus_onset, stimulus_onsets, stimulus_spec
from brainalign.preprocess.fmri import preprocess_run


from reliability_helpers import REPO, SHARED, assert_input_error  # noqa: E402

META = SHARED / "narratives-metadata"
PROFILE = REPO / "config" / "datasets" / "narratives.yaml"
SPACE = "MNI152NLin2009cAsym"
TR = 1.5

pytestmark = pytest.mark.skipif(not META.is_dir(), reason="../shared/data/narratives-metadata not present")


# ------------------------------------------------------------------------------------ builders
def _placeholder_nifti() -> bytes:
    """A valid 2x2x2x3 BOLD image (TR 1.5 s): planning reads names only, readers get a real header."""
    img = nib.Nifti1Image(np.zeros((2, 2, 2, 3), np.float32), np.eye(4))
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = TR
    buf = io.BytesIO()
    file_map = nib.Nifti1Image.make_file_map({"image": buf})
    img.to_file_map(file_map)
    return buf.getvalue()


def narratives_tree(root: Path, subjects: list[str] | None = None) -> Path:
    """The release's metadata (participants.tsv, each run's events.tsv and sidecar) as a BIDS tree,
    with a placeholder raw BOLD and fMRIPrep derivatives (volume in MNI, confounds) for every run."""
    nifti = _placeholder_nifti()
    root.mkdir(parents=True, exist_ok=True)
    for name in ("participants.tsv", "participants.json", "dataset_description.json", "README", "CHANGES"):
        shutil.copy(META / name, root / name)
    deriv = root / "derivatives" / "fmriprep"
    for sub_dir in sorted(META.glob("sub-*")):
        if subjects is not None and sub_dir.name[4:] not in subjects:
            continue
        func, dfunc = root / sub_dir.name / "func", deriv / sub_dir.name / "func"
        func.mkdir(parents=True)
        dfunc.mkdir(parents=True)
        for f in sorted((sub_dir / "func").iterdir()):
            shutil.copy(f, func / f.name)
            if f.name.endswith("_events.tsv"):
                stem = f.name[: -len("_events.tsv")]
                (func / f"{stem}_bold.nii.gz").write_bytes(nifti)
                (dfunc / f"{stem}_space-{SPACE}_desc-preproc_bold.nii.gz").write_bytes(nifti)
                (dfunc / f"{stem}_desc-confounds_timeseries.tsv").write_text("csf\twhite_matter\n0\t0\n0\t0\n0\t0\n")
    # placeholder Gentle alignments (the mirror has none): one per audio file, as the release names them
    stims = {f.name.split("_task-")[1].split("_")[0] for f in META.glob("sub-*/func/*_events.tsv")}
    for name in (stims - {"milkyway", "schema"}) | {"milkywayoriginal", "milkywayvodka", "milkywaysynonyms"}:
        g = root / "stimuli" / "gentle" / name / "align.json"
        g.parent.mkdir(parents=True, exist_ok=True)
        g.write_text('{"transcript": "I began.", "words": [{"case": "success", "start": 15.5, "end": 15.7, '
                     '"startOffset": 0, "endOffset": 1, "word": "I", "alignedWord": "i"}, {"case": "success", '
                     '"start": 15.8, "end": 16.2, "startOffset": 2, "endOffset": 7, "word": "began", '
                     '"alignedWord": "began"}]}')
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """All 345 subjects of the release."""
    return narratives_tree(tmp_path_factory.mktemp("ds002345"))


def profile_dataset(**overrides) -> dict:
    """The narratives profile's dataset block (what common.smk plans with: schema defaults filled), with overrides."""
    ds = yaml.safe_load(PROFILE.read_text())["dataset"]
    ds.update(overrides)
    return with_defaults("dataset", ds)


def plan(root: Path, ds: dict, stories: list[str]) -> pd.DataFrame:
    subjects = sorted(p.name[4:] for p in root.glob("sub-*"))
    spec = {"modality": "fmri", "space": SPACE, "derivatives_root": root / "derivatives" / "fmriprep"}
    return plan_runs(root, ds, spec=spec, subjects=subjects, stories=stories)


def events_of(root: Path, subject: str, task: str) -> Path:
    return root / f"sub-{subject}" / "func" / f"sub-{subject}_task-{task}_events.tsv"


#: Every task of the release but schema (movies and 8 stories within 4 runs), in story units:
#: versions split (milkyway, prettymouth) or pooled on purpose (orders, prior exposure).
UNITS = {
    "milkywayoriginal": {"task": "milkyway", "condition": "original", "stim_file": "{task}{condition}_audio.wav"},
    "milkywayvodka": {"task": "milkyway", "condition": "vodka", "stim_file": "{task}{condition}_audio.wav"},
    "milkywaysynonyms": {"task": "milkyway", "condition": "synonyms", "stim_file": "{task}{condition}_audio.wav"},
    "prettymouthaffair": {"task": "prettymouth", "condition": "affair"},
    "prettymouthparanoia": {"task": "prettymouth", "condition": "paranoia"},
    "merlin": {"task": "merlin", "condition": ["movie", "naive"]},
    "sherlock": {"task": "sherlock", "condition": ["movie", "naive"]},
    "notthefallintact": {"task": "notthefallintact", "condition": ["intact", "intact-shortscram", "intact-longscram"]},
    "shapesphysical": {"task": "shapesphysical", "condition": [
        "social-movie-physical", "movie-physical-social", "physical-social-movie", "movie-social-physical",
        "physical-movie-social", "social-physical-movie"]},
}
UNITS["shapessocial"] = {"task": "shapessocial", "condition": UNITS["shapesphysical"]["condition"]}
PLAIN = ["21styear", "black", "bronx", "forgot", "lucy", "notthefalllongscram", "notthefallshortscram", "pieman",
         "piemanpni", "slumlordreach", "tunnel"]


# ------------------------------------------------------------------------- stimulus onsets
def test_stimulus_onsets_of_every_run(tree):
    """All 735 story runs of the release: onsets from events.tsv; only sub-038/105's contradictory events fail."""
    ds = profile_dataset(conditions={"units": UNITS})
    runs = plan(tree, ds, PLAIN + list(UNITS))
    assert len(runs) == 735
    table = stimulus_onsets(runs, ds)
    ok = table[table["problem"] == ""]
    onsets = {task: dict(Counter(g["onset"])) for task, g in ok.groupby("task")}
    assert onsets == {
        "pieman": {0.0: 82}, "prettymouth": {0.0: 38}, "milkyway": {0.0: 51}, "21styear": {0.0: 25},
        "tunnel": {3.0: 23}, "lucy": {3.0: 16},
        "merlin": {4.5: 36}, "sherlock": {4.5: 36}, "notthefallintact": {4.5: 56}, "notthefalllongscram": {4.5: 24},
        "notthefallshortscram": {4.5: 23}, "shapesphysical": {4.5: 59}, "shapessocial": {4.5: 59},
        "slumlordreach": {4.5: 18},
        "black": {12.0: 46}, "bronx": {12.0: 47}, "forgot": {12.0: 46}, "piemanpni": {12.0: 46},
    }
    # milkyway's three versions: each subject's events play the audio of its participants.tsv condition
    mw = ok[ok["task"] == "milkyway"]
    assert (mw["stim_file"] == "milkyway" + mw["condition"] + "_audio.wav").all()
    bad = table[table["problem"] != ""]
    assert sorted(zip(bad["subject"], bad["story"])) == [("038", "milkywayvodka"), ("038", "prettymouthaffair"),
                                                         ("105", "milkywayoriginal"), ("105", "prettymouthparanoia")]
    assert bad["problem"].str.contains("overlap").all()


def test_story_starts_seconds_into_the_scan(tree):
    """tunnel and lucy start 3.0 s into the scan: onset 3.0 from the named events file, not shift 0."""
    spec = stimulus_spec(profile_dataset(), "tunnel")
    for sub, task in (("001", "tunnel"), ("022", "lucy")):
        info = stimulus_onset(events_of(tree, sub, task), spec, subject=sub, story=task)
        assert info == {"onset": 3.0, "source": "events", "events": str(events_of(tree, sub, task)), "row": 0,
                        "line": 2, "stim_file": f"{task}_audio.wav", "trial_type": "story"}
    assert "shift" not in yaml.safe_load(PROFILE.read_text())["dataset"]["timings"]  # the profile sets none


def test_music_row_plays_the_story_audio(tree):
    """pieman's music row names the story's audio: onset 0.0 (music row, line 2); trial_type story gives 15.0."""
    spec = stimulus_spec(profile_dataset(), "pieman")
    events = events_of(tree, "007", "pieman")
    info = stimulus_onset(events, spec, subject="007", story="pieman")
    assert (info["onset"], info["line"], info["trial_type"], info["stim_file"]) == (0.0, 2, "music", "pieman_audio.wav")
    story_row = stimulus_onset(events, {**spec, "trial_type": "story"}, subject="007", story="pieman")
    assert (story_row["onset"], story_row["line"]) == (15.0, 3)
    slr = stimulus_onset(events_of(tree, "016", "slumlordreach"), spec, subject="016", story="slumlordreach")
    assert (slr["onset"], slr["trial_type"]) == (4.5, "music")


def test_music_in_a_file_of_its_own(tmp_path):
    """Music in a file of its own is never the story's onset; two audio files without a pattern are an error."""
    events = tmp_path / "sub-01_task-story_events.tsv"
    events.write_text("onset\tduration\ttrial_type\tstim_file\n0.0\t10.0\tmusic\tintro_music.wav\n"
                      "12.0\t300.0\tstory\tstory_audio.wav\n")
    info = stimulus_onset(events, with_defaults("dataset.stimulus_onset", {"stim_file": "{task}_audio.wav"}),
                          subject="01", story="story")
    assert (info["onset"], info["stim_file"]) == (12.0, "story_audio.wav")
    with pytest.raises(InputError) as excinfo:
        stimulus_onset(events, with_defaults("dataset.stimulus_onset", {"stim_file": None}), subject="01", story="story")
    assert_input_error(excinfo, events, r"2 stimulus files \['intro_music.wav', 'story_audio.wav'\]",
                       r"dataset.stimulus_onset.stim_file")


def test_no_row_plays_the_story_audio(tree):
    """No row plays the story's audio (milkyway vodka): error naming file, stim_file column, expected and found."""
    events = events_of(tree, "023", "milkyway")
    with pytest.raises(InputError) as excinfo:
        stimulus_onset(events, stimulus_spec(profile_dataset(), "milkyway"), subject="023", story="milkyway")
    assert_input_error(excinfo, events, r"column 'stim_file'", r"no row plays the story's audio 'milkyway_audio.wav'",
                       r"\['milkywayvodka_audio.wav'\]", r"dataset.conditions.units")


def test_events_contradict_themselves(tree):
    """sub-038's story row inside its music row: error naming file, lines and override; the override is used."""
    events = events_of(tree, "038", "prettymouth")
    spec = stimulus_spec(profile_dataset(), "prettymouthaffair")
    with pytest.raises(InputError) as excinfo:
        stimulus_onset(events, spec, subject="038", story="prettymouthaffair", task="prettymouth")
    assert_input_error(excinfo, events, r"lines 2 \(music, 0-18 s\) and 3 \(story, from 15 s\)", r"overlap",
                       r"dataset.stimulus_onset.runs\['038/prettymouthaffair'\]")
    spec["runs"] = {"038/prettymouthaffair": 0.0}
    assert stimulus_onset(events, spec, subject="038", story="prettymouthaffair", task="prettymouth") == \
        {"onset": 0.0, "source": "override"}


def test_events_file_missing(tmp_path):
    """No events.tsv with source events: error naming the run and the setting; none / seconds need none."""
    with pytest.raises(MissingInputError) as excinfo:
        stimulus_onset(None, with_defaults("dataset.stimulus_onset", {"source": "events"}), subject="001", story="tunnel", where="sub-001 tunnel (bold.nii.gz)")
    assert_input_error(excinfo, "sub-001 tunnel", r"no events.tsv", r"dataset.stimulus_onset.source: none")
    assert stimulus_onset(None, with_defaults("dataset.stimulus_onset", {"source": "none"}), subject="001", story="tunnel") == {"onset": 0.0, "source": "none"}
    assert stimulus_onset(None, with_defaults("dataset.stimulus_onset", {"source": 2.5}), subject="001", story="tunnel") == {"onset": 2.5, "source": "config"}


def test_onset_not_a_time(tmp_path):
    """An n/a or negative audio onset: error naming the file, column and line."""
    events = tmp_path / "sub-01_task-tunnel_events.tsv"
    for value in ("n/a", "-3.0"):
        events.write_text(f"onset\tduration\ttrial_type\tstim_file\n{value}\t1534.0\tstory\ttunnel_audio.wav\n")
        with pytest.raises(InputError) as excinfo:
            stimulus_onset(events, with_defaults("dataset.stimulus_onset", {"stim_file": "{task}_audio.wav"}),
                           subject="01", story="tunnel")
        assert_input_error(excinfo, events, r"column 'onset', line 2", r"seconds >= 0")


# ------------------------------------------------------------------- the onset in preprocessing
def _run_with_onset(root: Path, onset: float, n_vol: int = 200, seed: int = 0) -> tuple[dict, pd.DataFrame]:
    """A tunnel-like run whose audio starts `onset` s into the scan: voxel 0 is the HRF response to
    per-word values at their run times (word table onset + `onset`), the others are noise."""
    from brainalign.design.fmri import hrf_operator

    rng = np.random.default_rng(seed)
    word_onsets = np.cumsum(rng.uniform(0.25, 0.6, 600))
    word_onsets = word_onsets[word_onsets < (n_vol - 8) * TR - onset]
    words = pd.DataFrame({"word": ["w"] * len(word_onsets), "onset": word_onsets, "offset": word_onsets + 0.2})
    values = rng.standard_normal(len(word_onsets))
    run_times = (np.arange(n_vol) + 0.5) * TR
    response = hrf_operator(word_onsets + onset, run_times, TR) @ values
    data = rng.standard_normal((3, 3, 2, n_vol)) * 0.2 + 100
    data[0, 0, 0] += 5 * response / response.std()
    img = nib.Nifti1Image(data.astype(np.float32), np.diag([3.0, 3.0, 3.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = TR
    func = root / "sub-001" / "func"
    func.mkdir(parents=True)
    bold = func / "sub-001_task-tunnel_bold.nii.gz"
    nib.save(img, str(bold))
    events = func / "sub-001_task-tunnel_events.tsv"
    events.write_text(f"onset\tduration\ttrial_type\tstim_file\n{onset}\t{word_onsets[-1] + 1:.1f}\tstory\t"
                      "tunnel_audio.wav\n")
    return {"bold": bold, "events": events, "task": "tunnel"}, words.assign(value=values)


def _peak_lag(data, words: pd.DataFrame) -> tuple[int, float]:
    """Lag (TRs) at which the word table's predicted response best matches voxel 0 of `data`."""
    from brainalign.design.fmri import hrf_operator

    pred = hrf_operator(words["onset"].to_numpy(), data["time"].values, TR) @ words["value"].to_numpy()
    y = data.isel(voxel=0).values
    lags = range(-4, 5)
    r = [np.corrcoef(np.roll(pred, k)[4:-4], y[4:-4])[0, 1] for k in lags]
    return list(lags)[int(np.argmax(r))], max(r)


def test_onset_aligns_recording_and_words(tmp_path):
    """Audio 3.0 s in: planted response at lag 0 with the onset applied (r > 0.9), 2 TRs late without."""
    run, words = _run_with_onset(tmp_path, 3.0)
    mask = nib.Nifti1Image(np.ones((3, 3, 2), np.int8), np.diag([3.0, 3.0, 3.0, 1.0]))
    options = with_defaults("preprocess.fmri", {"mask": mask, "strategy": {}, "standardize": True, "detrend": True})
    spec = stimulus_spec(profile_dataset(), "tunnel")
    aligned = preprocess_run(run, options=options, story="tunnel", stimulus=spec, subject="001")
    np.testing.assert_allclose(aligned["time"].values[:3], (np.arange(3) + 0.5) * TR - 3.0)
    assert aligned.attrs["stimulus_onset"] == 3.0 and aligned.attrs["time_origin"] == 3.0
    assert aligned.attrs["stimulus_events"] == str(run["events"]) and aligned.attrs["stimulus_events_line"] == 2
    assert aligned.attrs["stimulus_file"] == "tunnel_audio.wav" and aligned.attrs["stimulus_onset_source"] == "events"
    lag, r = _peak_lag(aligned, words)
    assert lag == 0 and r > 0.9, (lag, r)
    from_run_start = preprocess_run(run, options=options, story="tunnel", stimulus=with_defaults("dataset.stimulus_onset", {"source": "none"}), subject="001")
    lag, _ = _peak_lag(from_run_start, words)
    assert lag == 2, lag  # 3.0 s = 2 TRs: the misalignment the profile's `shift: 0` used to leave


def test_onset_outside_the_run(tmp_path):
    """An audio onset after the run's last volume: error naming the events file and line."""
    run, _ = _run_with_onset(tmp_path, 3.0, n_vol=40)
    run["events"].write_text("onset\tduration\ttrial_type\tstim_file\n900.0\t10.0\tstory\ttunnel_audio.wav\n")
    mask = nib.Nifti1Image(np.ones((3, 3, 2), np.int8), np.diag([3.0, 3.0, 3.0, 1.0]))
    with pytest.raises(InputError) as excinfo:
        preprocess_run(run, options=with_defaults("preprocess.fmri", {"mask": mask, "strategy": {}}), story="tunnel",
                       subject="001", stimulus=with_defaults("dataset.stimulus_onset",
                                                             {"source": "events", "stim_file": "{task}_audio.wav"}))
    assert_input_error(excinfo, run["events"], r"line 2", r"starts at 900 s, outside the run", r"volumes until 60 s")


def test_shared_run_follows_each_subjects_audio_onset(tmp_path):
    """slumlord: a subject whose audio starts 3 s later is cut and timed from its own onset."""
    story_run = profile_dataset()["story_runs"]["slumlord"]
    mask = nib.Nifti1Image(np.ones((2, 2, 2), np.int8), np.eye(4))
    spec = stimulus_spec(profile_dataset(), "slumlord")
    words = pd.DataFrame({"word": ["a"], "onset": [1.0], "offset": [850.0]})
    origins = {}
    for sub, delay in (("001", 0.0), ("002", 3.0)):
        func = tmp_path / f"sub-{sub}" / "func"
        func.mkdir(parents=True)
        img = nib.Nifti1Image(np.random.default_rng(0).standard_normal((2, 2, 2, 700)).astype(np.float32), np.eye(4))
        img.header["pixdim"][4] = TR
        nib.save(img, str(func / f"sub-{sub}_task-slumlordreach_bold.nii.gz"))
        events = func / f"sub-{sub}_task-slumlordreach_events.tsv"
        rows = pd.read_csv(events_of(META, "016", "slumlordreach"), sep="\t")
        rows["onset"] += delay
        rows.to_csv(events, sep="\t", index=False)
        run = {"bold": func / f"sub-{sub}_task-slumlordreach_bold.nii.gz", "events": events, "task": "slumlordreach"}
        out = preprocess_run(run, options=with_defaults("preprocess.fmri", {"mask": mask, "strategy": {}}), story="slumlord", story_run=story_run,
                             words=words, stimulus=spec, subject=sub)
        origins[sub] = out.attrs["time_origin"]
        assert out.attrs["stimulus_onset"] == 4.5 + delay and out.attrs["run_onset"] == 29.5 + delay
        # the first volume kept is the first stamped at or after the story's row; time counts from there
        assert -TR <= out["time"].values[0] < TR
    assert origins == {"001": 29.5, "002": 32.5}


# -------------------------------------------------------------------------- repeated runs
def test_repeated_runs_without_a_choice(tree):
    """pieman run-1/run-2 with repeated_runs error: the plan stops naming the key and both files."""
    with pytest.raises(ConfigError) as excinfo:
        plan(tree, profile_dataset(repeated_runs="error"), ["pieman"])
    assert_input_error(excinfo, "dataset.repeated_runs", r"sub-001 task-pieman has 2 runs \(\['run-1', 'run-2'\]",
                       r"sub-001_task-pieman_run-1_space-\S+_bold.nii.gz", r"first \| last \| run-<label>")


def test_repeated_runs_choice_logged(tree, caplog):
    """repeated_runs first/last/run-2 choose (logged, others in repeats); run-3 is an error."""
    with caplog.at_level(logging.WARNING):
        first = plan(tree, profile_dataset(), ["pieman"])
    assert len(first) == 82 and "14 subject/story pair(s) with repeated runs" in caplog.text
    repeated = first[first["repeats"] != ""]
    assert sorted(repeated["subject"]) == ["001", "002", "003", "004", "005", "006", "008", "010", "011", "012",
                                           "013", "014", "015", "016"]
    assert (repeated["run"] == "1").all() and (repeated["repeats"] == "run-2").all()
    assert first["path"].str.contains("run-1_").sum() == 14 and not first["path"].str.contains("run-2_").any()
    for choice in ("last", "run-2"):
        chosen = plan(tree, profile_dataset(repeated_runs=choice), ["pieman"])
        assert set(chosen[chosen["repeats"] != ""]["run"]) == {"2"}
    with pytest.raises(ConfigError) as excinfo:
        plan(tree, profile_dataset(repeated_runs="run-3"), ["pieman"])
    assert_input_error(excinfo, "dataset.repeated_runs", r"'run-3' but sub-001 task-pieman has no such run")


# ------------------------------------------------------------------------------ conditions
def test_story_heard_in_several_versions(tree):
    """milkyway or prettymouth listed as one story: ConfigError on dataset.stories with versions and counts."""
    ds = profile_dataset(conditions={})
    with pytest.raises(ConfigError) as excinfo:
        plan(tree, ds, ["pieman", "milkyway"])
    assert_input_error(excinfo, "dataset.stories", r"'milkyway' \(task-milkyway\) would pool",
                       r"original: 18 subject\(s\), synonyms: 17 subject\(s\), vodka: 18 subject\(s\)",
                       r"participants.tsv", r"dataset.conditions.units")
    with pytest.raises(ConfigError) as excinfo:
        plan(tree, ds, ["prettymouth"])
    assert_input_error(excinfo, "dataset.stories", r"affair: 20 subject\(s\), paranoia: 20 subject\(s\)")


def test_condition_units_never_mix(tree, caplog):
    """Condition units: prettymouth 20/20, milkyway 18/18/17, disjoint, each run playing its version's audio."""
    ds = profile_dataset()
    stories = ["prettymouthaffair", "prettymouthparanoia", "milkywayoriginal", "milkywayvodka", "milkywaysynonyms"]
    with caplog.at_level(logging.INFO):
        runs = plan(tree, ds, stories)
    assert runs.groupby("story").size().to_dict() == {"milkywayoriginal": 18, "milkywaysynonyms": 17,
                                                      "milkywayvodka": 18, "prettymouthaffair": 20,
                                                      "prettymouthparanoia": 20}
    for task in ("prettymouth", "milkyway"):
        units = runs[runs["task"] == task]
        assert not units["subject"].duplicated().any()  # a subject is in one version only
    assert (runs["condition"] == runs["story"].str.replace("prettymouth", "").str.replace("milkyway", "")).all()
    assert "20 subject(s) not in story unit 'prettymouthaffair'" in caplog.text
    onsets = stimulus_onsets(runs, ds)
    assert (onsets[onsets["problem"] == ""]["onset"] == 0.0).all()


def test_condition_disagrees_with_events(tmp_path):
    """participants.tsv says original, events play vodka: the unit's onset fails naming the events file."""
    root = narratives_tree(tmp_path / "ds", subjects=["023", "034"])
    table = (root / "participants.tsv").read_text().replace("prettymouth,milkyway\tn/a,affair,vodka",
                                                             "prettymouth,milkyway\tn/a,affair,original")
    assert "n/a,affair,original\t" in table
    (root / "participants.tsv").write_text(table)
    ds = profile_dataset()
    runs = plan(root, ds, ["milkywayoriginal"])
    assert sorted(runs["subject"]) == ["023", "034"]
    problems = stimulus_onsets(runs, ds).set_index("subject")["problem"]
    assert problems["034"] == ""
    assert "sub-023_task-milkyway_events.tsv" in problems["023"] and "'milkywayoriginal_audio.wav'" in problems["023"]


def test_condition_missing_for_a_subject(tmp_path):
    """A milkyway run without a condition in participants.tsv: error naming the file, subject and task."""
    root = narratives_tree(tmp_path / "ds", subjects=["023"])
    lines = (root / "participants.tsv").read_text().splitlines()
    (root / "participants.tsv").write_text("\n".join(l for l in lines if not l.startswith("sub-023")) + "\n")
    with pytest.raises(InputError) as excinfo:
        plan(root, profile_dataset(), ["milkywayvodka"])
    assert_input_error(excinfo, "participants.tsv", r"sub-023 has a run of task-milkyway", r"no condition")


def test_participants_lists_differ_in_length(tmp_path):
    """participants.tsv lists 3 tasks but 2 conditions: error naming the file and line."""
    path = tmp_path / "participants.tsv"
    path.write_text("participant_id\ttask\tcondition\nsub-001\tpieman,tunnel\tn/a,n/a\n"
                    "sub-002\tpieman,prettymouth,milkyway\tn/a,affair\n")
    with pytest.raises(InputError) as excinfo:
        read_conditions(path)
    assert_input_error(excinfo, path, r"line 3, columns 'task' and 'condition'", r"3 task\(s\).*but 2 condition")


# ------------------------------------------------------------------ subjects, stories and the grid
def test_subjects_heard_different_stories(tree, caplog):
    """Subjects heard different stories: missing_run error lists the runs, drop leaves them out (logged)."""
    missing = 2 * 345 - 82 - 23
    with pytest.raises(MissingInputError) as excinfo:
        plan(tree, profile_dataset(missing_run="error"), ["pieman", "tunnel"])
    assert_input_error(excinfo, str(tree), rf"{missing} subject/story run\(s\) not found: sub-002/task-tunnel",
                       r"a run for every subject and story", r"dataset\.missing_run: drop")
    with caplog.at_level(logging.WARNING):
        runs = plan(tree, profile_dataset(), ["pieman", "tunnel", "lucy"])
    assert runs.groupby("story").size().to_dict() == {"lucy": 16, "pieman": 82, "tunnel": 23}
    assert f"dropping {3 * 345 - 121} missing subject/story run(s)" in caplog.text


# ---------------------------------------------------------------------- the workflow's plan
def _dry_run(tmp_path: Path, bids: Path, dataset: dict, *extra: str) -> subprocess.CompletedProcess:
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True, exist_ok=True)
    (work / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"dataset": {"bids_root": str(bids),
                                                    "derivatives_root": str(bids / "derivatives" / "fmriprep"),
                                                    **dataset}}))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work), "-n",
           "--configfile", str(PROFILE), str(override), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ, HF_HUB_OFFLINE="1"))


def _jobs(text: str, rule: str) -> list[dict]:
    jobs = []
    for block in text.split("rule ")[1:]:
        if block.startswith(f"{rule}:"):
            jobs.append(dict(line.strip().split(": ", 1) for line in block.splitlines()[1:] if ": " in line))
    return jobs


def test_profile_plans_the_real_layout(tmp_path, tree):
    """Profile dry run on 345 subjects: 161 preprocessing jobs (run-1, versions split), each reading its events."""
    out = _dry_run(tmp_path, tree, {})
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
    text = out.stdout + out.stderr
    jobs = _jobs(text, "preprocess_fmri")
    per_story = Counter(re.search(r"preproc/fmri/sub-\d+/(\w+)\.zarr", j["output"]).group(1) for j in jobs)
    assert per_story == {"pieman": 82, "tunnel": 23, "lucy": 16, "prettymouthaffair": 20, "prettymouthparanoia": 20}
    assert len(_jobs(text, "words")) == 5
    for job in jobs:
        sub, story = re.search(r"sub-(\d+)/(\w+)\.zarr", job["output"]).groups()
        task = re.sub(r"(affair|paranoia)$", "", story)
        assert f"sub-{sub}_task-{task}" in job["input"] and "_events.tsv" in job["input"], job
    sub001 = next(j for j in jobs if "sub-001/pieman.zarr" in j["output"])
    assert "task-pieman_run-1_events.tsv" in sub001["input"] and "run-2" not in sub001["input"]
    # prettymouth's versions read the one alignment of the story
    words = {j["output"]: j.get("input") for j in _jobs(text, "words")}
    # (the inputs of jobs below the check_inputs checkpoint end with <TBD> until the check has run)
    inputs = [p for p in words["results/narratives/words/prettymouthaffair.tsv"].split(", ") if p != "<TBD>"]
    assert inputs == [str(tree / "stimuli" / "gentle" / "prettymouth" / "align.json")], inputs


def test_profile_stops_on_a_pooled_story(tmp_path, tree):
    """Profile dry run with plain milkyway: stops at parse time naming dataset.stories and the versions."""
    out = _dry_run(tmp_path, tree, {"stories": ["pieman", "milkyway"]})
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "config key 'dataset.stories': 'milkyway' (task-milkyway) would pool" in text, text[-3000:]
    assert "original: 18 subject(s), synonyms: 17 subject(s), vodka: 18 subject(s)" in text


def test_preprocess_job_reads_the_planned_run(tmp_path):
    """The preprocess job of a repeated subject reads run-1, re-zeroes at its onset and records both in attrs."""
    import xarray as xr

    bids = tmp_path / "ds"
    func = bids / "sub-001" / "func"
    func.mkdir(parents=True)
    shutil.copy(META / "dataset_description.json", bids / "dataset_description.json")
    (bids / "participants.tsv").write_text("participant_id\ttask\tcondition\nsub-001\tpieman\tn/a\n")
    affine = np.array([[6.0, 0, 0, -90], [0, 6, 0, -126], [0, 0, 6, -72], [0, 0, 0, 1]])
    rng = np.random.default_rng(0)
    n_vol = 40
    for run, shift in (("1", 0.0), ("2", 7.5)):
        stem = f"sub-001_task-pieman_run-{run}"
        data = rng.standard_normal((31, 37, 31, n_vol)).astype(np.float32) + 100
        img = nib.Nifti1Image(data, affine)
        img.header.set_xyzt_units("mm", "sec")
        img.header["pixdim"][4] = TR
        nib.save(img, str(func / f"{stem}_bold.nii.gz"))
        shutil.copy(META / "sub-001" / "func" / f"{stem}_bold.json", func / f"{stem}_bold.json")
        rows = (META / "sub-001" / "func" / f"{stem}_events.tsv").read_text().splitlines()
        # run-2's audio (hypothetically) starts 7.5 s later, so reading the wrong run would show
        fields = [r.split("\t") for r in rows[1:]]
        # this placeholder run lasts 60 s (40 volumes): durations are cut to end inside it, or rule
        # check_inputs (the first job) would rightly stop on events running past the recording
        cut = [min(float(f[1]), 55.0 - float(f[0]) - shift) for f in fields]
        shifted = [rows[0]] + ["\t".join([f"{float(f[0]) + shift}", f"{d:g}"] + f[2:]) for f, d in zip(fields, cut)]
        (func / f"{stem}_events.tsv").write_text("\n".join(shifted) + "\n")
        conf = {c: rng.standard_normal(n_vol) for c in ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z",
                                                        "white_matter", "csf", "cosine00")}
        pd.DataFrame(conf).to_csv(func / f"{stem}_desc-confounds_timeseries.tsv", sep="\t", index=False)
    # the story's alignment: rule check_inputs (the first job) reads every timing file
    gentle = bids / "stimuli" / "gentle" / "pieman"
    gentle.mkdir(parents=True)
    (gentle / "align.json").write_text(json.dumps({"transcript": "I was there.", "words": [
        {"word": w, "alignedWord": w.lower(), "case": "success", "start": 16.0 + i, "end": 16.5 + i,
         "startOffset": o, "endOffset": o + len(w)} for i, (w, o) in enumerate((("I", 0), ("was", 2), ("there", 6)))]}))
    target = "results/narratives/preproc/fmri/sub-001/pieman.zarr"
    out = _dry_run(tmp_path, bids, {"stories": ["pieman"], "derivatives_root": str(tmp_path / "no-fmriprep")},
                   "--forceall", target, "--cores", "1")
    assert out.returncode == 0, out.stderr[-3000:]
    real = subprocess.run([a for a in out.args if a != "-n"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert real.returncode == 0, real.stderr[-4000:]
    data = xr.open_zarr(tmp_path / "work" / target)["data"]
    assert data.attrs["run"] == "1" and data.attrs["repeats"] == "run-2"
    assert data.attrs["source_file"].endswith("sub-001_task-pieman_run-1_bold.nii.gz")
    assert data.attrs["stimulus_onset"] == 0.0 and data.attrs["stimulus_events_line"] == 2
    assert data.attrs["stimulus_events"].endswith("sub-001_task-pieman_run-1_events.tsv")
    np.testing.assert_allclose(data["time"].values[:2], [0.75, 2.25])
