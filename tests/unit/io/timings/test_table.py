"""The word table: round trip through TSV, word normalisation (brainalign.io.timings.table)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainalign.io.timings import normalize_word, read_timings, read_word_table, write_word_table


# --------------------------------------------------------------------------------- word table IO
def test_word_table_round_trip(tmp_path, gentle_doc):
    path = tmp_path / "pieman" / "align.json"
    path.parent.mkdir()
    path.write_text(json.dumps(gentle_doc))
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
