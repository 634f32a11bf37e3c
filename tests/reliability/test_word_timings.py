"""Reliability: word timings (BIDS events, TextGrid, Gentle, CSV), non-word rows, onsets outside the
recording, subjects with other word lists, and damaged timing files.

Each test builds its damaged or unusual input, runs the library call (or the `words` rule) and
asserts either an :class:`~brainalign.errors.InputError` naming the file and what was expected, or
a documented, logged handling recorded in the output.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from brainalign.demo import generate_demo, load_stories, story_words
from brainalign.encoding import encode_dataset
from brainalign.errors import InputError, MissingInputError
from brainalign.io.timings import check_subject_timings, read_timings, read_word_table, write_word_table
from brainalign.io.tsv import write_bids_tsv
from brainalign.preprocess.common import read_region_table
from brainalign.encoding.settings import design_settings, solver_settings

from reliability_helpers import REPO, assert_input_error

HEADER = "onset\tduration\ttrial_type\tword\n"


def _events(tmp_path: Path, body: str, name: str = "sub-01_task-tale_events.tsv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


# ------------------------------------------------------------------------------- quotes (BIDS TSV)
def test_quote_in_bids_events_word(tmp_path):
    """A word `"Keep` in events.tsv (no BIDS quoting): every row is a word, text kept verbatim."""
    rows = [(1.0 + i, 0.5, "word", w) for i, w in enumerate(['"Keep', "off", 'the', 'rocks."', '"Well,"', "he", "said."])]
    path = _events(tmp_path, "".join(f"{a}\t{b}\t{c}\t{d}\n" for a, b, c, d in rows))
    words = read_timings(path, fmt="bids_events")
    assert words["word"].tolist() == [r[3] for r in rows]
    assert not any("\n" in w for w in words["word"])


def test_demo_story_quotes_give_every_word(tmp_path):
    """The demo's own lighthouse story ('"Keep' ...): its func and EEG events give exactly its 1,000 words."""
    table = story_words(load_stories(["lighthouse"])["lighthouse"], "lighthouse").iloc[:1000].reset_index(drop=True)
    assert table["word"].str.contains('"').sum() > 10  # the case that broke: words with double quotes
    rng = np.random.default_rng(0)
    feats = {"lighthouse": xr.Dataset(
        {"hidden": (("word", "layer", "feature"), rng.standard_normal((1000, 3, 8)).astype(np.float32))},
        coords={"word": np.arange(1000), "layer": np.arange(3), "onset": ("word", table["onset"].to_numpy()),
                "text": ("word", table["word"].to_numpy())})}
    params = {"n_subjects": 1, "n_latents": 2, "n_pcs": 2, "fmri": {"n_parcels": 10}, "eeg": {"n_groups": 4},
              "regions": [{"name": "a", "relative_depth": 0.5, "fmri_seed": [0, 0, 0], "eeg_seed": "Cz"}]}
    root = tmp_path / "bids"
    generate_demo(root, feats, {"lighthouse": table}, params, seed=0)
    for datatype in ("func", "eeg"):
        words = read_timings(root / "sub-01" / datatype / "sub-01_task-lighthouse_events.tsv", fmt="bids_events")
        assert len(words) == 1000, datatype
        assert words["word"].tolist() == table["word"].tolist(), datatype
        np.testing.assert_allclose(words["onset"], table["onset"], atol=2e-3)  # EEG: sample-rounded
    # the fMRI events are written without quoting, as mne-bids writes the EEG's
    assert '\t"Keep\n' in (root / "sub-01" / "func" / "sub-01_task-lighthouse_events.tsv").read_text()


