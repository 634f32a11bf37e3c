"""Reliability: damaged or unusual BrainBench test-set CSVs (issue 13, "A published BrainBench file stops the whole run").

Every damaged file is a copy of the shared GPT-4-written test set (``../shared/data/brainbench``)
written into ``tmp_path``.  Rows with irregular markup (as two rows of the public human-written set
have) are scored from their two abstract columns, flagged and left out of the isolated-sentence
condition only; files or rows that cannot be scored stop with a :class:`BrainBenchFormatError`
naming the file, the row or column and what was expected.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from brainalign.brainbench.evaluate import evaluate_model
from brainalign.brainbench.parsing import BrainBenchFormatError, read_testset
from brainalign.brainbench.testing import save_tiny_model, tiny_gpt2, tiny_tokenizer
from brainalign.errors import MissingInputError

from reliability_helpers import REPO, SHARED, assert_input_error

GPT4 = SHARED / "brainbench" / "BrainBench_GPT-4_v0.1.csv"
pytestmark = pytest.mark.skipif(not GPT4.is_file(), reason="shared BrainBench CSV not available")

# The two kinds of irregular markup of the public human-written set, planted in two rows of the
# GPT-4 set: a span closed by a single bracket, and options split by a bare comma between digits.
SINGLE_BRACKET_ROW, BARE_COMMA_ROW = 3, 5   # 1-based data rows


def _original() -> pd.DataFrame:
    return pd.read_csv(GPT4, dtype=str, keep_default_na=False)


def _damage_markup(df: pd.DataFrame) -> pd.DataFrame:
    """Row 3: the first span loses one closing bracket; row 5: its first span becomes [[2.5,5]]."""
    df = df.copy()
    i = SINGLE_BRACKET_ROW - 1
    combined = df.at[i, "combined_abstract"]
    close = combined.index("]]")
    df.at[i, "combined_abstract"] = combined[:close] + "]" + combined[close + 2:]
    i = BARE_COMMA_ROW - 1
    combined = df.at[i, "combined_abstract"]
    start, end = combined.index("[["), combined.index("]]") + 2
    df.at[i, "combined_abstract"] = combined[:start] + "[[2.5,5]]" + combined[end:]
    # The columns keep their texts (as the reference parser wrote them): only the markup is damaged.
    return df


def _write(df: pd.DataFrame, path, **kwargs) -> str:
    df.to_csv(path, index=False, **kwargs)
    return str(path)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    path = tmp_path_factory.mktemp("bb") / "damaged.csv"
    return _write(_damage_markup(_original()), path)


@pytest.fixture(scope="module")
def tiny():
    texts = list(_original()["original_abstract"][:20])
    tok = tiny_tokenizer(texts)
    return tiny_gpt2(len(tok), n_positions=4096), tok


def test_irregular_markup_rows_are_flagged_not_fatal(damaged, caplog):
    """A span closed by one bracket and a bare-comma span -> all 100 rows kept, the 2 flagged and logged."""
    with caplog.at_level(logging.WARNING):
        cases = read_testset(damaged)
    assert len(cases) == 100
    flagged = {c.row: c for c in cases if not c.has_markup}
    assert sorted(flagged) == [SINGLE_BRACKET_ROW, BARE_COMMA_ROW]
    assert "not closed before the next '[['" in flagged[SINGLE_BRACKET_ROW].markup_problem
    assert "'[[2.5,5]]' has no comma separating" in flagged[BARE_COMMA_ROW].markup_problem
    df = _original()
    for row, case in flagged.items():  # scored from the two columns, as the paper does
        assert case.original == df.original_abstract[row - 1] and case.altered == df.incorrect_abstract[row - 1]
        assert case.spans == ()
    assert "2 of 100 rows" in caplog.text and "damaged.csv" in caplog.text


def test_irregular_markup_scored_in_full_condition_only(damaged, tiny):
    """The damaged file scores (first 20 rows): 20 items in the full condition, 18 isolated; flag in items and summary."""
    model, tok = tiny
    cases = read_testset(damaged)[:20]   # the two damaged rows and 18 others keep the test short
    ev = evaluate_model(model, tok, cases, batch_size=8, n_boot=200, seed=0)
    assert len(ev.items) == 20 and len(ev.isolated) == 18
    flagged = ev.items[ev.items["markup_problem"] != ""]
    assert sorted(flagged["row"]) == [SINGLE_BRACKET_ROW, BARE_COMMA_ROW]
    assert flagged["ppl_original"].notna().all() and flagged["ppl_altered"].notna().all()
    assert not set(ev.isolated["row"]) & {SINGLE_BRACKET_ROW, BARE_COMMA_ROW}
    s = ev.summary
    assert s["n"] == 20 and s["n_markup_unparsed"] == 2
    assert s["markup_unparsed_rows"] == [SINGLE_BRACKET_ROW, BARE_COMMA_ROW]
    assert s["isolated"]["n"] == 18 and s["isolated"]["n_left_out"] == 2
    iso_sub = ev.subfields[(ev.subfields["condition"] == "isolated") & (ev.subfields["group"] == "all")]
    assert int(iso_sub["n"].iloc[0]) == 18


@pytest.mark.slow
def test_irregular_markup_scoring_job_succeeds(damaged, tmp_path):
    """Rule brainbench_score on the damaged file (6 rows) -> exit 0, every row scored, flag and log count."""
    df = _original().iloc[:6]   # rows 3 and 5 are the damaged ones; a short file keeps the job fast
    damaged_small = pd.read_csv(damaged, dtype=str, keep_default_na=False).iloc[:6]
    assert not damaged_small.equals(df)
    damaged_small.to_csv(tmp_path / "damaged.csv", index=False)
    save_tiny_model(tmp_path / "model", texts=list(df["original_abstract"]))
    rules = REPO / "workflow" / "rules" / "brainbench.smk"
    (tmp_path / "Snakefile").write_text(f'configfile: "config.yaml"\ninclude: "{rules}"\n')
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "models": {"tiny": {"source": "local", "id": str(tmp_path / "model")}},
        "brainbench": {"testsets": {"damaged": "damaged.csv"}, "models": ["tiny"], "threads": 1,
                       "bootstrap": {"n": 200, "seed": 0}}}))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    target = "results/brainbench/tiny/damaged/summary.json"
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(tmp_path / "Snakefile"), "--directory",
                          str(tmp_path), "--cores", "1", target], capture_output=True, text=True, timeout=600,
                         env=env)
    assert out.returncode == 0, out.stderr[-4000:]
    run = tmp_path / "results" / "brainbench" / "tiny" / "damaged"
    items = pd.read_csv(run / "items.csv", keep_default_na=False)
    assert len(items) == 6 and sorted(items.loc[items["markup_problem"] != "", "row"]) == [3, 5]
    assert items["ppl_original"].notna().all()
    assert len(pd.read_csv(run / "isolated_items.csv")) == 4
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_markup_unparsed"] == 2 and summary["isolated"]["n"] == 4
    log = (tmp_path / "results" / "brainbench" / "logs" / "score" / "tiny" / "damaged.log").read_text()
    assert "2 of 6 rows have markup that cannot be parsed (rows [3, 5])" in log


def test_semicolon_separated_csv(tmp_path):
    """The test set saved with ';' as separator -> InputError naming the file and the separator."""
    path = _write(_original().iloc[:5], tmp_path / "semicolon.csv", sep=";")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "semicolon.csv", r"header: the columns are separated by ';', not commas",
                       "expected a comma-separated CSV with the columns doi, journal_section")


def test_zero_byte_csv(tmp_path):
    """A 0-byte test-set file -> MissingInputError naming the file: empty (0 bytes)."""
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(MissingInputError) as err:
        read_testset(path)
    assert_input_error(err, "empty.csv", r"the file is empty \(0 bytes\)", "expected a comma-separated CSV")


def test_missing_columns(tmp_path):
    """A test set without incorrect_abstract -> InputError naming the file, the column and the expected header."""
    path = _write(_original().iloc[:5].drop(columns="incorrect_abstract"), tmp_path / "nocol.csv")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "nocol.csv", r"header: missing column\(s\) \['incorrect_abstract'\]",
                       "expected a comma-separated CSV with the columns doi, journal_section, original_abstract, "
                       "incorrect_abstract, combined_abstract")


def test_renamed_columns(tmp_path):
    """Columns under other names (e.g. 'Original Abstract') -> InputError listing what was found."""
    df = _original().iloc[:5].rename(columns={"original_abstract": "Original Abstract"})
    path = _write(df, tmp_path / "renamed.csv")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "renamed.csv", r"missing column\(s\) \['original_abstract'\]", "found .*'Original Abstract'")


def test_header_only_csv(tmp_path):
    """A header and no rows -> InputError: no test cases."""
    path = _write(_original().iloc[:0], tmp_path / "header.csv")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "header.csv", "no test cases", "expected one row per test case")


def test_empty_original_abstract(tmp_path):
    """Row 4 with an empty original_abstract -> InputError naming the file, row, DOI and column."""
    df = _original()
    df.at[3, "original_abstract"] = ""
    path = _write(df, tmp_path / "empty_original.csv")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "empty_original.csv", rf"row 4 \(doi '{df.doi[3]}'\), column 'original_abstract': is empty",
                       "expected the published abstract")


def test_empty_altered_abstract(tmp_path):
    """Row 7 with a blank incorrect_abstract -> InputError naming the file, row and column."""
    df = _original()
    df.at[6, "incorrect_abstract"] = "   "
    path = _write(df, tmp_path / "empty_altered.csv")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "empty_altered.csv", r"row 7 .*column 'incorrect_abstract': is empty",
                       "expected the abstract with the altered result")


def test_identical_original_and_altered(tmp_path):
    """Row 2 whose incorrect_abstract equals its original -> InputError: nothing to choose between."""
    df = _original()
    df.at[1, "incorrect_abstract"] = df.at[1, "original_abstract"]
    path = _write(df, tmp_path / "identical.csv")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "identical.csv", r"row 2 \(doi .*\): original_abstract and incorrect_abstract are identical",
                       "expected an altered abstract that differs")


def test_duplicate_doi(tmp_path):
    """The same DOI in two rows -> InputError naming the DOI and both rows."""
    df = _original().iloc[:5].copy()
    df.at[4, "doi"] = df.at[1, "doi"]
    path = _write(df, tmp_path / "dup.csv")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "dup.csv", r"column 'doi': duplicate doi .* in rows \[2, 5\]")


def test_unclosed_quote_csv(tmp_path):
    """Row 2's quoted abstract loses its closing quote -> InputError naming the file, row and line."""
    lines = GPT4.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = lines[2].rstrip("\n")
    assert broken.endswith('"')
    path = tmp_path / "quote.csv"
    path.write_text("".join(lines[:2]) + broken[:-1] + "\n" + "".join(lines[3:6]), encoding="utf-8")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "quote.csv", r"row 2 \(line 3\): not a well-formed CSV \(.*; read up to line 4\)",
                       "expected a comma-separated CSV", "a quote opened in a field must be closed")


