"""Self-describing xarray <-> Zarr storage with atomic writes.

Every stage writes its output through :func:`write_zarr`, which writes into a temporary sibling
directory and renames it into place only once the store is complete.  A killed job therefore
never leaves a store that Snakemake (or a reader) would take as finished.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Mapping

import xarray as xr

from brainalign.io.atomic import atomic_write_bytes, atomic_write_text  # noqa: F401  (part of this module's API)


def _clean_attrs(attrs: Mapping) -> dict:
    """Return attrs with values Zarr/JSON can store (tuples -> lists, numpy scalars -> python)."""
    out = {}
    for key, value in attrs.items():
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()
        elif isinstance(value, tuple):
            value = list(value)
        elif hasattr(value, "tolist"):
            value = value.tolist()
        out[str(key)] = value
    return out


def write_zarr(
    obj: xr.Dataset | xr.DataArray,
    path: str | os.PathLike,
    encoding: Mapping | None = None,
    name: str = "data",
) -> Path:
    """Write ``obj`` to a Zarr store at ``path`` atomically.

    Parameters
    ----------
    obj
        The dataset (or data array, stored under ``name``) to write.
    path
        Destination directory (conventionally ending in ``.zarr``).  An existing store there is
        replaced only after the new one is complete.
    encoding
        Optional per-variable Zarr encoding (e.g. ``{"hidden": {"chunks": (-1, 1, -1)}}``).
    name
        Variable name used when ``obj`` is a DataArray without a name.

    Returns
    -------
    Path
        The final path of the store.
    """
    path = Path(path)
    if isinstance(obj, xr.DataArray):
        obj = obj.to_dataset(name=obj.name or name)
    obj = obj.copy()
    obj.attrs = _clean_attrs(obj.attrs)
    for var in obj.variables.values():
        var.attrs = _clean_attrs(var.attrs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        with warnings.catch_warnings():
            # zarr v3 warns about string dtypes not in the core spec; they round-trip fine.
            warnings.simplefilter("ignore", category=UserWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            obj.to_zarr(tmp, mode="w", encoding=dict(encoding or {}), consolidated=True, zarr_format=3)
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def replace_dir(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Move the finished directory ``tmp`` to ``path``, replacing any directory already there.

    Both renames are atomic; the old directory is removed only after the new one is in place.
    """
    tmp, path = Path(tmp), Path(path)
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    return path


def read_zarr(path: str | os.PathLike, load: bool = False) -> xr.Dataset:
    """Open a store written by :func:`write_zarr`.

    Parameters
    ----------
    path
        Store directory.
    load
        Load all variables into memory (otherwise lazily backed by Zarr).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist, naming the path.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: Zarr store not found (expected the output of an earlier stage)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        ds = xr.open_zarr(path, consolidated=True, zarr_format=3)
    return ds.load() if load else ds




def target_chunks(obj: xr.Dataset | xr.DataArray, target_dims: tuple[str, ...] = ("voxel", "channel"),
                  chunk_mb: float = 16.0, name: str = "data") -> dict:
    """Zarr encoding that chunks a recording along its target dimension (every time point per chunk).

    A shard of a sharded encode (:mod:`brainalign.encoding.shards`) reads a block of targets: with
    chunks of whole time courses of a few thousand targets it reads those chunks and nothing more.
    Chunks hold about ``chunk_mb`` MB.  Returns ``{}`` (the default layout) for data without a
    target dimension.
    """
    da = obj[name] if isinstance(obj, xr.Dataset) else obj
    dim = next((d for d in target_dims if d in da.dims), None)
    if dim is None:
        return {}
    per_target = max(1, int(da.dtype.itemsize * da.size // max(1, da.sizes[dim])))
    n = int(max(1, min(da.sizes[dim], chunk_mb * 2**20 // per_target)))
    return {da.name or name: {"chunks": tuple(n if d == dim else da.sizes[d] for d in da.dims)}}


def atomic_write_table(df, path: str | os.PathLike, sep: str | None = None) -> Path:
    """Write a pandas DataFrame as TSV (``.tsv``) or CSV (otherwise) atomically."""
    path = Path(path)
    if sep is None:
        sep = "\t" if path.suffix == ".tsv" else ","
    return atomic_write_text(path, df.to_csv(sep=sep, index=False))
