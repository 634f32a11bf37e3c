"""Figures are written headless, readable by the group, in a known format (brainalign.plotting.figure_io)."""

from __future__ import annotations

import pytest

from brainalign import plotting as P


def test_saved_figure_is_readable_by_group(tmp_path):
    import os
    import stat

    out = P.save_figure(P.new_figure(), tmp_path / "x.png")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_save_figure_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="format"):
        P.save_figure(P.new_figure(), tmp_path / "x.jpg")