def test_word_table_round_trips_quotes(tmp_path):
    """Words with quotes, 'n/a', 'NA', 'null' in our own word table: written and read back exactly."""
    words = ['"Keep', 'rocks."', '"""', "n/a", "NA", "null", "'tis", 'say "hi"']
    df = pd.DataFrame({"story": "s", "word_index": range(len(words)), "word": words,
                       "onset": np.arange(len(words)) * 0.1 + 1 / 3, "offset": np.arange(len(words)) * 0.1 + 0.4,
                       "flags": ["", "interpolated"] + [""] * (len(words) - 2)})
    path = write_word_table(df, tmp_path / "s.tsv")
    back = read_word_table(path)
    assert back["word"].tolist() == words
    np.testing.assert_array_equal(back["onset"].to_numpy(), df["onset"].to_numpy())
    assert back["flags"].tolist() == df["flags"].tolist()
    assert path.read_text().splitlines()[1].split("\t")[2] == '"Keep'  # no quoting in the file


def test_quote_in_channel_group_table(tmp_path):
    """A region table (.tsv) with a quote in a name: read as BIDS, no row swallowed."""
    path = tmp_path / "montage_channelgroups.tsv"
    path.write_text('channel\tgroup\nFp1\t"front\nFz\tmid\nCz\tmid"\nPz\tback\n')
    assert read_region_table(path) == {"Fp1": '"front', "Fz": "mid", "Cz": 'mid"', "Pz": "back"}


# ---------------------------------------------------------------------------------- non-word rows
def test_na_word_rows_left_out_and_counted(tmp_path, caplog):
    """BIDS n/a word rows (music, a sentence marker): left out with a logged count; never a word."""
    path = _events(tmp_path, "0.0\t30.0\tmusic\tn/a\n0.5\t0.3\tword\tThe\n1.0\tn/a\tsentence\tn/a\n"
                             "1.2\t0.3\tword\tcat\n")
    with caplog.at_level(logging.INFO, logger="brainalign.io.timings"):
        words = read_timings(path, fmt="bids_events")
    assert words["word"].tolist() == ["The", "cat"]
    assert "2 of 4 row(s) are not words" in caplog.text and "2 with no word (n/a or empty)" in caplog.text
    # The old hint ("set on_overlap to 'warn'") kept the 30 s n/a row as a word; it cannot now.
    assert "n/a" not in read_timings(path, fmt="bids_events", on_overlap="warn")["word"].tolist()


def test_music_rows_with_labels_need_trial_type(tmp_path, caplog):
    """Music/silence rows that carry a label: an error listing the trial_types; trial_type=[word] leaves them out."""
    path = _events(tmp_path, "0.0\t2.0\tmusic\t[music]\n2.5\t0.3\tword\tThe\n3.0\t0.3\tword\tcat\n"
                             "3.5\t1.0\tsilence\t<sil>\n")
    with pytest.raises(InputError) as exc:
        read_timings(path, fmt="bids_events")
    assert_input_error(exc, path, r"3 different trial_type values: 'music' \(1 rows\), 'word' \(2 rows\)",
                       r"dataset\.timings\.trial_type")
    with caplog.at_level(logging.INFO, logger="brainalign.io.timings"):
        words = read_timings(path, fmt="bids_events", trial_type=["word"])
    assert words["word"].tolist() == ["The", "cat"]
    assert "2 of 4 row(s) are not words" in caplog.text and "trial_type 'music'" in caplog.text


def test_word_row_without_word(tmp_path):
    """A row of a word trial_type whose word is n/a: an error naming the file, column and line."""
    path = _events(tmp_path, "0.5\t0.3\tword\tThe\n1.0\t0.3\tword\tn/a\n")
    with pytest.raises(InputError) as exc:
        read_timings(path, fmt="bids_events", trial_type="word")
    assert_input_error(exc, path, r"column 'word', line 3", "has no word")


def test_trial_type_column_missing(tmp_path):
    """dataset.timings.trial_type set but the events file has no trial_type column: an error."""
    path = tmp_path / "sub-01_task-tale_events.tsv"
    path.write_text("onset\tduration\tword\n0.5\t0.3\tThe\n")
    with pytest.raises(InputError) as exc:
        read_timings(path, fmt="bids_events", trial_type="word")
    assert_input_error(exc, path, "no 'trial_type' column")


