"""Pieces shared by the preprocessing of every modality: z-scoring over time, region tables
(brainalign.preprocess.common)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from brainalign.errors import InputError, MissingInputError
from brainalign.preprocess.common import read_region_table, zscore_time


def test_zscore_time_per_column_ignoring_nans(caplog):
    data = np.array([[1.0, 5.0, 2.0], [2.0, 5.0, np.nan], [3.0, 5.0, 4.0], [6.0, 5.0, 6.0]])
    with caplog.at_level(logging.INFO):
        out = zscore_time(data, source="sub-01_bold.nii.gz")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], (data[:, 0] - 3.0) / np.std(data[:, 0]), rtol=1e-6)
    np.testing.assert_array_equal(out[:, 1], 0.0)                   # a flat column is 0, not NaN
    assert np.isnan(out[1, 2])                                       # a NaN sample (bad segment) stays NaN
    kept = out[[0, 2, 3], 2]
    assert kept.mean() == pytest.approx(0.0, abs=1e-6) and kept.std() == pytest.approx(1.0, rel=1e-6)
    assert "sub-01_bold.nii.gz: 1 of 3 target(s) have zero variance" in caplog.text


def test_region_table_from_a_mapping_either_way_round():
    assert read_region_table(None) == {}
    assert read_region_table({"frontal": ["Fz", "F3"], "Cz": "central"}) == {
        "Fz": "frontal", "F3": "frontal", "Cz": "central"}


def test_region_table_from_files_and_frames(tmp_path):
    tsv = tmp_path / "groups.tsv"
    tsv.write_text("channel\tgroup\nFz\tfrontal\nOz\tn/a\n")
    assert read_region_table(tsv) == {"Fz": "frontal", "Oz": ""}      # n/a: no region
    csv = tmp_path / "groups.csv"
    pd.DataFrame({"Name": ["G1", "G2"], "ROI": ["STG", "MTG"]}).to_csv(csv, index=False)
    assert read_region_table(csv) == {"G1": "STG", "G2": "MTG"}       # column names in any case
    assert read_region_table(pd.DataFrame({"target": [1], "region": ["x"]})) == {"1": "x"}


def test_region_table_errors_name_the_file(tmp_path):
    with pytest.raises(MissingInputError, match=r"missing.csv: region table not found"):
        read_region_table(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("electrode,lobe\nG1,temporal\n")
    with pytest.raises(InputError, match=r"bad.csv: region table has columns \['electrode', 'lobe'\] "
                                         r"\(expected columns 'name'"):
        read_region_table(bad)
