"""Give Scores a per-target ``region`` coordinate from an atlas (fMRI) or a channel-group table (MEG/EEG).

Preprocessing with an atlas already attaches ``region``; when it did not (voxel-wise fMRI, sensors
without groups) the analyses label the targets themselves: each voxel takes the atlas label at its
MNI coordinate, each channel its group.  Unlabelled targets get ``""`` (dropped from region means).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError, MissingInputError
from ..io.tsv import numeric_column, read_bids_tsv
from .units import target_dim

AUTO = "auto"


def _read_table(path: str | os.PathLike, what: str) -> pd.DataFrame:
    """A label or channel-group table: a ``.tsv`` as BIDS defines it (no quoting; ``n/a`` = no
    label, read as ``""``), another file with the separator sniffed."""
    path = Path(path)
    if path.name.endswith((".tsv", ".tsv.gz")):
        return read_bids_tsv(path, what=what).fillna("")
    if not path.is_file():
        raise MissingInputError(path, f"{what} not found")
    return pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)


def label_voxels(scores: xr.Dataset, atlas, labels: str | os.PathLike | pd.DataFrame | None = None) -> xr.Dataset:
    """Attach ``region`` to fMRI targets from a label image in MNI space.

    Parameters
    ----------
    scores
        Scores with voxel coordinates ``x, y, z`` (MNI mm).
    atlas
        Label image (path or nibabel image); 0 = no label.
    labels
        Table with columns ``index`` and ``name`` (path or DataFrame); without it the label
        numbers are the names.

    Raises
    ------
    ValueError
        If the coordinates are missing.
    InputError
        If the label table lacks its columns or has a non-integer index (naming the file, column and line).
    """
    import nibabel as nib

    dim = target_dim(scores)
    if dim != "voxel":
        raise ValueError("label_voxels needs fMRI scores (dimension 'voxel')")
    for c in ("x", "y", "z"):
        if c not in scores.coords:
            raise ValueError(f"label_voxels needs the voxel coordinate {c!r} (MNI mm)")
    img = atlas if hasattr(atlas, "affine") else nib.load(str(atlas))
    data = np.asarray(img.dataobj).astype(np.int64)
    xyz = np.stack([scores[c].values for c in ("x", "y", "z")] + [np.ones(scores.sizes[dim])])
    ijk = np.rint(np.linalg.inv(img.affine) @ xyz)[:3].astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(data.shape[:3])[:, None]), axis=0)
    values = np.zeros(scores.sizes[dim], dtype=np.int64)
    values[inside] = data[tuple(ijk[:, inside])]
    names = {}
    if labels is not None:
        table = labels if isinstance(labels, pd.DataFrame) else _read_table(labels, "atlas label table")
        where = labels if not isinstance(labels, pd.DataFrame) else "label table"
        cols = {c.lower(): c for c in table.columns}
        idx, name = cols.get("index"), cols.get("name") or cols.get("label")
        if idx is None or name is None:
            raise InputError(where, f"label table has columns {list(table.columns)}",
                             expected="columns 'index' and 'name' (or 'label')")
        index = numeric_column(table.astype(object), idx, source=where, expected="an integer atlas label")
        if not np.array_equal(index, np.round(index)):
            i = int(np.flatnonzero(index != np.round(index))[0])
            raise InputError(where, f"{table[idx].iloc[i]!r} is not an integer", field=f"column '{idx}', line {i + 2}",
                             expected="an integer atlas label")
        names = dict(zip(index.astype(int), table[name].astype(str)))
    region = np.array(["" if v == 0 else names.get(int(v), str(int(v))) for v in values], dtype=object)
    return scores.assign_coords(region=(dim, region.astype(str)))


def label_channels(scores: xr.Dataset, groups: str | os.PathLike | pd.DataFrame) -> xr.Dataset:
    """Attach ``region`` to MEG/EEG channels from a table ``channel, group`` (or ``name, region``).

    Raises
    ------
    InputError
        If the table lacks the columns or shares no channel with the scores (naming the file).
    """
    dim = target_dim(scores)
    table = groups if isinstance(groups, pd.DataFrame) else _read_table(groups, "channel-group table")
    cols = {c.lower(): c for c in table.columns}
    ch = cols.get("channel") or cols.get("name")
    grp = cols.get("group") or cols.get("region")
    where = groups if not isinstance(groups, pd.DataFrame) else "channel-group table"
    if ch is None or grp is None:
        raise InputError(where, f"channel-group table has columns {list(table.columns)}",
                         expected="columns 'channel' and 'group' (or 'name' and 'region')")
    mapping = dict(zip(table[ch].astype(str), table[grp].astype(str)))
    channels = np.asarray(scores[dim].values).astype(str)
    if not any(c in mapping for c in channels):
        raise InputError(where, f"no channel of the scores is listed (scores have e.g. {list(channels[:3])})",
                         expected="the recordings' channel names in the 'channel' column")
    return scores.assign_coords(region=(dim, np.array([mapping.get(c, "") for c in channels], dtype=str)))


def find_region_sources(bids_root: str | os.PathLike | None, settings: dict) -> dict:
    """Resolve the ``analyses.regions`` settings to files: ``{"atlas", "atlas_labels", "channel_groups"}``.

    ``"auto"`` looks under ``<bids_root>/derivatives/atlas/`` for one ``*_dseg.nii.gz`` (with its
    ``_dseg.tsv``) and one ``*_channelgroups.tsv`` (the demo dataset ships both); ``None`` means
    none.  Explicit paths may contain ``{bids_root}``.
    """
    root = Path(bids_root) if bids_root else None
    atlas_dir = root / "derivatives" / "atlas" if root else None
    out = {}
    for key, pattern in (("atlas", "*_dseg.nii.gz"), ("channel_groups", "*_channelgroups.tsv")):
        value = settings.get(key, AUTO)
        if value == AUTO:
            hits = sorted(atlas_dir.glob(pattern)) if atlas_dir and atlas_dir.is_dir() else []
            out[key] = str(hits[0]) if hits else None
        elif value:
            out[key] = str(value).format(bids_root=root or "")
        else:
            out[key] = None
    labels = settings.get("atlas_labels", AUTO)
    if labels == AUTO:
        guess = out["atlas"][: -len(".nii.gz")] + ".tsv" if out["atlas"] else None
        out["atlas_labels"] = guess if guess and Path(guess).is_file() else None
    else:
        out["atlas_labels"] = str(labels).format(bids_root=root or "") if labels else None
    for key in ("atlas", "atlas_labels", "channel_groups"):
        if out[key] and not Path(out[key]).is_file():
            raise FileNotFoundError(f"config key 'analyses.regions.{key}': {out[key]} does not exist")
    return out


def attach_regions(scores: xr.Dataset, sources: dict | None, default: str = "all") -> xr.Dataset:
    """``scores`` with a ``region`` coordinate: kept if present, else from the sources, else ``default``.

    Parameters
    ----------
    sources
        Output of :func:`find_region_sources` (or None).
    default
        Region of every target when nothing labels them (whole brain / all sensors as one region).
    """
    dim = target_dim(scores)
    if "region" in scores.coords:
        return scores
    sources = sources or {}
    if dim == "voxel" and sources.get("atlas"):
        return label_voxels(scores, sources["atlas"], sources.get("atlas_labels"))
    if dim == "channel" and sources.get("channel_groups"):
        return label_channels(scores, sources["channel_groups"])
    return scores.assign_coords(region=(dim, np.full(scores.sizes[dim], default)))