# ----------------------------------------------------------------- onsets outside the recording
TR = 2.0
SFREQ = 50.0


def _features(n_words: int = 60, shift: float = 0.0) -> dict[str, xr.Dataset]:
    rng = np.random.default_rng(0)
    out = {}
    for story in ("s1", "s2"):
        onset = 4.0 + np.arange(n_words) * 0.5 + shift
        out[story] = xr.Dataset(
            {"hidden": (("word", "layer", "feature"), rng.standard_normal((n_words, 2, 4)).astype(np.float32))},
            coords={"word": np.arange(n_words), "layer": [0, 1], "relative_depth": ("layer", [0.0, 1.0]),
                    "onset": ("word", onset), "text": ("word", [f"w{i}" for i in range(n_words)])})
    return out


def _fmri(duration: float, drop: int = 3) -> dict[str, dict[str, xr.DataArray]]:
    rng = np.random.default_rng(1)
    n = int(duration / TR)
    times = (np.arange(drop, n) + 0.5) * TR
    return {"01": {s: xr.DataArray(rng.standard_normal((times.size, 5)).astype(np.float32), dims=("time", "voxel"),
                                   coords={"time": times},
                                   attrs={"tr": TR, "drop_initial_trs": drop, "time_reference": 0.5,
                                          "source_file": f"bids/sub-01/func/sub-01_task-{s}_bold.nii.gz"})
                   for s in ("s1", "s2")}}


def _eeg(duration: float) -> dict[str, dict[str, xr.DataArray]]:
    rng = np.random.default_rng(2)
    n = int(duration * SFREQ)
    return {"01": {s: xr.DataArray(rng.standard_normal((n, 3)).astype(np.float32), dims=("time", "channel"),
                                   coords={"time": np.arange(n) / SFREQ, "channel": ["Fz", "Cz", "Pz"]},
                                   attrs={"sfreq": SFREQ, "source_file": f"bids/sub-01/eeg/sub-01_task-{s}_eeg.vhdr"})
                   for s in ("s1", "s2")}}


ENC = solver_settings(alphas=[1.0, 100.0], inner_folds=2, ceiling="none")
SOURCES = {"s1": "results/x/words/s1.tsv", "s2": "results/x/words/s2.tsv"}


@pytest.mark.parametrize("modality", ["fmri", "eeg"])
def test_onsets_shifted_beyond_recording(modality):
    """Every word onset shifted by +300 s: an InputError with the count, word file, recording, subject, story, first word."""
    feats = _features(shift=300.0)
    recs = _fmri(80.0) if modality == "fmri" else _eeg(40.0)
    design = design_settings("fmri", method="fir", delays=[1, 2]) if modality == "fmri" else design_settings("eeg", tmin=0.0, tmax=0.4)
    with pytest.raises(InputError) as exc:
        encode_dataset(feats, recs, modality=modality, design=design, encoding=ENC, word_sources=SOURCES)
    assert_input_error(exc, "results/x/words/s1.tsv", r"subject 01, story s1: 60 of 60 word onsets lie outside the "
                       r"recording", r"sub-01_task-s1_", r"first: word 0 \('w0'\) at 304\.000 s",
                       r"dataset\.timings\.on_beyond_end: drop")


def test_onsets_before_recording_start():
    """Onsets shifted by -300 s (before the recording starts): an InputError, as for late onsets."""
    with pytest.raises(InputError) as exc:
        encode_dataset(_features(shift=-300.0), _eeg(40.0), modality="eeg", design=design_settings("eeg", tmin=0.0, tmax=0.4),
                       encoding=ENC, word_sources=SOURCES)
    assert_input_error(exc, "s1.tsv", "60 of 60 word onsets lie outside", r"at -296\.000 s")


