"""One story's words cut out of an alignment shared by several stories (brainalign.io.timings.window)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.io.timings import cut_window


def _alignment() -> pd.DataFrame:
    """Two stories on one clock: 'a b' at 10-11 s, then 'c d e' at 30-32 s ('e' interpolated)."""
    return pd.DataFrame({"story": "both", "word_index": np.arange(5), "word": list("abcde"),
                         "onset": [10.0, 10.5, 30.0, 30.5, 31.5], "offset": [10.4, 11.0, 30.4, 31.0, 32.0],
                         "flags": ["", "", "", "", "interpolated"]})


def test_keeps_words_starting_in_the_window_in_the_storys_clock():
    words = _alignment()
    cut = cut_window(words, [29.0, None], offset=-29.0)
    assert cut["word"].tolist() == ["c", "d", "e"] and cut["word_index"].tolist() == [0, 1, 2]
    assert cut["onset"].tolist() == pytest.approx([1.0, 1.5, 2.5])
    assert cut["offset"].tolist() == pytest.approx([1.4, 2.0, 3.0])
    assert cut["flags"].tolist() == ["", "", "interpolated"]
    assert words["onset"].tolist()[2] == 30.0                     # the input is not modified
    first = cut_window(words, (0.0, 30.0))                        # stop is exclusive
    assert first["word"].tolist() == ["a", "b"] and first["onset"].tolist() == [10.0, 10.5]


@pytest.mark.parametrize("window,message", [
    ([5.0], r"w=\[5.0\]: expected \[start, stop\]"),
    ("5 10", r"w='5 10': expected \[start, stop\]"),
    (["x", 3], r"w=\['x', 3\]: start and stop must be numbers"),
    ([None, 3], r"w=\[None, 3\]: start and stop must be numbers"),
    ([20.0, 20.0], r"w=\[20, 20\] is empty: stop must be after start"),
    ([40.0, None], r"w=\[40, inf\] s is outside the alignment, whose words run from 10.000 to 32.000 s"),
    ([12.0, 29.0], r"w=\[12, 29\] s is empty: no word of the alignment"),
])
def test_bad_windows_name_the_file_and_field(window, message):
    with pytest.raises(ValueError, match=rf"align.json: {message}"):
        cut_window(_alignment(), window, source="align.json", field="w")


def test_an_offset_that_puts_a_word_before_the_story_is_an_error():
    with pytest.raises(ValueError, match=r"with the offset -31 s, 2 word\(s\) of w=\[29, inf\] start before the "
                                         r"story \(word 0 'c' at -1.000 s\)"):
        cut_window(_alignment(), [29.0, None], offset=-31.0, field="w")
    # alignment rounding within the tolerance is accepted
    assert len(cut_window(_alignment(), [29.0, None], offset=-30.0005)) == 3


def test_an_empty_alignment_is_an_error():
    with pytest.raises(ValueError, match="no words in the alignment"):
        cut_window(_alignment().iloc[:0], [0.0, 1.0], source="align.json")
