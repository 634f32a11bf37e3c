"""Atomic xarray <-> Zarr storage (brainalign.io.store)."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign.io.store import atomic_write_table, read_zarr, write_zarr


def _dataset(n_word: int = 5, n_layer: int = 3, n_feature: int = 4) -> xr.Dataset:
    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((n_word, n_layer, n_feature)).astype("float32")
    return xr.Dataset(
        {"hidden": (("word", "layer", "feature"), hidden)},
        coords={"word": np.arange(n_word), "text": ("word", [f"w{i}" for i in range(n_word)]),
                "layer": np.arange(n_layer), "story": "s"},
        attrs={"model_id": "m", "shape": (1, 2), "n": np.int64(3)},
    )


def test_roundtrip_keeps_values_coords_and_attrs(tmp_path):
    ds = _dataset()
    write_zarr(ds, tmp_path / "f.zarr", encoding={"hidden": {"chunks": (5, 1, 4)}})
    back = read_zarr(tmp_path / "f.zarr", load=True)
    np.testing.assert_array_equal(back["hidden"].values, ds["hidden"].values)
    assert list(back["text"].values) == [f"w{i}" for i in range(5)]
    assert back.attrs["model_id"] == "m" and back.attrs["shape"] == [1, 2] and back.attrs["n"] == 3
    # one layer per chunk: reading a layer does not touch the others
    assert back["hidden"].encoding["chunks"] == (5, 1, 4)


def test_overwrite_replaces_store_and_leaves_no_temporaries(tmp_path):
    write_zarr(_dataset(5), tmp_path / "f.zarr")
    write_zarr(_dataset(7), tmp_path / "f.zarr")
    assert read_zarr(tmp_path / "f.zarr").sizes["word"] == 7
    assert sorted(os.listdir(tmp_path)) == ["f.zarr"]


def test_failed_write_leaves_nothing(tmp_path):
    ds = _dataset()
    with pytest.raises(Exception):
        write_zarr(ds, tmp_path / "f.zarr", encoding={"nonexistent": {"chunks": (1,)}})
    assert os.listdir(tmp_path) == []


def test_killed_writer_leaves_no_complete_looking_store(tmp_path):
    # A writer killed with SIGKILL mid-write must not leave the final path behind.
    target = tmp_path / "big.zarr"
    code = textwrap.dedent(f"""
        import numpy as np, xarray as xr
        from brainalign.io.store import write_zarr
        ds = xr.Dataset({{"x": (("a", "b"), np.random.default_rng(0).standard_normal((4000, 4000)))}})
        write_zarr(ds, {str(target)!r}, encoding={{"x": {{"chunks": (10, 4000)}}}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = 60
    import time
    start = time.time()
    # wait until the temporary store appears, then kill the writer
    while time.time() - start < deadline:
        if any(p.name.startswith(".big.zarr.tmp-") for p in tmp_path.iterdir()):
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not target.exists()
    else:  # finished before we could kill it: then it must be complete
        assert read_zarr(target).sizes["a"] == 4000


def test_read_missing_store_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.zarr"):
        read_zarr(tmp_path / "nope.zarr")


def test_atomic_table(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    atomic_write_table(df, tmp_path / "t.tsv")
    assert pd.read_csv(tmp_path / "t.tsv", sep="\t").equals(df)
    atomic_write_table(df, tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv").equals(df)
