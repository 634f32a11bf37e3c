"""brainalign.brainbench.parsing: markup validation, the comma rule, isolated sentences."""

import re
from pathlib import Path

import pandas as pd
import pytest

from brainalign.brainbench.parsing import (BrainBenchFormatError, isolated_sentences, parse_testset,
                                           read_testset, reference_parse, split_sentences)

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "brainbench" / "BrainBench_GPT-4_v0.1.csv"


def _sub(combined, which):
    """Substitute with the naive one-comma rule (test fixture helper)."""
    import re

    k = 0 if which == "o" else 1
    return re.sub(r"\[\[(.*?)\]\]", lambda m: m.group(1).split(", ")[k], combined)


def _row(combined, original=None, altered=None, doi="10.1/x", section="Systems/Circuits"):
    return {"doi": doi, "journal_section": section, "combined_abstract": combined,
            "original_abstract": original if original is not None else _sub(combined, "o"),
            "incorrect_abstract": altered if altered is not None else _sub(combined, "a")}


def _parse(*rows):
    return parse_testset(pd.DataFrame(list(rows)), source="t.csv")


def test_valid_rows_resolve_spans_and_reproduce_columns():
    good = "Firing rates [[increased, decreased]] after training. Cells were [[stable, unstable]]."
    (case,) = _parse(_row(good))
    assert [(s.original, s.altered) for s in case.spans] == [("increased", "decreased"), ("stable", "unstable")]
    assert case.original == "Firing rates increased after training. Cells were stable."
    assert case.altered == "Firing rates decreased after training. Cells were unstable."
    assert not case.reference_parse_differs


@pytest.mark.parametrize("combined, message", [
    ("Rates [[increased, decreased after training.", "never closed"),
    ("Rates increased, decreased]] after training.", "without a matching"),
    ("Rates [[increased [[x, y]], decreased]] after.", "not closed before the next"),
    ("Rates [[increased]] after training.", "no comma"),
    ("Rates [[]] after training.", "empty"),
    ("Rates [[increased, ]] after training.", "empty option"),
    ("Rates increased after training.", r"no \[\[original, altered\]\] span"),
    ("", "is empty"),
])
def test_malformed_markup_is_flagged_and_the_row_kept(combined, message, caplog):
    """Unusable markup: the row is kept with its two columns, flagged, left out of the isolated condition."""
    ok = _row("A [[b, c]] d.", doi="10.1/ok")
    bad = _row(combined, original="Rates increased after training.", altered="Rates decreased after training.",
               doi="10.1/bad")
    good, flagged = _parse(ok, bad)
    assert good.has_markup and good.markup_problem is None
    assert not flagged.has_markup and flagged.spans == ()
    assert re.search(message, flagged.markup_problem)
    assert (flagged.original, flagged.altered) == ("Rates increased after training.", "Rates decreased after training.")
    assert "1 of 2 rows" in caplog.text and "row 2" in caplog.text and "t.csv" in caplog.text
    with pytest.raises(ValueError, match="row 2.*no usable markup"):
        isolated_sentences(flagged)


def test_more_than_two_options_is_flagged():
    combined = "Responses were [[low, high, medium]] in cortex."
    original, altered = reference_parse(combined)  # columns as the published CSVs were generated
    (case,) = _parse(_row(combined, original, altered))
    assert "more than two options" in case.markup_problem
    assert (case.original, case.altered) == (original, altered)


def test_empty_abstract_and_missing_column():
    with pytest.raises(BrainBenchFormatError, match="t.csv: row 1 .*column 'original_abstract': is empty"):
        _parse(_row("A [[b, c]] d.", original=""))
    df = pd.DataFrame([_row("A [[b, c]] d.")]).drop(columns="incorrect_abstract")
    with pytest.raises(BrainBenchFormatError, match=r"missing column\(s\) \['incorrect_abstract'\]"):
        parse_testset(df, source="t.csv")
    with pytest.raises(BrainBenchFormatError, match="no test cases"):
        parse_testset(pd.DataFrame(columns=list(_row("A [[b, c]] d."))), source="t.csv")


