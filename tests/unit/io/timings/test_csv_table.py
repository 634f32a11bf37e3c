"""CSV/TSV word tables: column synonyms and missing onsets (brainalign.io.timings.csv_table)."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.io.timings import read_timings


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
