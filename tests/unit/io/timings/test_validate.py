"""Word-timing validation: overlaps, non-monotonic onsets, words beyond the recording, NaN and reversed words
(brainalign.io.timings.validate)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from brainalign.io.timings import read_timings, read_word_table, validate_words, write_word_table


# ----------------------------------------------------------------------------------- validation
def _csv(tmp_path, rows, name="t.csv"):
    path = tmp_path / name
    pd.DataFrame(rows, columns=["word", "onset", "offset"]).to_csv(path, index=False)
    return path


def test_overlap_and_non_monotonic_handling(tmp_path, caplog):
    # b overlaps a; d starts before c started (a second speaker); e overlaps nothing
    rows = [("a", 0.0, 0.5), ("b", 0.4, 0.8), ("c", 0.9, 1.0), ("d", 0.2, 0.3), ("e", 1.1, 1.2)]
    path = _csv(tmp_path, rows)
    with pytest.raises(ValueError, match=r"t.csv: 2 word\(s\) overlap the previous word or start before it: "
                                         r"word 1 'b' at 0.400 s overlaps word 0 'a' \(0.000-0.500 s\); "
                                         r"word 3 'd' at 0.200 s starts before word 2 'c'"):
        read_timings(path)
    words = [w for w, _, _ in rows]
    on, off = [r[1] for r in rows], [r[2] for r in rows]
    # every mode keeps every word, in text order: only times and flags change
    with caplog.at_level(logging.WARNING):
        clipped = read_timings(path, on_overlap="clip")
    assert clipped["word"].tolist() == words and clipped["word_index"].tolist() == list(range(5))
    assert clipped["onset"].tolist() == on  # the backwards onset of d is kept (when it was heard)
    assert clipped["offset"].tolist() == [0.4, 0.8, 1.0, 0.3, 1.2]
    assert clipped["flags"].tolist() == ["clipped", "", "", "non_monotonic", ""]
    # the log names exactly the affected words and the old -> new times
    assert "word 1 'b' at 0.400 s overlaps word 0 'a' (0.000-0.500 s): word 0 offset 0.500 -> 0.400 s" in caplog.text
    assert "word 3 'd' at 0.200 s starts before word 2 'c' (0.900-1.000 s): onset kept" in caplog.text
    assert "'e'" not in caplog.text and "all 5 words kept" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        kept = read_timings(path, on_overlap="warn")
    assert kept["word"].tolist() == words and kept["onset"].tolist() == on and kept["offset"].tolist() == off
    assert kept["flags"].tolist() == ["", "overlap", "", "non_monotonic", ""]
    assert "t.csv" in caplog.text and "word 1 'b'" in caplog.text and "word 3 'd'" in caplog.text
    untimed = read_timings(path, on_overlap="drop")
    assert untimed["word"].tolist() == words and untimed["flags"].tolist() == ["", "untimed", "", "untimed", ""]
    np.testing.assert_array_equal(untimed["onset"], [0.0, np.nan, 0.9, np.nan, 1.1])
    mono = _csv(tmp_path, [("a", 0.0, 0.1), ("b", 0.5, 0.6), ("c", 0.3, 0.4)], "m.csv")
    with pytest.raises(ValueError, match=r"m.csv: 1 word\(s\) .* word 2 'c' at 0.300 s starts before word 1 'b'"):
        read_timings(mono)
    # touching words within the aligner's rounding are not overlaps
    assert len(read_timings(_csv(tmp_path, [("a", 0.0, 0.5004), ("b", 0.5, 0.6)], "r.csv"))) == 2


def test_overlap_chain_clips_each_previous_word_and_keeps_flags(tmp_path):
    # c starts before b (backwards) and is then overlapped by d: c keeps its onset, is flagged
    # non_monotonic and clipped; an interpolated word keeps its flag
    df = pd.DataFrame({"story": "s", "word_index": range(4), "word": list("abcd"),
                       "onset": [0.0, 1.0, 0.5, 0.8], "offset": [0.9, 1.2, 1.0, 1.1],
                       "flags": ["", "", "interpolated", ""]})
    out = validate_words(df, "x.csv", on_overlap="clip")
    assert out["onset"].tolist() == [0.0, 1.0, 0.5, 0.8]
    assert out["offset"].tolist() == [0.9, 1.2, 0.8, 1.1]
    assert out["flags"].tolist() == ["", "", "interpolated;non_monotonic;clipped", ""]
    assert (out["offset"] >= out["onset"]).all()


def test_overlap_log_is_truncated_to_a_readable_count(tmp_path, caplog):
    # 30 words each overlapping the previous one: the warning lists the first MAX_LISTED, then a count
    on = np.arange(30) * 0.1
    path = _csv(tmp_path, [(f"w{i}", o, o + 0.15) for i, o in enumerate(on)])
    with caplog.at_level(logging.WARNING):
        out = read_timings(path, on_overlap="clip")
    assert len(out) == 30 and (out["flags"].iloc[:29] == "clipped").all()
    assert "29 word(s) overlap" in caplog.text and "'w10'" in caplog.text and "'w11'" not in caplog.text
    assert "and 19 more (each flagged in the word table's flags column)" in caplog.text


def test_untimed_words_round_trip_through_the_word_table(tmp_path):
    path = _csv(tmp_path, [("a", 0.0, 0.5), ("b", 0.4, 0.8), ("c", 0.9, 1.0)])
    words = read_timings(path, on_overlap="drop")
    back = read_word_table(write_word_table(words, tmp_path / "words.tsv"))
    assert back["word"].tolist() == ["a", "b", "c"] and back["flags"].tolist() == ["", "untimed", ""]
    np.testing.assert_array_equal(back["onset"], [0.0, np.nan, 0.9])


def test_events_beyond_recording_end(tmp_path):
    path = _csv(tmp_path, [("a", 0.0, 0.5), ("b", 1.0, 2.5), ("c", 3.0, 3.2)])
    with pytest.raises(ValueError, match=r"t.csv: 1 word\(s\) start at or after the end of the recording \(2.000 s\), "
                                         r"first word 2 \('c'\) at 3.000 s"):
        read_timings(path, duration=2.0)
    words = read_timings(path, duration=2.0, on_beyond_end="drop")
    assert words["word"].tolist() == ["a", "b"]
    assert words["offset"].tolist() == [0.5, 2.0] and words["flags"].tolist() == ["", "truncated"]
    assert len(read_timings(path, duration=2.0, on_beyond_end="warn")) == 3
    with pytest.raises(ValueError, match="on_beyond_end='ignore'"):
        read_timings(path, on_beyond_end="ignore")


def test_validate_rejects_nan_and_reversed(tmp_path):
    df = pd.DataFrame({"story": "s", "word_index": [0, 1], "word": ["a", "b"], "onset": [0.0, 1.0],
                       "offset": [0.5, 0.9], "flags": ""})
    with pytest.raises(ValueError, match=r"src.tsv: word 1 \('b'\) ends before it starts"):
        validate_words(df, "src.tsv")
    df.loc[1, "onset"] = np.nan
    with pytest.raises(ValueError, match=r"src.tsv: word 1 \('b'\) has no onset"):
        validate_words(df, "src.tsv")
