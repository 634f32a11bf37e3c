"""QC tables: TSV and JSON summaries read and rendered as HTML (brainalign.qc.tables)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from brainalign.errors import InputError
from brainalign.qc.tables import read_table, write_table_html


# ---------------------------------------------------------------------------------------- tables
def test_tables_render_tsv_and_json(tmp_path):
    tsv = tmp_path / "best_layers.tsv"
    pd.DataFrame({"region": ["middle", "early"], "layer": [15, 3], "score": [0.2345678, np.nan]}).to_csv(
        tsv, sep="\t", index=False, na_rep="n/a")
    blank = tmp_path / "blank.tsv"
    blank.write_text("subject\tregion\tlayer\n01\tmiddle\t16\n02\tnoise\t\n")  # a missing value left blank
    blank_table = read_table([blank])
    assert list(blank_table["subject"]) == ["01", "02"]  # labels stay labels
    assert blank_table["layer"].dtype.kind == "f" and np.isnan(blank_table["layer"][1])
    out = write_table_html([tsv], tmp_path / "t.html", "Best layers")
    text = out.read_text()
    assert "<th class=\"text\">region</th>" in text and "0.2346" in text and "n/a" in text and "2 rows" in text
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"model": "tiny", "accuracy": 0.61, "isolated": {"n": 3, "accuracy": 0.5}, "items": [1, 2],
                                   "calibration": {"spearman_rho": 0.25, "pointbiserial_r": 0.3}}))
    table = read_table([summary, summary], labels=[{"model": "a"}, {"model": "b"}])
    assert list(table.columns) == ["model", "accuracy", "isolated.n", "isolated.accuracy", "calibration.spearman_rho",
                                   "calibration.pointbiserial_r"]
    assert list(table["model"]) == ["a", "b"]  # the label, not the file's own `model` field
    out = write_table_html([summary], tmp_path / "s.html", "BB", labels=[{"model": "a"}],
                           prefer=["accuracy", "nothing_here", "calibration."])
    assert "isolated.n" not in out.read_text() and "0.61" in out.read_text()
    assert "calibration.spearman_rho" in out.read_text() and "calibration.pointbiserial_r" in out.read_text()
    with pytest.raises(InputError, match="nothing_here"):
        write_table_html([tsv], tmp_path / "x.html", "x", columns=["region", "nothing_here"])
