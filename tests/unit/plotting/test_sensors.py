"""Sensor positions, scalp topomaps and time courses (brainalign.plotting.sensors)."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign import plotting as P
from brainalign.analyses.synthetic import make_scores
from tests.figure_checks import is_png


def test_sensor_info_positions(eeg):
    info, idx = P.sensor_info(eeg)
    assert len(info["ch_names"]) == eeg.sizes["channel"] == idx.size
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    np.testing.assert_allclose(pos[:, 0], eeg["pos_x"].values, atol=1e-9)


def test_topomaps_and_time_courses(eeg, tmp_path):
    values = eeg["r"].mean("subject").max("lag")
    assert is_png(P.plot_topomaps(values, tmp_path / "topo.png", title="EEG r per layer"))
    table = P.time_course_table(eeg)
    early = table[table["region"] == "early"]
    assert early.loc[early["mean"].idxmax(), "lag"] == pytest.approx(0.1)
    assert is_png(P.plot_time_courses(table, tmp_path / "tc.png"))


def test_meg_topomap(regions, tmp_path):
    meg = make_scores(regions, modality="meg", n_layers=4, n_subjects=2, targets_per_region=8)
    assert is_png(P.plot_topomaps(meg["r"].mean("subject").max("lag"), tmp_path / "meg.png", title="MEG"))
