"""What the timing readers share: story names from file names, decoding a timing file, logging the
rows left out, interpolating unaligned words (brainalign.io.timings.common)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from brainalign.errors import InputError, MissingInputError
from brainalign.io.timings.common import interpolate_missing, log_left_out, read_text, story_from_path


def test_story_from_bids_entity_narratives_folder_or_stem():
    assert story_from_path(Path("sub-01_ses-0_task-lw1_run-1_events.tsv")) == "lw1"
    assert story_from_path(Path("stimuli/gentle/pieman/align.json")) == "pieman"
    assert story_from_path(Path("wheretheressmoke.TextGrid")) == "wheretheressmoke"
    assert story_from_path(Path("podcast.words.csv")) == "podcast"


def test_read_text_decodes_utf16_utf8_and_latin1(tmp_path):
    (tmp_path / "a").write_bytes("xmin = 0 ü".encode("utf-16"))              # with a BOM, as Praat writes
    (tmp_path / "b").write_bytes(b"\xef\xbb\xbfword,onset\ncaf\xc3\xa9,1\n")  # UTF-8 with a BOM
    (tmp_path / "c").write_bytes(b"word,onset\ncaf\xe9,1\n")                  # Latin-1
    assert read_text(tmp_path / "a") == "xmin = 0 ü"
    assert read_text(tmp_path / "b") == "word,onset\ncafé,1\n"
    assert read_text(tmp_path / "c") == "word,onset\ncafé,1\n"


def test_read_text_missing_or_blank_names_the_file_and_the_format(tmp_path):
    with pytest.raises(MissingInputError, match=r"nope.csv: word-timing file not found"):
        read_text(tmp_path / "nope.csv")
    (tmp_path / "blank.TextGrid").write_bytes(b"  \n")
    with pytest.raises(MissingInputError, match=r"blank.TextGrid: word-timing file is empty \(3 bytes, only blanks\) "
                                                r"\(expected a Praat TextGrid"):
        read_text(tmp_path / "blank.TextGrid", "textgrid")


def test_log_left_out_counts_and_names_the_reasons(caplog):
    with caplog.at_level(logging.INFO):
        assert log_left_out(Path("e.tsv"), {"silence": 2, "phoneme": 0, "sound": 1}, 10) == 3
        assert log_left_out(Path("f.tsv"), {"silence": 0}, 10) == 0
    assert "e.tsv: 3 of 10 row(s) are not words and are left out (2 silence, 1 sound)" in caplog.text
    assert "f.tsv" not in caplog.text


def test_interpolate_shares_a_gap_and_extends_the_ends_at_the_median_duration():
    nan = np.nan
    on = np.array([nan, 1.0, nan, nan, 3.0, nan])
    off = np.array([nan, 1.5, nan, nan, 3.5, nan])
    new_on, new_off, missing = interpolate_missing(on, off, "align.json")
    assert missing.tolist() == [True, False, True, True, False, True]
    # words 2-3 share the gap 1.5-3.0 equally; the leading and trailing words take the median 0.5 s
    np.testing.assert_allclose(new_on, [0.5, 1.0, 1.5, 2.25, 3.0, 3.5])
    np.testing.assert_allclose(new_off, [1.0, 1.5, 2.25, 3.0, 3.5, 4.0])
    assert np.isnan(on[0])                                               # the inputs are not modified


def test_interpolate_squeezes_between_overlapping_neighbours_and_needs_one_timed_word():
    on, off, _ = interpolate_missing(np.array([0.0, np.nan, 0.8]), np.array([1.0, np.nan, 1.2]), "w")
    assert on[1] == off[1] == 1.0                                        # zero-length at the previous word's end
    with pytest.raises(InputError, match=r"align.json: no word has a time"):
        interpolate_missing(np.array([np.nan]), np.array([np.nan]), "align.json")