def test_truncated_recording_words_dropped_when_configured(caplog):
    """A recording that ends mid-story with on_beyond_end=drop: those words left out, logged, counted in the scores' attrs."""
    feats = _features()  # words at 4.0 .. 33.5 s
    recs = _fmri(80.0)
    recs["01"]["s1"] = recs["01"]["s1"].isel(time=slice(0, 9))  # volumes 3..11: the recording ends at 24 s
    with pytest.raises(InputError) as exc:
        encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri", method="fir", delays=[1, 2]), encoding=ENC,
                       word_sources=SOURCES)
    assert_input_error(exc, "s1.tsv", r"20 of 60 word onsets lie outside the recording \(0\.000 to 24\.000 s",
                       r"first: word 40 \('w40'\) at 24\.000 s")
    with caplog.at_level(logging.WARNING, logger="brainalign.encoding.pipeline"), \
            pytest.warns(UserWarning, match="no finite onset"):
        scores = encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri", method="fir", delays=[1, 2]),
                                encoding=ENC, word_sources=SOURCES, on_beyond_end="drop")
    assert json.loads(scores.attrs["words_outside_recording"]) == {"01": {"s1": 20}}
    assert scores.attrs["on_beyond_end"] == "drop"
    assert "20 of 60 word onsets lie outside" in caplog.text and "left out of the design" in caplog.text
    assert np.isfinite(scores["r"].values).all()


def test_lag_window_past_end_is_not_outside():
    """Onsets inside the recording whose lag window / FIR delays run past its end: no error (the design handles them)."""
    feats = _features()  # last onset 33.5 s
    eeg = _eeg(33.8)     # ends 0.3 s after the last onset; the 0.8 s window runs past it
    with pytest.warns(UserWarning, match="window"):
        scores = encode_dataset(feats, eeg, modality="eeg", design=design_settings("eeg", tmin=0.0, tmax=0.8), encoding=ENC)
    assert "words_outside_recording" not in scores.attrs
    fmri = _fmri(36.0)   # volumes end at 36 s: FIR delays of the last words run past it
    scores = encode_dataset(feats, fmri, modality="fmri", design=design_settings("fmri", method="fir", delays=[1, 2, 3, 4]), encoding=ENC)
    assert "words_outside_recording" not in scores.attrs


# --------------------------------------------------------------- subjects with another word list
def test_subject_events_with_other_words(tmp_path):
    """A subject's own events list another word: an error naming that file, the word index and both words."""
    ref = _events(tmp_path, "0.5\t0.3\tword\tThe\n1.0\t0.3\tword\tcat\n1.5\t0.3\tword\tsat.\n",
                  "sub-01_task-tale_events.tsv")
    other = _events(tmp_path, "0.5\t0.3\tword\tThe\n1.0\t0.3\tword\tdog\n1.5\t0.3\tword\tsat.\n",
                    "sub-02_task-tale_events.tsv")
    with pytest.raises(InputError) as exc:
        check_subject_timings(read_timings(ref), read_timings(other), subject="02", story="tale", source=other)
    assert_input_error(exc, "sub-02_task-tale_events.tsv", r"first difference at word 1: story 'cat', subject 'dog'")


def test_subject_events_with_other_onsets(tmp_path):
    """Same words, onsets 2 s later, without per_subject: an error naming the file and the option."""
    ref = _events(tmp_path, "0.5\t0.3\tword\tThe\n1.0\t0.3\tword\tcat\n", "sub-01_task-tale_events.tsv")
    other = _events(tmp_path, "2.5\t0.3\tword\tThe\n3.0\t0.3\tword\tcat\n", "sub-02_task-tale_events.tsv")
    with pytest.raises(InputError) as exc:
        check_subject_timings(read_timings(ref), read_timings(other), subject="02", story="tale", source=other,
                              reference=ref)
    assert_input_error(exc, "sub-02_task-tale_events.tsv", r"2 word onset\(s\) differ", r"per_subject: true")


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                           str(workdir), "--cores", "1", *args], capture_output=True, text=True, timeout=300, env=env)


