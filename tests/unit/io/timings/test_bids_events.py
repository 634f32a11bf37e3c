"""BIDS events.tsv word timings: MEG-MASC dict trial types, a word column, the trial_type option
(brainalign.io.timings.bids_events)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from brainalign.errors import InputError
from brainalign.io.timings import read_timings


# --------------------------------------------------------------------------------- BIDS events
MEGMASC_EVENTS = (
    "onset\tduration\ttrial_type\tvalue\tsample\n"
    "10.0\t0.0\t{'story': 'lw1', 'story_uid': 0, 'sound_id': 0, 'kind': 'sound', 'start': 0.0, "
    "'sound': 'stimuli/audio/lw1_0.wav'}\t1\t10000\n"
    "10.1\t0.3\t{'story': 'lw1', 'story_uid': 0, 'sound_id': 0, 'kind': 'word', 'start': 0.1, "
    "'word': 'Tara', 'pronounced': 1.0, 'sequence_id': 0, 'condition': 'sentence', 'word_index': 0}\t1\t10100\n"
    "10.1\t0.1\t{'story': 'lw1', 'story_uid': 0, 'sound_id': 0, 'kind': 'phoneme', 'start': 0.1, "
    "'phoneme': 't_B', 'word_index': nan}\t1\t10100\n"
    "10.5\t0.2\t{'story': 'lw1', 'story_uid': 0, 'sound_id': 0, 'kind': 'word', 'start': 0.5, "
    "'word': \"didn't\", 'pronounced': 1.0, 'sequence_id': 0, 'condition': 'sentence', 'word_index': 1}\t1\t10500\n"
    "11.0\t0.25\t{'story': 'lw1', 'story_uid': 0, 'sound_id': 0, 'kind': 'word', 'start': 1.0, "
    "'word': 'go', 'pronounced': nan, 'sequence_id': 0, 'condition': 'sentence', 'word_index': 2}\t1\t11000\n"
)


def test_megmasc_dict_trial_type(tmp_path):
    path = tmp_path / "sub-01_ses-0_task-0_events.tsv"
    path.write_text(MEGMASC_EVENTS)
    words = read_timings(path)
    assert words["story"].unique().tolist() == ["lw1"]  # from the dicts, not the task label
    assert words["word"].tolist() == ["Tara", "didn't", "go"]
    np.testing.assert_allclose(words["onset"], [10.1, 10.5, 11.0])
    np.testing.assert_allclose(words["offset"], [10.4, 10.7, 11.25])
    # the config's story label wins when the dicts do not carry it
    assert read_timings(path, story="0")["story"].iloc[0] == "0"


def test_bids_events_word_column(tmp_path):
    path = tmp_path / "sub-01_task-lighthouse_events.tsv"
    pd.DataFrame({"onset": [0.5, 1.0, 1.4, 2.0], "duration": [0.4, "n/a", 0.5, 0.3],
                  "trial_type": ["word", "word", "word", "noise"], "word": ["The", "NA", "keeper's", ""]}) \
        .to_csv(path, sep="\t", index=False)
    words = read_timings(path, fmt="bids_events")
    assert words["story"].iloc[0] == "lighthouse"
    assert words["word"].tolist() == ["The", "NA", "keeper's"]  # "NA" is a word, not a missing value
    np.testing.assert_allclose(words["offset"], [0.9, 1.4, 1.9])  # n/a duration -> next onset
    with pytest.raises(ValueError, match="events.tsv: no 'text' column and no dict-like 'trial_type'"):
        read_timings(path, word_column="text")


# ------------------------------------------------------------------------- non-word rows, subjects
def test_bids_events_trial_type_option(tmp_path, caplog):
    path = tmp_path / "sub-01_task-tale_events.tsv"
    path.write_text("onset\tduration\ttrial_type\tword\n0.0\t3.0\tmusic\tn/a\n3.0\t0.3\tword\t\"Keep\n"
                    "3.5\t0.3\tword\tout.\n4.0\t1.0\tsilence\t<sil>\n4.5\tn/a\tWord\tNA\n")
    with caplog.at_level(logging.INFO, logger="brainalign.io.timings"):
        words = read_timings(path, trial_type=["word", "Word"])
    assert words["word"].tolist() == ['"Keep', "out.", "NA"]
    assert "2 of 5 row(s) are not words and are left out (1 with trial_type 'music', 1 with trial_type 'silence')" in caplog.text
    np.testing.assert_allclose(words["offset"], [3.3, 3.8, 5.25])  # last n/a duration: median onset step
    with pytest.raises(InputError, match="3 different trial_type values"):
        read_timings(path)
    assert read_timings(path, trial_type="word")["word"].tolist() == ['"Keep', "out."]
