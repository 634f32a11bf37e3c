"""Pieces shared by the fMRI, MEG/EEG and iEEG preprocessing: z-scoring, region tables."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from brainalign.errors import InputError, MissingInputError
from brainalign.io.tsv import read_bids_tsv

log = logging.getLogger(__name__)


def zscore_time(data: np.ndarray, source: str = "") -> np.ndarray:
    """Z-score each column over time (axis 0) ignoring NaNs; float32 out.

    Constant columns (zero variance: outside the brain, flat channels) become 0 rather than NaN,
    and are logged, so downstream ridge fits see no NaN that came from division by zero.
    NaNs already present (bad segments) stay NaN.
    """
    data = np.asarray(data, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(data, axis=0)
        std = np.nanstd(data, axis=0)
    flat = ~(std > 0)
    if flat.any():
        log.info("%s: %d of %d target(s) have zero variance; set to 0", source or "data", int(flat.sum()), flat.size)
    std = np.where(flat, 1.0, std)
    out = (data - mean) / std
    out[:, flat] = np.where(np.isnan(out[:, flat]), np.nan, 0.0)
    return out.astype(np.float32)


def read_region_table(table: str | os.PathLike | pd.DataFrame | Mapping | None) -> dict[str, str]:
    """A target -> region mapping from a table with columns ``name`` and ``region`` (or group).

    Accepts a path to a TSV/CSV, a DataFrame, or a mapping ``{region: [targets]}`` /
    ``{target: region}``.  Used to attach a ``region`` coordinate to channels (channel groups).
    A ``.tsv`` is read as BIDS defines it (:func:`brainalign.io.tsv.read_bids_tsv`: no quoting;
    ``n/a`` = no region, i.e. ``""``).

    Raises
    ------
    InputError
        A missing or damaged file, or a table without the columns, naming the file.
    """
    if table is None:
        return {}
    if isinstance(table, Mapping):
        out: dict[str, str] = {}
        for key, value in table.items():
            if isinstance(value, (list, tuple)):
                out.update({str(t): str(key) for t in value})
            else:
                out[str(key)] = str(value)
        return out
    if not isinstance(table, pd.DataFrame):
        path = Path(table)
        if path.name.endswith((".tsv", ".tsv.gz")):
            table = read_bids_tsv(path, what="region table").fillna("")
        else:
            if not path.is_file():
                raise MissingInputError(path, "region table not found")
            sep = "\t" if path.suffix == ".txt" else ","
            table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
        src = str(path)
    else:
        src = "region table"
    cols = {c.lower(): c for c in table.columns}
    name = cols.get("name") or cols.get("channel") or cols.get("target")
    region = cols.get("region") or cols.get("group") or cols.get("roi")
    if name is None or region is None:
        raise InputError(src, f"region table has columns {list(table.columns)}",
                         expected="columns 'name' (or 'channel', 'target') and 'region' (or 'group', 'roi')")
    return dict(zip(table[name].astype(str), table[region].astype(str)))
