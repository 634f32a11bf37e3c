"""Reliability: writers killed mid-write (SIGKILL) leave no output that looks complete.

Library level, deterministic: each test runs the writer in a fresh interpreter that kills itself
with SIGKILL at a planted point (half of the bytes written, between two renames, ...), the way a
scheduler's OOM killer or time limit would, then inspects what is left at the output path.
``tests/workflow/test_resume.py`` covers the workflow level (a killed run resumes to identical
results); ``tests/unit/io/test_store.py`` races a kill against a large ``write_zarr``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign.io.store import atomic_write_table, read_zarr, write_zarr

# Imported first by every child: SIGKILL itself, with no clean-up (no finally, no atexit).
_PRELUDE = """
import os, signal
def die():
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _run_killed(code: str) -> None:
    """Run ``code`` in a fresh interpreter and check it died by SIGKILL (not by an exception)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", _PRELUDE + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == -signal.SIGKILL, f"not killed (rc {proc.returncode}): {proc.stderr[-2000:]}"


def _dataset(scale: float = 1.0) -> xr.Dataset:
    rng = np.random.default_rng(0)
    return xr.Dataset({"a": (("word", "layer"), scale * rng.standard_normal((50, 4))),
                       "b": (("word",), scale * rng.standard_normal(50))},
                      coords={"word": np.arange(50), "layer": np.arange(4)})


def _visible(directory: Path) -> list[str]:
    """What a glob such as '*.zarr' or '*.csv' would pick up: names not starting with '.'."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def test_zarr_writer_killed_mid_write(tmp_path):
    """write_zarr killed after one of two variables is written -> no store at the path, read_zarr says not found."""
    target = tmp_path / "features.zarr"
    _run_killed(f"""
        import numpy as np, xarray as xr
        from brainalign.io import store
        original = xr.Dataset.to_zarr
        def half(self, path, **kw):
            original(self[["a"]], path, **kw)   # the first variable only, then the process dies
            die()
        xr.Dataset.to_zarr = half
        rng = np.random.default_rng(0)
        ds = xr.Dataset({{"a": (("w",), rng.standard_normal(50)), "b": (("w",), rng.standard_normal(50))}})
        store.write_zarr(ds, {str(target)!r})
    """)
    assert not target.exists() and _visible(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="features.zarr: Zarr store not found"):
        read_zarr(target)
    write_zarr(_dataset(), target)                    # the rerun writes a complete store
    assert set(read_zarr(target).data_vars) == {"a", "b"}


def test_zarr_overwrite_killed_between_renames(tmp_path):
    """Replacing a store, killed after the old one is moved aside -> no store at the path (never old+new mixed)."""
    target = tmp_path / "scores.zarr"
    write_zarr(_dataset(), target)
    _run_killed(f"""
        import numpy as np, xarray as xr
        from brainalign.io import store
        real_replace = os.replace
        def replace(src, dst):
            real_replace(src, dst)
            if os.path.basename(dst).startswith(".scores.zarr.old-"):
                die()             # the old store is now aside, the new one not yet in place
        os.replace = replace      # (zarr's own writes also go through os.replace: they pass)
        rng = np.random.default_rng(1)
        store.write_zarr(xr.Dataset({{"a": (("w",), rng.standard_normal(9))}}), {str(target)!r})
    """)
    assert not target.exists() and _visible(tmp_path) == []


def test_zarr_overwrite_killed_before_rename_keeps_old_store(tmp_path):
    """Replacing a store, killed before any rename -> the old store, complete and unchanged."""
    target = tmp_path / "scores.zarr"
    write_zarr(_dataset(), target)
    _run_killed(f"""
        import numpy as np, xarray as xr
        from brainalign.io import store
        store.replace_dir = lambda tmp, path: die()
        store.write_zarr(xr.Dataset({{"a": (("w",), np.zeros(9))}}), {str(target)!r})
    """)
    back = read_zarr(target, load=True)
    xr.testing.assert_identical(back[["a", "b"]], _dataset()[["a", "b"]])
    assert _visible(tmp_path) == ["scores.zarr"]


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_table_writer_killed_mid_write(tmp_path, existing):
    """atomic_write_table killed with half its bytes written -> no table, or the old one byte for byte."""
    target = tmp_path / "items.csv"
    old = pd.DataFrame({"doi": ["a", "b"], "correct": [True, False]})
    if existing:
        atomic_write_table(old, target)
    before = target.read_bytes() if existing else None
    _run_killed(f"""
        import pandas as pd
        from brainalign.io import store
        real_fdopen = store.os.fdopen
        class Half:
            def __init__(self, fh): self.fh = fh
            def __enter__(self): return self
            def __exit__(self, *exc): self.fh.close()
            def write(self, text):
                self.fh.write(text[: len(text) // 2]); self.fh.flush(); os.fsync(self.fh.fileno())
                die()
        store.os.fdopen = lambda fd, mode: Half(real_fdopen(fd, mode))
        df = pd.DataFrame({{"doi": [f"10.1/{{i}}" for i in range(1000)], "correct": [True] * 1000}})
        store.atomic_write_table(df, {str(target)!r})
    """)
    if existing:
        assert target.read_bytes() == before
    else:
        assert not target.exists()
    assert _visible(tmp_path) == (["items.csv"] if existing else [])
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".items.csv.tmp-")]
    assert leftovers and all(p.stat().st_size > 0 for p in leftovers)   # the half-written temporary


def test_figure_writer_killed_mid_save(tmp_path):
    """save_figure killed while matplotlib writes -> no figure, and no leftover ending in '.png'."""
    target = tmp_path / "accuracy.png"
    _run_killed(f"""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.figure
        from brainalign.plotting.figure_io import new_figure, save_figure
        real = matplotlib.figure.Figure.savefig
        def savefig(self, fname, **kw):
            real(self, fname, **kw)
            with open(fname, "r+b") as fh:   # as if killed half way through the file
                fh.truncate(os.path.getsize(fname) // 2)
            die()
        matplotlib.figure.Figure.savefig = savefig
        fig = new_figure()
        fig.subplots().plot([0, 1], [1, 0])
        save_figure(fig, {str(target)!r})
    """)
    assert not target.exists()
    assert not list(tmp_path.glob("*.png")), "a killed save left a file that matches *.png"


def test_model_cache_build_killed(tmp_path, monkeypatch):
    """A model cache entry killed while being built -> no entry; the next load builds it anew."""
    cache = tmp_path / "cache"
    _run_killed(f"""
        os.environ["BRAINALIGN_CACHE"] = {str(cache)!r}
        from brainalign.models.cache import build_cached_dir
        def build(out):
            (out / "model.safetensors").write_bytes(b"x" * 1000)
            die()
        build_cached_dir("key", build)
    """)
    assert not (cache / "models" / "key").exists()
    assert _visible(cache / "models") == []
    monkeypatch.setenv("BRAINALIGN_CACHE", str(cache))
    from brainalign.models.cache import build_cached_dir, is_complete

    final = build_cached_dir("key", lambda out: (out / "model.safetensors").write_bytes(b"y" * 10) and None)
    assert is_complete(final) and (final / "model.safetensors").read_bytes() == b"y" * 10