def test_words_rule_compares_every_subject(tmp_path):
    """Rule words with a {subject} events path: each subject's file is an input; an edit to one reruns
    the job, which fails naming that file and the first differing word."""
    root = tmp_path / "bids"
    body = "0.5\t0.3\tword\tThe\n1.0\t0.3\tword\tcat\n1.5\t0.3\tword\tsat.\n"
    for sub in ("01", "02"):
        func = root / f"sub-{sub}" / "func"
        func.mkdir(parents=True)
        # a tiny real run: rule check_inputs (the first job) reads every run's header
        img = nib.Nifti1Image(np.zeros((2, 2, 2, 10), np.float32), np.eye(4))
        img.header.set_xyzt_units("mm", "sec")
        img.header["pixdim"][4] = 1.0
        nib.save(img, func / f"sub-{sub}_task-tale_bold.nii.gz")
        (func / f"sub-{sub}_task-tale_bold.json").write_text('{"RepetitionTime": 1.0}')
        (func / f"sub-{sub}_task-tale_events.tsv").write_text(HEADER + body)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    (tmp_path / "bids.yaml").write_text(yaml.safe_dump({"dataset": {
        "name": "tale", "kind": "bids", "bids_root": str(root), "modalities": ["fmri"], "stories": ["tale"],
        "timings": {"format": "bids_events", "path": "{root}/sub-{subject}/func/sub-{subject}_task-{story}_events.tsv"},
        # word events only (no stim_file row): the runs start with the story
        "stimulus_onset": {"source": "none"}},
        # no fMRIPrep confounds in this tree
        "preprocess": {"fmri": {"strategy": {}}}}))
    target = "results/tale/words/tale.tsv"
    out = _snakemake(tmp_path, target, "--configfile", str(tmp_path / "bids.yaml"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert read_word_table(tmp_path / target)["word"].tolist() == ["The", "cat", "sat."]
    # sub-02's file is an input: after an edit the job reruns and fails on it
    other = root / "sub-02" / "func" / "sub-02_task-tale_events.tsv"
    other.write_text(HEADER + body.replace("cat", "dog"))
    out = _snakemake(tmp_path, target, "--configfile", str(tmp_path / "bids.yaml"))
    assert out.returncode != 0
    log = out.stderr + out.stdout + (tmp_path / "results/tale/logs/words/tale.log").read_text()
    assert str(other) in log and "first difference at word 1: story 'cat', subject 'dog'" in log


# -------------------------------------------------------------------------- damaged: BIDS events
def test_empty_events_file(tmp_path):
    """A 0-byte events.tsv: a MissingInputError naming the file and what a events file holds."""
    path = tmp_path / "sub-01_task-tale_events.tsv"
    path.write_bytes(b"")
    with pytest.raises(MissingInputError) as exc:
        read_timings(path, fmt="bids_events")
    assert_input_error(exc, path, r"empty \(0 bytes\)", "onset")


def test_events_without_onset_column(tmp_path):
    """An events.tsv whose header lacks 'onset': an error naming the file and the columns it has."""
    path = tmp_path / "sub-01_task-tale_events.tsv"
    path.write_text("start\tduration\tword\n0.5\t0.3\tThe\n")
    with pytest.raises(InputError) as exc:
        read_timings(path, fmt="bids_events")
    assert_input_error(exc, path, r"lacks column\(s\) \['onset'\]", "start")


def test_events_without_word_column(tmp_path):
    """An events.tsv with neither a word column nor MEG-MASC dicts: an error naming word_column."""
    path = tmp_path / "sub-01_task-tale_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n0.5\t0.3\tword\n")
    with pytest.raises(InputError) as exc:
        read_timings(path, fmt="bids_events")
    assert_input_error(exc, path, "no 'word' column", r"dataset\.timings\.word_column")


def test_events_non_numeric_onset(tmp_path):
    """An onset '1,5' (decimal comma): an error naming the file, column and line."""
    path = _events(tmp_path, "0.5\t0.3\tword\tThe\n1,5\t0.3\tword\tcat\n")
    with pytest.raises(InputError) as exc:
        read_timings(path, fmt="bids_events")
    assert_input_error(exc, path, r"column 'onset', line 3: '1,5' is not a number", "seconds")


def test_events_ragged_row(tmp_path):
    """A row with an extra tab (a word holding a tab): an error naming the line, not a shifted table."""
    path = _events(tmp_path, "0.5\t0.3\tword\tThe\n1.0\t0.3\tword\tcat\textra\n")
    with pytest.raises(InputError) as exc:
        read_timings(path, fmt="bids_events")
    assert_input_error(exc, path, r"line 3", r"5 tab-separated field\(s\) but the header has 4")


def test_megmasc_malformed_dict(tmp_path):
    """MEG-MASC trial_type dict cut short: an error naming the file, column and line."""
    path = tmp_path / "sub-01_task-0_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n1.0\t0.3\t{'kind': 'word', 'word': 'Tara'}\n"
                    "2.0\t0.3\t{'kind': 'word', 'word': 'went\n")
    with pytest.raises(InputError) as exc:
        read_timings(path, fmt="bids_events")
    assert_input_error(exc, path, r"column 'trial_type', line 3", "not a dict literal")


