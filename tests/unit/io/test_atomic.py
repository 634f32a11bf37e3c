"""Atomic writes: a temporary sibling, then a rename, with ordinary permissions (brainalign.io.atomic)."""

from __future__ import annotations

import os
import stat

import pytest

from brainalign.io import atomic
from brainalign.io.atomic import atomic_write_bytes, atomic_write_text


def test_writes_text_and_bytes_creating_the_folder(tmp_path):
    out = atomic_write_text(tmp_path / "a" / "b" / "x.txt", "µ-law\n")
    assert out == tmp_path / "a" / "b" / "x.txt" and out.read_bytes() == "µ-law\n".encode("utf-8")
    assert atomic_write_bytes(tmp_path / "y.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["x.txt"]    # no temporary left


def test_permissions_are_those_of_an_ordinary_open(tmp_path):
    mask = os.umask(0o022)
    try:
        out = atomic_write_text(tmp_path / "x.txt", "x")
        with open(tmp_path / "plain.txt", "w") as fh:
            fh.write("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o644


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = atomic_write_text(tmp_path / "x.txt", "old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_atomic_directory_replaces_whole_or_leaves_nothing(tmp_path):
    from brainalign.io.atomic import atomic_directory

    target = tmp_path / "out" / "model"
    with atomic_directory(target) as tmp:
        assert tmp.parent == target.parent and not target.exists()
        (tmp / "a.txt").write_text("1")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with atomic_directory(target) as tmp:  # a second write replaces the folder, old files gone
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_directory(target) as tmp:
            (tmp / "c.txt").write_text("3")
            raise RuntimeError("killed mid-write")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]     # the old folder kept, untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["model"]  # no temporary sibling left
