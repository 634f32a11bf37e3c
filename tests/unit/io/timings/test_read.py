"""Word-timing readers: each published format, written here in its exact structure."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainalign.errors import InputError
from brainalign.io.timings import (
    WORD_COLUMNS,
    check_subject_timings,
    normalize_word,
    parse_textgrid,
    read_timings,
    read_word_table,
    validate_words,
    write_word_table,
)

# --------------------------------------------------------------------------------- TextGrid files
# Praat's long text format, as written by "Save as text file" (trailing spaces included), with a
# phone tier first, a point tier, silences, and a quote escaped Praat-style ("").
TEXTGRID_LONG = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0 
xmax = 3.5 
tiers? <exists> 
size = 3 
item []: 
    item [1]:
        class = "IntervalTier" 
        name = "phone" 
        xmin = 0 
        xmax = 3.5 
        intervals: size = 2 
        intervals [1]:
            xmin = 0 
            xmax = 1.2 
            text = "HH" 
        intervals [2]:
            xmin = 1.2 
            xmax = 3.5 
            text = "" 
    item [2]:
        class = "TextTier" 
        name = "beats" 
        xmin = 0 
        xmax = 3.5 
        points: size = 1 
        points [1]:
            number = 0.7 
            mark = "b1" 
    item [3]:
        class = "IntervalTier" 
        name = "word" 
        xmin = 0 
        xmax = 3.5 
        intervals: size = 6 
        intervals [1]:
            xmin = 0 
            xmax = 0.25 
            text = "" 
        intervals [2]:
            xmin = 0.25 
            xmax = 0.7 
            text = "Hello," 
        intervals [3]:
            xmin = 0.7 
            xmax = 1.05 
            text = "sp" 
        intervals [4]:
            xmin = 1.05 
            xmax = 1.6 
            text = "she said ""hi""" 
        intervals [5]:
            xmin = 1.6 
            xmax = 2.25 
            text = "{LG}" 
        intervals [6]:
            xmin = 2.25 
            xmax = 3.5 
            text = "World." 
'''

# The same grid in Praat's short text format ("Save as short text file").
TEXTGRID_SHORT = '''File type = "ooTextFile"
Object class = "TextGrid"

