"""read_timings end to end on the real Podcast transcript, and the layout of the timings package
(brainalign.io.timings.read; one test module per format beside this one)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd
import pytest

from brainalign.io.timings import read_timings


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
