"""Praat TextGrid files, long and short text formats, UTF-16, tier errors (brainalign.io.timings.textgrid)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.io.timings import WORD_COLUMNS, parse_textgrid, read_timings


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
