"""iEEG electrodes on a glass brain (brainalign.plotting.electrodes): written headless, significant
electrodes large and coloured, the others small and grey, electrodes without a position counted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib import colormaps
from matplotlib.collections import PathCollection

from brainalign.errors import InputError
from brainalign.io.tsv import read_bids_tsv, write_bids_tsv
from brainalign.plotting import electrodes as E

PNG = b"\x89PNG\r\n\x1a\n"
LAYERS = range(7)


def _table(significance: bool = True) -> pd.DataFrame:
    """Three patients on the left temporal lobe (MNI mm); two of patient 02 without a position."""
    rng = np.random.default_rng(0)
    rows = []
    for subject, n in (("01", 12), ("02", 9), ("03", 15)):
        for c in range(n):
            responsive = c < 3
            rows.append({"subject": subject, "channel": f"G{c}",
                         "pos_x": -60.0 + rng.normal(0, 3.0), "pos_y": -20.0 + rng.normal(0, 10.0),
                         "pos_z": 5.0 + rng.normal(0, 8.0),
                         "r_best": 0.3 if responsive else rng.normal(0, 0.02),
                         "best_layer": 4 if responsive else int(rng.integers(0, 7)),
                         "best_lag": 0.2 if responsive else float(rng.choice([0.0, 0.1, 0.4])),
                         **({"significant": responsive} if significance else {}),
                         **{f"r_layer_{layer}": 0.1 for layer in LAYERS}})
    table = pd.DataFrame(rows)
    table.loc[(table["subject"] == "02") & table["channel"].isin(["G0", "G5"]), ["pos_x", "pos_y", "pos_z"]] = np.nan
    return table


@pytest.fixture()
def captured(monkeypatch):
    """The figure handed to save_figure, with its markers (one PathCollection per add_markers call)."""
    seen = {}
    real = E.save_figure

    def save(fig, path, dpi=150):
        seen["markers"] = [c for ax in fig.axes for c in ax.collections if isinstance(c, PathCollection)]
        seen["text"] = " | ".join(t.get_text() for t in fig.texts)
        return real(fig, path, dpi=dpi)

    monkeypatch.setattr(E, "save_figure", save)
    return seen


def test_electrodes_on_glass_brain(tmp_path, captured):
    # read back from the TSV the rule 'electrodes' writes: every column comes in as text
    write_bids_tsv(_table(), tmp_path / "ieeg_electrodes.tsv")
    table = read_bids_tsv(tmp_path / "ieeg_electrodes.tsv")
    out = E.plot_electrodes(table, tmp_path / "electrodes.png", title="m: iEEG", display_mode="z")
    data = out.path.read_bytes()
    assert data[:8] == PNG and len(data) > 20_000
    assert (out.n_electrodes, out.n_plotted, out.without_position, out.n_significant) == (36, 34, {"02": 2}, 9)
    # 4 rows (pooled + 3 patients) x 3 columns (score, layer, lag), one view each: a grey and a coloured
    # marker set per panel; sub-02's G0 (responsive) has no position, so it has 2 significant markers
    sizes = [(len(c.get_offsets()), float(np.unique(c.get_sizes())[0])) for c in captured["markers"]]
    sig = [n for n, s in sizes if s == E.SIZE_SIG]
    grey = [n for n, s in sizes if s == E.SIZE_NONSIG]
    assert sig == [8] * 3 + [3] * 3 + [2] * 3 + [3] * 3
    assert grey == [26] * 3 + [9] * 3 + [5] * 3 + [12] * 3
    greys = [c for c in captured["markers"] if float(np.unique(c.get_sizes())[0]) == E.SIZE_NONSIG]
    assert all(np.allclose(c.get_facecolors()[:, :3], E.GREY[:3]) for c in greys)
    # lateral contacts sit on the outline of the top view: their markers must not be cut by the axes
    assert not any(c.get_clip_on() for c in captured["markers"])
    # coloured per column: planted layer 4 of layers 0-6 on viridis, lag 0.2 s of 0-0.4 s on plasma
    score, layer, lag = [c for c in captured["markers"] if float(np.unique(c.get_sizes())[0]) == E.SIZE_SIG][:3]
    assert np.allclose(layer.get_facecolors(), colormaps["viridis"](4 / 6))
    assert np.allclose(lag.get_facecolors(), colormaps["plasma"](0.5))
    assert np.allclose(score.get_facecolors(), colormaps["RdBu_r"](1.0))  # the largest r ends the scale
    assert "sub-02: 9 electrodes, 3 significant; 2 without position not drawn" in captured["text"]
    assert "all patients: 36 electrodes, 9 significant; 2 without position not drawn" in captured["text"]


def test_without_a_permutation_test_every_electrode_is_coloured(tmp_path, captured):
    out = E.plot_electrodes(_table(significance=False), tmp_path / "electrodes.svg", title="m", display_mode="z")
    assert out.path.stat().st_size > 20_000 and out.n_significant is None
    sizes = {float(np.unique(c.get_sizes())[0]) for c in captured["markers"]}
    assert sizes == {E.SIZE_UNTESTED}
    coloured = [c for c in captured["markers"] if not np.allclose(c.get_facecolors()[:, :3], E.GREY[:3])]
    assert sum(len(c.get_offsets()) for c in coloured) == 3 * (34 + 12 + 7 + 15)
    assert "n_permutations = 0" in captured["text"]


def test_no_positions_at_all_draws_empty_brains(tmp_path):
    table = _table()
    table[["pos_x", "pos_y", "pos_z"]] = np.nan
    out = E.plot_electrodes(table, tmp_path / "electrodes.png", title="m", display_mode="z")
    assert out.path.is_file() and out.n_plotted == 0
    assert out.without_position == {"01": 12, "02": 9, "03": 15}


def test_missing_column_names_the_table(tmp_path):
    with pytest.raises(InputError, match=r"scores/m/ieeg_electrodes.tsv: missing column\(s\) pos_z, best_lag"):
        E.plot_electrodes(_table().drop(columns=["pos_z", "best_lag"]), tmp_path / "x.png", title="m",
                          source="scores/m/ieeg_electrodes.tsv")
    assert not (tmp_path / "x.png").exists()


def test_positions_in_metres_are_recognised(tmp_path, caplog):
    """A table in metres (MNE's unit) is drawn at the same places as the same table in mm, with a warning."""
    import logging

    mm = _table()
    metres = mm.copy()
    metres[["pos_x", "pos_y", "pos_z"]] = metres[["pos_x", "pos_y", "pos_z"]] / 1000.0
    with caplog.at_level(logging.WARNING):
        a = E.plot_electrodes(metres, tmp_path / "m.png", title="m", source="t.tsv")
    assert "taken as metres" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        b = E.plot_electrodes(mm, tmp_path / "mm.png", title="m", source="t.tsv")
    assert "taken as metres" not in caplog.text
    assert a.n_plotted == b.n_plotted == 34