0
3.5
<exists>
3
"IntervalTier"
"phone"
0
3.5
2
0
1.2
"HH"
1.2
3.5
""
"TextTier"
"beats"
0
3.5
1
0.7
"b1"
"IntervalTier"
"word"
0
3.5
6
0
0.25
""
0.25
0.7
"Hello,"
0.7
1.05
"sp"
1.05
1.6
"she said ""hi"""
1.6
2.25
"{LG}"
2.25
3.5
"World."
'''

EXPECTED_TG = pd.DataFrame({"word": ["Hello,", 'she said "hi"', "World."],
                            "onset": [0.25, 1.05, 2.25], "offset": [0.7, 1.6, 3.5]})


@pytest.mark.parametrize("text", [TEXTGRID_LONG, TEXTGRID_SHORT], ids=["long", "short"])
def test_textgrid_long_and_short(tmp_path, text):
    path = tmp_path / "wheretheressmoke.TextGrid"
    path.write_text(text)
    words = read_timings(path)
    assert list(words.columns[:6]) == WORD_COLUMNS
    assert words["story"].unique().tolist() == ["wheretheressmoke"]
    assert words["word"].tolist() == EXPECTED_TG["word"].tolist()
    np.testing.assert_array_equal(words["onset"], EXPECTED_TG["onset"])
    np.testing.assert_array_equal(words["offset"], EXPECTED_TG["offset"])
    assert words["word_index"].tolist() == [0, 1, 2]
    assert words["norm"].tolist() == ["hello", 'she said "hi', "world"]
    shifted = read_timings(path, shift=10.0)
    np.testing.assert_allclose(shifted["onset"], EXPECTED_TG["onset"] + 10.0)
    # the phone tier chosen by name
    phones = read_timings(path, tier="PHONE")
    assert phones["word"].tolist() == ["HH"]


def test_textgrid_utf16_and_tier_errors(tmp_path):
    path = tmp_path / "s.TextGrid"
    path.write_bytes(TEXTGRID_LONG.encode("utf-16"))
    assert len(parse_textgrid(path)) == 2  # point tier skipped
    assert read_timings(path, tier="words")["word"].tolist()[0] == "Hello,"  # word/words interchangeable
    with pytest.raises(ValueError, match=r"s\.TextGrid: no interval tier named 'syllables'.*'phone', 'word'"):
        read_timings(path, tier="syllables")
    bad = tmp_path / "bad.TextGrid"
    bad.write_text("File type = \"ooTextFile\"\nObject class = \"Pitch 1\"\n")
    with pytest.raises(ValueError, match="bad.TextGrid: not a Praat TextGrid"):
        read_timings(bad)
    cut = tmp_path / "cut.TextGrid"
    cut.write_text(TEXTGRID_SHORT[: TEXTGRID_SHORT.index('"World."')])
    with pytest.raises(ValueError, match=r"cut.TextGrid: line \d+: TextGrid ends early"):
        read_timings(cut)


# ------------------------------------------------------------------------------------- Gentle
def gentle_doc() -> dict:
    """A Gentle align.json in its published structure (Narratives stimuli/gentle/<story>/align.json)."""
    transcript = 'Once upon a time, "Tara" went to twenty-one shops.\n'

    def item(word, case, start=None, end=None):
        s = transcript.index(word if word != "one" else "-one") + (1 if word == "one" else 0)
        d = {"case": case, "startOffset": s, "endOffset": s + len(word), "word": word}
        if case == "success":
            d.update(alignedWord=word.lower(), start=start, end=end,
                     phones=[{"duration": end - start, "phone": "x_S"}])
        return d

    words = [item("Once", "success", 0.5, 0.8), item("upon", "success", 0.8, 1.1),
             item("a", "success", 1.1, 1.2), item("time", "success", 1.2, 1.6),
             item("Tara", "not-found-in-audio"), item("went", "not-found-in-audio"),
             {"case": "not-found-in-transcript", "start": 2.0, "end": 2.1, "word": "uh"},
             item("to", "success", 2.2, 2.3), item("twenty", "success", 2.3, 2.6),
             item("one", "success", 2.6, 2.8), item("shops", "success", 2.8, 3.3)]
    return {"transcript": transcript, "words": words}


def test_gentle_interpolates_missing_words_and_keeps_punctuation(tmp_path):
    path = tmp_path / "pieman" / "align.json"
    path.parent.mkdir()
    path.write_text(json.dumps(gentle_doc(), indent=2))
    words = read_timings(path)
    assert words["story"].iloc[0] == "pieman"
    assert words["word"].tolist() == ["Once", "upon", "a", "time,", '"Tara"', "went", "to", "twenty-one", "shops."]
    assert words["norm"].tolist()[4] == "tara"
    # the two unaligned words share the gap 1.6 .. 2.2 equally
    np.testing.assert_allclose(words["onset"], [0.5, 0.8, 1.1, 1.2, 1.6, 1.9, 2.2, 2.3, 2.8])
    np.testing.assert_allclose(words["offset"], [0.8, 1.1, 1.2, 1.6, 1.9, 2.2, 2.3, 2.8, 3.3])
    assert words["flags"].tolist() == [""] * 4 + ["interpolated"] * 2 + [""] * 3


def test_gentle_leading_and_trailing_missing(tmp_path):
    doc = gentle_doc()
    for i in (0, 10):
        doc["words"][i] = {k: v for k, v in doc["words"][i].items() if k in ("startOffset", "endOffset", "word")}
        doc["words"][i]["case"] = "not-found-in-audio"
    path = tmp_path / "align.json"
    path.write_text(json.dumps(doc))
    words = read_timings(path, fmt="gentle", story="x")
    med = np.median([0.3, 0.1, 0.4, 0.1, 0.5])  # durations of the aligned words (twenty-one merged)
    assert words["onset"].iloc[0] == pytest.approx(0.8 - med)
    assert words["onset"].iloc[-1] == pytest.approx(2.8)
    assert words["offset"].iloc[-1] == pytest.approx(2.8 + med)
    assert words["flags"].iloc[0] == "interpolated" and words["flags"].iloc[-1] == "interpolated"


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


# ------------------------------------------------------------------------------------------ CSV
def test_csv_synonyms_and_missing_onsets(tmp_path):
    path = tmp_path / "podcast_transcript.csv"
    path.write_text("word,start,end\nSo,0.5,0.7\nwe're,0.8,1.0\nuh,,\nhere.,1.6,1.9\n")
    with pytest.raises(ValueError, match=r"podcast_transcript.csv: 1 row\(s\) without an onset \(first: row 4\)"):
        read_timings(path)
    words = read_timings(path, on_missing="interpolate", story="podcast")
    np.testing.assert_allclose(words["onset"], [0.5, 0.8, 1.0, 1.6])
    np.testing.assert_allclose(words["offset"], [0.7, 1.0, 1.6, 1.9])
    assert words["flags"].tolist() == ["", "", "interpolated", ""]
    dropped = read_timings(path, on_missing="drop")
    assert dropped["word"].tolist() == ["So", "we're", "here."] and dropped["word_index"].tolist() == [0, 1, 2]
    ms = tmp_path / "ms.csv"
    ms.write_text("token,t0,t1\nA,500,700\nB,800,900\n")
    got = read_timings(ms, columns={"onset": "t0", "offset": "t1"}, time_scale=1e-3)
    np.testing.assert_allclose(got["onset"], [0.5, 0.8])
    bad = tmp_path / "bad.csv"
    bad.write_text("word,onset,offset\nA,0.1,0.2\nB,zero,0.5\n")
    with pytest.raises(ValueError, match=r"bad.csv: column 'onset', line 3: 'zero' is not a number"):
        read_timings(bad)


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


SHARED_TRANSCRIPT = (Path(__file__).resolve().parents[4].parent / "shared" / "data" / "podcast-ecog-metadata"
                     / "stimuli" / "gpt2-xl" / "transcript.tsv")


@pytest.mark.skipif(not SHARED_TRANSCRIPT.is_file(), reason="shared Podcast ECoG transcript not available")
@pytest.mark.parametrize("mode", ["clip", "warn", "drop"])
def test_podcast_transcript_keeps_every_word(tmp_path, caplog, mode):
    """The real two-speaker Podcast transcript (Zada et al.): 5,136 words, 118 of them overlapping the
    previous word (19 starting before it); the Podcast profile's timing options lost 41 words with
    on_overlap: clip.  Every mode must keep all of them, in order."""
    import yaml

    # a pandas-written TSV (unnamed index column), read without quoting and without missing values
    tokens = pd.read_csv(SHARED_TRANSCRIPT, sep="\t", index_col=0, quoting=csv.QUOTE_NONE, keep_default_na=False,
                         dtype={"word": str})
    # the dataset's podcast_transcript.csv: one row per word (word, start, end); the token table
    # repeats a word for each of its GPT-2 tokens
    first = tokens.groupby("word_idx", sort=True).first()
    path = tmp_path / "podcast_transcript.csv"
    first[["word", "start", "end"]].to_csv(path, index=False)
    profile = yaml.safe_load((Path(__file__).resolve().parents[4] / "config" / "datasets" / "podcast_ecog.yaml")
                             .read_text())["dataset"]["timings"]
    options = {k: v for k, v in profile.items() if k not in ("path", "format", "shift", "on_overlap")}
    with caplog.at_level(logging.WARNING):
        words = read_timings(path, fmt=profile["format"], story="podcast", on_overlap=mode, **options)
    assert len(first) == 5136
    assert words["word"].tolist() == first["word"].tolist()  # 0 words lost, text order kept
    flagged = words["flags"].str.contains("clipped|non_monotonic|overlap|untimed")
    assert flagged.any() and (words["offset"].dropna() >= words["onset"].dropna()).all()
    if mode == "clip":
        assert profile["on_overlap"] == "clip"
        assert words["onset"].tolist() == first["start"].astype(float).tolist()
        assert words["flags"].str.contains("non_monotonic").sum() == 19
        assert words["flags"].str.contains("clipped").sum() == 99
    # the warning names the words affected: the first overlap is word 8 'some' over "there's"
    assert "118 word(s) overlap" in caplog.text
    assert "word 8 'some' at 6.892 s overlaps word 7 \"there's\"" in caplog.text
    assert "word 115 'Oh' at 42.375 s starts before word 114 'and'" in caplog.text


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


# --------------------------------------------------------------------------------- word table IO
def test_word_table_round_trip(tmp_path):
    path = tmp_path / "pieman" / "align.json"
    path.parent.mkdir()
    path.write_text(json.dumps(gentle_doc()))
    words = read_timings(path)
    words.loc[1, "word"] = "null"
    out = write_word_table(words, tmp_path / "words" / "pieman.tsv")
    back = read_word_table(out)
    assert back["word"].tolist() == words["word"].tolist()
    np.testing.assert_array_equal(back["onset"].to_numpy(), words["onset"].to_numpy())  # bit-exact
    assert back["flags"].tolist() == words["flags"].tolist()
    assert back["word_index"].dtype == np.int64
    assert not list(out.parent.glob(".*tmp*"))  # atomic: no temporary left
    with pytest.raises(ValueError, match="lacks column"):
        (tmp_path / "x.tsv").write_text("word\tonset\nA\t1\n")
        read_word_table(tmp_path / "x.tsv")
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        read_word_table(tmp_path / "nope.tsv")


def test_normalize_word():
    assert normalize_word("\u201cDon\u2019t,\u201d") == "don't"
    assert normalize_word("Twenty-One.") == "twenty-one"
    assert normalize_word("...") == ""


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


def test_check_subject_timings_tolerance():
    ref = pd.DataFrame({"word": ["a", "b"], "norm": ["a", "b"], "onset": [1.0, 2.0]})
    same = ref.assign(onset=[1.0004, 2.0], word=["A", "b"], norm=["a", "b"])
    check_subject_timings(ref, same, subject="02", story="s", source="x.tsv")  # within 1 ms, same norm
    later = ref.assign(onset=[1.0, 2.01])
    with pytest.raises(InputError, match=r"x.tsv: subject 02, story s: 1 word onset\(s\) differ .* word 1 \('b'\)"):
        check_subject_timings(ref, later, subject="02", story="s", source="x.tsv")
    check_subject_timings(ref, later, subject="02", story="s", source="x.tsv", onset_tolerance=None)  # words only


# --------------------------------------------------------------------------------- package layout
def test_timings_package_modules_share_only_public_names():
    """One module per format: the package re-exports every public name, and no module of it imports
    another module's private (underscore) name (shared helpers are public, in ``common``/``table``)."""
    import ast
    import importlib

    import brainalign.io.timings as timings

    for name in timings.__all__:
        assert getattr(timings, name) is not None, name
    folder = Path(timings.__file__).parent
    modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    assert {"bids_events", "textgrid", "gentle", "csv_table", "table", "validate", "compare"} <= set(modules)
    for stem in modules:
        tree = ast.parse((folder / f"{stem}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("brainalign"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{stem}.py imports private {private} from {node.module}"
        importlib.import_module(f"brainalign.io.timings.{stem}")
