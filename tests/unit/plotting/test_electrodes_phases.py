"""Phases of :func:`brainalign.plotting.electrodes.plot_electrodes`: units, colour scales, row titles."""

import numpy as np
import pandas as pd

from brainalign.plotting.electrodes import _positions_mm, _row_label, _scales


def _t(**cols) -> pd.DataFrame:
    base = {"pos_x": [10.0, -40.0, np.nan], "pos_y": [0.0, 20.0, 5.0], "pos_z": [30.0, 1.0, 2.0],
            "r_best": [0.3, -0.5, 0.9], "best_layer": [2, 7, 4], "best_lag": [0.1, 0.3, np.nan]}
    return pd.DataFrame(base | cols)


def test_positions_in_metres_become_mm_and_mm_stay():
    mm = _positions_mm(_t(), "t.tsv")
    np.testing.assert_array_equal(mm[:2], [[10, 0, 30], [-40, 20, 1]])
    assert np.isnan(mm[2, 0])
    metres = _t(pos_x=[0.01, -0.04, np.nan], pos_y=[0.0, 0.02, 0.005], pos_z=[0.03, 0.001, 0.002])
    np.testing.assert_allclose(_positions_mm(metres, "t.tsv")[:2], mm[:2])


def test_score_scale_is_symmetric_over_coloured_electrodes_only():
    t = _t()
    r = t["r_best"].to_numpy(float)
    (_, _, score, *_), (_, _, layer, *_), (_, _, lag, *_) = _scales(t, r, np.array([True, True, False]), "r")
    assert (score.vmin, score.vmax) == (-0.5, 0.5)  # the uncoloured 0.9 does not stretch the scale
    assert (layer.vmin, layer.vmax) == (2, 7)  # no r_layer_<L> columns: the best layers seen
    assert (lag.vmin, lag.vmax) == (0.1, 0.3)
    (_, _, empty, *_), *_ = _scales(t, r, np.zeros(3, bool), "r")
    rmax = np.nanmax(np.abs(r))  # nothing coloured: every scored electrode
    assert (empty.vmin, empty.vmax) == (-rmax, rmax)
    (_, _, none, *_), *_ = _scales(t, np.full(3, np.nan), np.zeros(3, bool), "r")
    assert (none.vmin, none.vmax) == (-1e-3, 1e-3)
    (_, _, layer, *_), _ = _scales(_t(r_layer_0=[0.0] * 3, r_layer_12=[0.0] * 3), r, np.ones(3, bool), "r")[1:]
    assert (layer.vmin, layer.vmax) == (0, 12)  # the model's layers, not only the best ones


def test_row_label_counts_significant_and_unplaced():
    in_row, placed = np.array([True, True, True, False]), np.array([True, False, True, True])
    sig = np.array([True, False, False, True])
    assert _row_label("sub-01", in_row, placed, sig) == "sub-01: 3 electrodes, 1 significant; 1 without position not drawn"
    assert _row_label("all", in_row, np.ones(4, bool), None) == "all: 3 electrodes"