def test_truncated_csv(tmp_path):
    """The file cut after a row's second field (a truncated download) -> InputError: row 4 has 2 fields, not 5."""
    lines = GPT4.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = lines[4].index(',"')   # doi,journal_section | ,"original ...
    path = tmp_path / "truncated.csv"
    path.write_text("".join(lines[:4]) + lines[4][:cut] + "\n", encoding="utf-8")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "truncated.csv", r"row 4 \(line 5\): 2 fields where the header has 5",
                       "the file is truncated")


def test_not_utf8(tmp_path):
    """A Latin-1 encoded test set -> InputError naming the file and the encoding expected."""
    df = _original().iloc[:3].copy()
    df.at[0, "original_abstract"] = df.at[0, "original_abstract"] + " Müller"
    path = tmp_path / "latin1.csv"
    df.to_csv(path, index=False, encoding="latin-1", errors="replace")
    with pytest.raises(BrainBenchFormatError) as err:
        read_testset(path)
    assert_input_error(err, "latin1.csv", "not UTF-8 text", "encoded as UTF-8")


def test_missing_testset_file(tmp_path):
    """A test-set path that does not exist -> MissingInputError naming it."""
    with pytest.raises(MissingInputError) as err:
        read_testset(tmp_path / "nope.csv")
    assert_input_error(err, "nope.csv", "BrainBench test set not found")