# ---------------------------------------------------------------------------- damaged: TextGrid
TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2
tiers? <exists>
size = 1
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 2
        intervals: size = 2
        intervals [1]:
            xmin = 0
            xmax = 1
            text = "Hello"
        intervals [2]:
            xmin = 1
            xmax = 2
            text = "world"
'''


def _write(tmp_path: Path, text: str, name: str = "ok.TextGrid") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_empty_textgrid(tmp_path):
    """A 0-byte TextGrid: a MissingInputError naming the file and the expected format."""
    path = tmp_path / "tale.TextGrid"
    path.write_bytes(b"")
    with pytest.raises(MissingInputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"empty \(0 bytes\)", "Praat TextGrid")


def test_textgrid_decimal_comma(tmp_path):
    """A TextGrid value 'xmax = 1,5' (decimal comma): an error naming the line, not a shifted parse."""
    path = tmp_path / "tale.TextGrid"
    path.write_text(TEXTGRID.replace("            xmax = 1\n", "            xmax = 1,5\n"))
    assert read_timings(_write(tmp_path, TEXTGRID))["word"].tolist() == ["Hello", "world"]  # the intact grid
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"line 17: malformed TextGrid: xmax = '1,5' is not a number")


def test_textgrid_truncated(tmp_path):
    """A TextGrid cut in the middle of an interval: 'ends early' naming the file."""
    path = _write(tmp_path, TEXTGRID[: TEXTGRID.index('text = "world"')], "cut.TextGrid")
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, "TextGrid ends early while reading interval text")


def test_textgrid_unquoted_label(tmp_path):
    """A label written without quotes (text = world): an error naming the line."""
    path = _write(tmp_path, TEXTGRID.replace('text = "world"', "text = world"), "bad.TextGrid")
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"line 22: malformed TextGrid: text = 'world' is not a quoted string")


def test_textgrid_missing_tier(tmp_path):
    """No tier of the configured name: an error listing the tiers and naming dataset.timings.tier."""
    path = _write(tmp_path, TEXTGRID.replace('name = "words"', 'name = "phones"'))
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"no interval tier named 'words'; tiers present: \['phones'\]", r"dataset\.timings\.tier")


# ------------------------------------------------------------------------------ damaged: Gentle
def test_gentle_malformed_json(tmp_path):
    """A Gentle align.json cut short: an error naming the file, line and column."""
    path = tmp_path / "tale" / "align.json"
    path.parent.mkdir()
    path.write_text('{"transcript": "Hello world",\n "words": [{"word": "Hello", "case": "success",')
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"line 2, column \d+: not valid JSON", "Gentle align.json")


def test_gentle_empty(tmp_path):
    """A 0-byte align.json: a MissingInputError naming the file."""
    path = tmp_path / "align.json"
    path.write_bytes(b"")
    with pytest.raises(MissingInputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"empty \(0 bytes\)")


def test_gentle_not_an_alignment(tmp_path):
    """A JSON list (or an object without 'words'): an error saying what a Gentle alignment holds."""
    path = tmp_path / "align.json"
    path.write_text('[{"word": "Hello"}]')
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, "not a Gentle alignment: a JSON list", "'words'")


def test_gentle_non_numeric_time(tmp_path):
    """A word with start "1.2s": an error naming words[i].start."""
    path = tmp_path / "align.json"
    path.write_text(json.dumps({"transcript": "Hello world", "words": [
        {"word": "Hello", "case": "success", "start": 0.1, "end": 0.5, "startOffset": 0, "endOffset": 5},
        {"word": "world", "case": "success", "start": "1.2s", "end": 1.5, "startOffset": 6, "endOffset": 11}]}))
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"words\[1\]\.start: start='1\.2s' is not a number")


# --------------------------------------------------------------------------------- damaged: CSV
def test_csv_semicolon_separated(tmp_path):
    """A transcript saved with ';' separators: an error saying it looks ';'-separated."""
    path = tmp_path / "transcript.csv"
    path.write_text("word;onset;offset\nHello;0,1;0,5\nworld;0,6;0,9\n")
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"line 1: the header line has no ',' but ';'", "comma-separated")


def test_csv_empty(tmp_path):
    """A 0-byte CSV transcript: a MissingInputError naming the file."""
    path = tmp_path / "transcript.csv"
    path.write_bytes(b"")
    with pytest.raises(MissingInputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"empty \(0 bytes\)", "word column")


def test_csv_without_onset_column(tmp_path):
    """A CSV without an onset column (or synonym): an error listing its columns and naming dataset.timings.columns."""
    path = tmp_path / "transcript.csv"
    path.write_text("token,when\nHello,0.1\n")
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"no onset column", r"\['token', 'when'\]", r"dataset\.timings\.columns")


def test_csv_unbalanced_quote(tmp_path):
    """A CSV word '"Keep' (an unbalanced quote) would swallow rows: an error naming the column and row."""
    path = tmp_path / "transcript.csv"
    path.write_text('word,onset,offset\nHello,0.1,0.5\n"Keep,0.6,0.9\noff,1.0,1.2\nthe,1.3,1.4\n"rocks,1.5,1.8\n')
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, "spans several lines", "unbalanced double quote")


def test_csv_non_numeric_onset(tmp_path):
    """An onset 'abc' in a CSV: an error naming the file, column and line."""
    path = tmp_path / "transcript.csv"
    path.write_text("word,start,end\nHello,0.1,0.5\nworld,abc,0.9\n")
    with pytest.raises(InputError) as exc:
        read_timings(path)
    assert_input_error(exc, path, r"column 'start', line 3: 'abc' is not a number")


def test_word_table_damaged(tmp_path):
    """A word table edited by hand (an onset 'x'): an error naming the file, column and line."""
    df = pd.DataFrame({"story": "s", "word_index": [0, 1], "word": ["a", "b"], "onset": ["0.1", "x"],
                       "offset": ["0.2", "0.3"], "flags": ["", ""]})
    path = write_bids_tsv(df, tmp_path / "s.tsv")
    with pytest.raises(InputError) as exc:
        read_word_table(path)
    assert_input_error(exc, path, r"column 'onset', line 3: 'x' is not a number")
