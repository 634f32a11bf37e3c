"""brainalign.io.tsv: BIDS TSV as BIDS defines it (no quoting, n/a missing)."""

import numpy as np
import pandas as pd
import pytest

from brainalign.errors import InputError, MissingInputError
from brainalign.io.tsv import numeric_column, read_bids_tsv, write_bids_tsv


def test_double_quote_is_an_ordinary_character(tmp_path):
    path = tmp_path / "events.tsv"
    path.write_text('onset\tduration\tword\n0.5\t0.2\t"Keep\n1.0\t0.2\tgoing,"\n1.5\t0.2\tnow\n')
    df = read_bids_tsv(path)
    assert df["word"].tolist() == ['"Keep', 'going,"', "now"]
    # pandas' default dialect swallows rows here: the reason this reader exists
    assert len(pd.read_csv(path, sep="\t")) < 3


def test_na_and_numbers(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("onset\tword\n0.5\tn/a\nn/a\tx\n")
    df = read_bids_tsv(path)
    assert df["word"].tolist() == [None, "x"]
    assert read_bids_tsv(path, na=False)["word"].tolist() == ["n/a", "x"]
    with pytest.raises(InputError, match=r"t.tsv: column 'onset', line 3: missing value"):
        numeric_column(df, "onset", expected="seconds")
    assert np.isnan(numeric_column(df, "onset", allow_missing=True)[1])


def test_ragged_row_names_file_and_line(tmp_path):
    path = tmp_path / "channels.tsv"
    path.write_text("name\ttype\tstatus\nFz\tEEG\tgood\nCz\tEEG\n")
    with pytest.raises(InputError, match=r"channels.tsv: line 3: .*2 tab-separated field\(s\) but the header has 3"):
        read_bids_tsv(path, what="channels.tsv")


def test_empty_and_missing_and_comma_files(tmp_path):
    empty = tmp_path / "e.tsv"
    empty.write_bytes(b"")
    with pytest.raises(MissingInputError, match="e.tsv: .*empty"):
        read_bids_tsv(empty)
    with pytest.raises(MissingInputError, match="not found"):
        read_bids_tsv(tmp_path / "nope.tsv")
    comma = tmp_path / "c.tsv"
    comma.write_text("onset,duration,word\n0,1,a\n")
    with pytest.raises(InputError, match="looks ','-separated"):
        read_bids_tsv(comma)
    header_only = tmp_path / "h.tsv"
    header_only.write_text("onset\tword\n")
    assert read_bids_tsv(header_only).empty
    with pytest.raises(MissingInputError, match="no rows"):
        read_bids_tsv(header_only, allow_empty=False)


def test_required_columns(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("onset\tword\n0\ta\n")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['duration'\]"):
        read_bids_tsv(path, required=["onset", "duration"])


def test_write_round_trip_without_quoting(tmp_path):
    df = pd.DataFrame({"onset": [0.5, 1.25], "word": ['"Keep', None], "n": [1, 2]})
    path = write_bids_tsv(df, tmp_path / "out.tsv")
    assert path.read_text() == 'onset\tword\tn\n0.5\t"Keep\t1\n1.25\tn/a\t2\n'
    back = read_bids_tsv(path)
    assert back["word"].tolist() == ['"Keep', None]
    with pytest.raises(ValueError, match="tab or line break"):
        write_bids_tsv(pd.DataFrame({"word": ["a\tb"]}), tmp_path / "bad.tsv")