def test_columns_that_disagree_with_the_markup_are_flagged():
    (case,) = _parse(_row("A [[b, c]] d.", altered="A x d."))
    assert "does not reproduce incorrect_abstract" in case.markup_problem
    assert (case.original, case.altered) == ("A b d.", "A x d.")


def test_duplicate_doi_is_an_error():
    with pytest.raises(BrainBenchFormatError, match="duplicate doi"):
        _parse(_row("A [[b, c]] d."), _row("E [[f, g]] h."))


def test_comma_in_option_resolved_by_the_columns():
    combined = "Thus, [[Cav2.2, but not Cav2.3, Cav2.3, but not Cav2.2]] boosted release."
    (case,) = _parse(_row(combined, "Thus, Cav2.2, but not Cav2.3 boosted release.",
                          "Thus, Cav2.3, but not Cav2.2 boosted release."))
    assert (case.spans[0].original, case.spans[0].altered) == ("Cav2.2, but not Cav2.3", "Cav2.3, but not Cav2.2")
    assert not case.reference_parse_differs


def test_comma_in_option_with_reference_parser_columns_uses_parallel_split():
    combined = "Thus, [[Cav2.2, but not Cav2.3, Cav2.3, but not Cav2.2]] boosted release."
    original, altered = reference_parse(combined)
    assert original == "Thus, Cav2.2 boosted release."  # the reference parser's garbling
    (case,) = _parse(_row(combined, original, altered))
    assert case.reference_parse_differs
    assert case.original == "Thus, Cav2.2, but not Cav2.3 boosted release."
    assert case.altered == "Thus, Cav2.3, but not Cav2.2 boosted release."


def test_digit_commas_do_not_separate_options():
    (case,) = _parse(_row("We counted [[1,000, 2,000]] cells.", "We counted 1,000 cells.", "We counted 2,000 cells."))
    assert (case.spans[0].original, case.spans[0].altered) == ("1,000", "2,000")


def test_sentence_splitting_keeps_abbreviations_and_decimals():
    text = "Rats (e.g. males) ran at 2.5 Hz. Then they slept! Did they dream? Yes."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Rats (e.g. males) ran at 2.5 Hz.", "Then they slept!", "Did they dream?", "Yes."]


def test_isolated_sentences_keep_only_sentences_with_spans():
    combined = ("First sentence has nothing. Rates [[increased, decreased]] here. Middle one is plain. "
                "[[Cells fired. Then rested, Cells rested. Then fired]] at night. Last one.")
    original = "First sentence has nothing. Rates increased here. Middle one is plain. Cells fired. Then rested at night. Last one."
    altered = "First sentence has nothing. Rates decreased here. Middle one is plain. Cells rested. Then fired at night. Last one."
    (case,) = _parse(_row(combined, original, altered))
    iso_o, iso_a = isolated_sentences(case)
    assert iso_o == "Rates increased here. Cells fired. Then rested at night."
    assert iso_a == "Rates decreased here. Cells rested. Then fired at night."


@pytest.mark.skipif(not SHARED.is_file(), reason="shared BrainBench CSV not available")
def test_shared_testset_parses_and_flags_the_comma_rows():
    cases = read_testset(SHARED)
    assert len(cases) == 100
    assert [c.row for c in cases if c.reference_parse_differs] == [25, 52, 59, 67]
    assert all(c.has_markup for c in cases)
    by_row = {c.row: c for c in cases}
    assert (by_row[25].spans[1].original, by_row[25].spans[1].altered) == (
        "In contrast, we did not find any", "Moreover, we found an")
    assert by_row[51].spans[0].original == "Consistent with"  # comma without space
    # rows whose columns already match are used verbatim
    df = pd.read_csv(SHARED)
    for c in cases:
        if not c.reference_parse_differs:
            assert c.original == df.original_abstract[c.row - 1] and c.altered == df.incorrect_abstract[c.row - 1]
    assert pd.Series([c.journal_section for c in cases]).value_counts().to_dict() == {
        "Behavioral/Cognitive": 38, "Systems/Circuits": 25, "Development/Plasticity/Repair": 13,
        "Cellular/Molecular": 12, "Neurobiology of Disease": 12}


def test_read_testset_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv: BrainBench test set not found"):
        read_testset(tmp_path / "nope.csv")
