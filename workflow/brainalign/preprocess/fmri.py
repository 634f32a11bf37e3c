"""fMRI preprocessing: one BOLD run -> z-scored ``time x voxel`` DataArray (nilearn).

Volume runs are masked (the MNI152 brain mask nilearn ships, an EPI mask computed from the run, or
a user mask) or reduced to parcel means of a user atlas; surface runs (fMRIPrep ``*.func.gii``,
one file per hemisphere) keep every vertex.  Confounds are picked from an fMRIPrep confounds TSV
with the strategies of nilearn's ``load_confounds`` and regressed out together with detrending and
high-pass filtering in one projection (:func:`nilearn.signal.clean`), then each target is
z-scored over the run.

Times: the ``time`` coordinate is ``(k + time_reference) * tr`` for each retained volume ``k``
counted from the first volume of the run, so dropping initial TRs keeps the alignment with word
onsets (seconds from the run start).  ``time_reference=0.5`` (default) is the middle of the
acquisition, fMRIPrep's slice-timing reference.  :func:`preprocess_run` then moves ``time`` 0 to
the run's stimulus onset (``dataset.stimulus_onset``, :func:`align_to_stimulus`), the clock of the
story's word table.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import nibabel as nib
import numpy as np
import pandas as pd
import xarray as xr

from brainalign.config_sections import defaults, require
from brainalign.io.bids import stimulus_onset, story_segment
from brainalign.io.integrity import load_nifti, nifti_reading
from brainalign.errors import ConfigError, InputError, MissingInputError
from brainalign.io.tr import header_tr, resolve_tr
from brainalign.io.tsv import numeric_column, read_bids_tsv
from brainalign.preprocess.common import zscore_time
from brainalign.preprocess.nonfinite import DEFAULT_MAX_FRACTION, apply_nonfinite_policy, check_policy, clean_attrs

log = logging.getLogger(__name__)

PathLike = str | os.PathLike

# Column families of nilearn.interfaces.fmriprep.load_confounds, by fMRIPrep column name.
_MOTION = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
_WM_CSF = ["white_matter", "csf"]
_GLOBAL = ["global_signal"]
_LEVELS = {
    "basic": ("",),
    "derivatives": ("", "_derivative1"),
    "power2": ("", "_power2"),
    "full": ("", "_derivative1", "_power2", "_derivative1_power2"),
}
#: Default confound strategy (the schema's ``preprocess.fmri.strategy``: "basic" motion + WM/CSF + cosine
#: high-pass regressors), for library callers that pass no strategy.
DEFAULT_STRATEGY = defaults("preprocess.fmri.strategy")
#: Strategy keys that select columns of the confounds file (a true value needs the file).
CONFOUND_KEYS = ("motion", "wm_csf", "global_signal", "compcor", "high_pass", "non_steady_state", "extra")
#: Every key a strategy may hold.
STRATEGY_KEYS = CONFOUND_KEYS + ("n_compcor",)
#: File names fMRIPrep gives the confounds table (``_timeseries`` since 1.2, ``_regressors`` before).
CONFOUNDS_SUFFIXES = ("desc-confounds_timeseries.tsv", "desc-confounds_regressors.tsv")


# ---------------------------------------------------------------------------------- confounds
def check_strategy(strategy: Mapping) -> None:
    """Raise :class:`ConfigError` for a strategy key nilearn's vocabulary does not have (a typo would
    otherwise select nothing, silently)."""
    unknown = sorted(set(strategy) - set(STRATEGY_KEYS))
    if unknown:
        raise ConfigError("preprocess.fmri.strategy", f"unknown key(s) {unknown}", expected=f"keys among {list(STRATEGY_KEYS)}")


def confound_columns(columns: Sequence[str], strategy: Mapping, source: str = "confounds") -> list[str]:
    """Names of the confound columns a nilearn-style strategy selects.

    Parameters
    ----------
    columns
        Columns of the fMRIPrep confounds table.
    strategy
        Keys (each optional): ``motion``, ``wm_csf``, ``global_signal`` — one of ``basic``,
        ``derivatives``, ``power2``, ``full`` (as nilearn's ``load_confounds``); ``compcor`` —
        ``anat_combined`` / ``anat`` (``a_comp_cor_*``), ``temporal`` (``t_comp_cor_*``) or
        ``temporal_anat`` (both), with ``n_compcor`` (int or ``"all"``; required with ``compcor``:
        the schema's default is 5); ``high_pass`` — true to include fMRIPrep's ``cosine*`` regressors; ``non_steady_state`` — true to include
        ``non_steady_state_outlier*``; ``extra`` — a list of further column names.

    Raises
    ------
    ValueError
        If a required column is absent, naming ``source`` and the column.
    """
    cols = list(columns)
    chosen: list[str] = []
    check_strategy(strategy)

    def need(name: str) -> None:
        if name not in cols:
            raise ValueError(f"{source}: confound column '{name}' required by the strategy {dict(strategy)} "
                             f"is missing ({len(cols)} columns present)")
        if name not in chosen:
            chosen.append(name)

    for key, base in (("motion", _MOTION), ("wm_csf", _WM_CSF), ("global_signal", _GLOBAL)):
        level = strategy.get(key)
        if not level:
            continue
        if level not in _LEVELS:
            raise ValueError(f"strategy[{key!r}]={level!r}: expected one of {list(_LEVELS)}")
        for b in base:
            for suffix in _LEVELS[level]:
                need(b + suffix)
    compcor = strategy.get("compcor")
    if compcor:
        prefixes = {"anat_combined": ["a_comp_cor_"], "anat": ["a_comp_cor_"], "anat_separated": ["a_comp_cor_"],
                    "temporal": ["t_comp_cor_"], "temporal_anat": ["t_comp_cor_", "a_comp_cor_"],
                    "temporal_anat_combined": ["t_comp_cor_", "a_comp_cor_"]}
        if compcor not in prefixes:
            raise ValueError(f"strategy['compcor']={compcor!r}: expected one of {list(prefixes)}")
        if "n_compcor" not in strategy:  # the schema fills it; no second default here
            raise ConfigError("preprocess.fmri.strategy.n_compcor", f"missing with compcor={compcor!r}",
                              expected="CompCor components per kind (an integer >= 1) or 'all' (schema default 5)",
                              hint="outside Snakemake, fill the defaults with brainalign.config_sections.with_defaults"
                                   "('preprocess.fmri.strategy', {...})")
        n = strategy["n_compcor"]
        for prefix in prefixes[compcor]:
            found = sorted((c for c in cols if c.startswith(prefix)), key=lambda c: int(re.sub(r"\D", "", c) or 0))
            if not found:
                raise ValueError(f"{source}: confound columns '{prefix}*' required by compcor={compcor!r} are missing")
            if n != "all" and len(found) < int(n):
                raise ValueError(f"{source}: n_compcor={n} but only {len(found)} '{prefix}*' columns")
            chosen += found if n == "all" else found[: int(n)]
    if strategy.get("high_pass"):
        cosines = [c for c in cols if c.startswith("cosine")]
        if not cosines:
            # Otherwise the run would silently go without any high-pass filter.
            raise InputError(source, "strategy high_pass: true selects fMRIPrep's cosine* drift regressors, but the "
                             f"file has none ({len(cols)} columns)", field="columns cosine*",
                             expected="cosine00, cosine01, ... (fMRIPrep writes them for runs longer than the "
                                      "128 s cut-off period)",
                             hint="or set preprocess.fmri.strategy.high_pass: false and preprocess.fmri.high_pass "
                                  "(Hz, a Butterworth filter that needs no confounds file)")
        chosen += cosines
    if strategy.get("non_steady_state"):
        chosen += [c for c in cols if c.startswith("non_steady_state_outlier")]
    for name in strategy.get("extra", []) or []:
        need(name)
    return chosen


def confound_keys(strategy: Mapping | None) -> list[str]:
    """The keys of a confound strategy that select columns of the confounds file (empty: none needed).

    ``motion``, ``wm_csf``, ``global_signal``, ``compcor``, ``high_pass`` (fMRIPrep's cosine
    regressors), ``non_steady_state`` and ``extra`` need the file when set; ``n_compcor`` alone does not.
    A Butterworth high-pass (``preprocess_fmri(high_pass=<Hz>)``, not a strategy key) needs no file.
    """
    strategy = DEFAULT_STRATEGY if strategy is None else strategy
    return [k for k in CONFOUND_KEYS if strategy.get(k)]


def missing_confounds_error(bold: object, strategy: Mapping | None, looked_in: Sequence[str] = ()) -> MissingInputError:
    """The error for a BOLD run without a confounds file whose strategy needs one."""
    keys = confound_keys(strategy)
    where = (f"looked for {' / '.join('*_' + s for s in CONFOUNDS_SUFFIXES)} in " + ", ".join(map(str, looked_in))
             if looked_in else "none was given")
    strategy = dict(DEFAULT_STRATEGY if strategy is None else strategy)
    return MissingInputError(
        str(bold), f"no fMRIPrep confounds file for this BOLD run ({where}), but preprocess.fmri.strategy "
                   f"{strategy} needs one for its key(s) {', '.join(keys)}",
        expected="the run's *_desc-confounds_timeseries.tsv beside the BOLD file or in the fMRIPrep derivatives",
        hint="to run without confound regression set preprocess.fmri.strategy: {} (and, for a high-pass filter, "
             "preprocess.fmri.high_pass in Hz: a Butterworth filter that needs no confounds file)")


def load_confounds(confounds: PathLike | pd.DataFrame, strategy: Mapping, n_volumes: int) -> pd.DataFrame:
    """The selected confound regressors of an fMRIPrep confounds table, one row per volume.

    The file is read as a BIDS TSV (:func:`brainalign.io.tsv.read_bids_tsv`: tabs, no quoting,
    ``n/a`` missing).  fMRIPrep leaves the first row(s) of derivative and framewise-displacement
    columns ``n/a`` (no previous volume): such *leading* missing values are set to the column's
    mean (as nilearn's ``load_confounds`` does), logged.  A missing value after the first finite
    one, or a non-finite number, is an error.

    Raises
    ------
    MissingInputError
        The file does not exist or is empty.
    InputError
        Missing columns, a row count different from the number of volumes, a value that is not a
        number or a missing value inside a column (naming the file, column and line).
    """
    if isinstance(confounds, pd.DataFrame):
        table, source = confounds, str(confounds.attrs.get("source", "confounds table"))
    else:
        source = str(confounds)
        table = read_bids_tsv(confounds, what="fMRIPrep confounds file", allow_empty=False)
    if len(table) != n_volumes:
        raise InputError(source, f"{len(table)} rows of confounds but the run has {n_volumes} volumes",
                         expected="one row per volume of the BOLD run")
    cols = confound_columns(table.columns, strategy, source)
    out = {}
    filled = {}
    for c in cols:
        values = numeric_column(table, c, source=source, expected="a number (fMRIPrep confound)", allow_missing=True)
        nan = np.isnan(values)
        if np.isinf(values).any():
            line = int(np.flatnonzero(np.isinf(values))[0]) + 2
            raise InputError(source, "infinite value", field=f"column '{c}', line {line}", expected="a finite number")
        if nan.all():
            raise InputError(source, "every value is n/a", field=f"column '{c}'", expected="numbers")
        lead = int(np.argmax(~nan))
        if nan[lead:].any():
            line = int(lead + np.flatnonzero(nan[lead:])[0]) + 2
            raise InputError(source, "missing value (n/a) after the column's first value", field=f"column '{c}', line {line}",
                             expected="n/a only in the first row(s) (derivatives, framewise displacement)")
        if lead:
            values[:lead] = values[lead:].mean()
            filled[c] = lead
        out[c] = values
    if filled:
        log.info("%s: leading n/a of %s set to the column mean", source, filled)
    return pd.DataFrame(out, index=table.index, columns=cols, dtype=float)


def _nonfinite_volume(run: nib.spatialimages.SpatialImage, inside: np.ndarray, *, policy: str, max_fraction: float,
                      where: str, times: np.ndarray, first_volume: int) -> tuple[nib.spatialimages.SpatialImage, dict]:
    """Apply the non-finite policy to the target voxels (``inside``) of a 4D run, before masking.

    nilearn's maskers set non-finite values to 0, which z-scoring turns into a spike; so they are
    found here first.  Non-finite values outside the targets are set to 0 (what the masker would
    do; logged) so that smoothing cannot carry them into the targets.
    """
    arr = np.asanyarray(run.dataobj)
    if not np.issubdtype(arr.dtype, np.floating) or np.isfinite(arr).all():
        check_policy(policy, "fmri", max_fraction, key="preprocess.fmri")
        return run, clean_attrs(policy, max_fraction)
    arr = np.array(arr, copy=True)
    ijk = np.argwhere(inside)  # C order == NiftiMasker's voxel order
    result = apply_nonfinite_policy(arr[inside].T, policy=policy, max_fraction=max_fraction, source=where,
                                    modality="fmri", key="preprocess.fmri", target_names=_VoxelNames(ijk),
                                    times=times, what="voxel", sample_name="volume", first_sample=first_volume)
    arr[inside] = result.data.T
    outside = ~np.isfinite(arr)
    if outside.any():
        n_out = int(outside.any(axis=-1).sum())
        log.info("%s: %d voxel(s) outside the mask/atlas hold non-finite values; set to 0", where, n_out)
        arr[outside] = 0.0
        result.attrs["nonfinite_outside_targets"] = n_out
    return nib.Nifti1Image(arr, run.affine, run.header), result.attrs


class _VertexNames:
    """Vertex names ``"L 123"`` on demand."""

    def __init__(self, surf: Mapping) -> None:
        self.surf = surf

    def __getitem__(self, c: int) -> str:
        return f"{self.surf['hemi'][c]} {self.surf['vertex'][c]}"


class _VoxelNames:
    """Voxel names ``"i,j,k"`` on demand (a run has ~10^5 voxels; messages show a few)."""

    def __init__(self, ijk: np.ndarray) -> None:
        self.ijk = ijk

    def __len__(self) -> int:
        return len(self.ijk)

    def __getitem__(self, c: int) -> str:
        return "ijk ({},{},{})".format(*self.ijk[c])


# ---------------------------------------------------------------------------------- loading
def _load_surface(paths: Sequence[PathLike]) -> tuple[np.ndarray, dict]:
    """Time x vertex data of one or two GIFTI func files (left then right hemisphere)."""
    blocks, hemis, verts = [], [], []
    for p in paths:
        img = nib.load(str(p))
        arrays = [np.asarray(d.data) for d in img.darrays]
        if len(arrays) == 1 and arrays[0].ndim == 2:  # one (vertex x time) array
            data = arrays[0].T
        else:  # fMRIPrep: one (vertex,) array per volume
            data = np.stack(arrays, axis=0)
        m = re.search(r"hemi-([LR])", Path(p).name)
        hemi = m.group(1) if m else ("L" if len(blocks) == 0 else "R")
        blocks.append(data.astype(np.float64))
        hemis += [hemi] * data.shape[1]
        verts += list(range(data.shape[1]))
    n_t = {b.shape[0] for b in blocks}
    if len(n_t) != 1:
        raise ValueError(f"{list(map(str, paths))}: hemispheres have different numbers of volumes {sorted(n_t)}")
    return np.concatenate(blocks, axis=1), {"hemi": np.array(hemis), "vertex": np.array(verts)}


#: Vertices per hemisphere of FreeSurfer's icosahedral fsaverage meshes (ico order 5, 6, 7).
FSAVERAGE_SIZES = {10242: "fsaverage5", 40962: "fsaverage6", 163842: "fsaverage"}
#: The fsaverage meshes are nested: icosahedral subdivision appends the new vertices after the old
#: ones, so the first 10242 vertices of fsaverage6/fsaverage of a hemisphere are fsaverage5's vertices
#: (A. M. Winkler, "Downsampling (decimating) a brain surface", brainder.org, 2016; checked on nilearn's
#: fsaverage5 by test_fsaverage5_is_nested_icosahedron in tests/unit/preprocess/test_fmri_real_datasets.py).
N_FSAVERAGE5 = 10242


def _fsaverage_full_mesh(name: str) -> dict[str, np.ndarray] | None:
    """Pial coordinates of ``name`` (fsaverage6/fsaverage) per hemisphere, without a download.

    Looks in ``$SUBJECTS_DIR/<name>/surf/{lh,rh}.pial`` (FreeSurfer), then
    ``$FREESURFER_HOME/subjects/<name>``, then nilearn's data directory
    (``nilearn.datasets.get_data_dirs()``, where ``fetch_surf_fsaverage`` leaves ``<name>/pial_{left,right}.gii.gz``).
    """
    roots = [Path(os.environ[v]) / sub for v, sub in (("SUBJECTS_DIR", ""), ("FREESURFER_HOME", "subjects"))
             if os.environ.get(v)]
    for root in roots:
        lh, rh = root / name / "surf" / "lh.pial", root / name / "surf" / "rh.pial"
        if lh.exists() and rh.exists():
            return {"L": nib.freesurfer.read_geometry(str(lh))[0], "R": nib.freesurfer.read_geometry(str(rh))[0]}
    try:
        from nilearn.datasets import get_data_dirs
        data_dirs = [Path(d) for d in get_data_dirs()]
    except Exception:  # pragma: no cover - nilearn always has it
        data_dirs = []
    for d in data_dirs:
        for folder in (d / name, d / "fsaverage" / name):
            files = {h: next(iter(sorted(folder.glob(f"pial_{side}.gii*"))), None)
                     for h, side in (("L", "left"), ("R", "right"))}
            if all(files.values()):
                return {h: np.asarray(nib.load(str(f)).darrays[0].data) for h, f in files.items()}
    return None


def _surface_xyz(n_per_hemi: dict[str, int]) -> np.ndarray | None:
    """Pial coordinates (mm) of the fsaverage mesh with this many vertices per hemisphere.

    fsaverage5 ships with nilearn.  For the denser meshes (fsaverage6: Narratives' surface space) the
    full mesh is used where it is on disk (:func:`_fsaverage_full_mesh`); offline, the nesting of the
    icosahedral meshes gives the first 10242 vertices of each hemisphere fsaverage5's coordinates and
    the others NaN (logged), which is what plotting on fsaverage5 needs.
    """
    n = set(n_per_hemi.values())
    if len(n) != 1 or next(iter(n)) not in FSAVERAGE_SIZES:
        return None
    size = next(iter(n))
    name = FSAVERAGE_SIZES[size]
    parts = None
    if size != N_FSAVERAGE5:
        parts = _fsaverage_full_mesh(name)
        if parts is not None and any(len(parts[h]) != size for h in parts):
            log.warning("%s mesh on disk has %s vertices, expected %d per hemisphere; not used", name,
                        {h: len(v) for h, v in parts.items()}, size)
            parts = None
    if parts is None:
        try:
            from nilearn.datasets import load_fsaverage
            mesh = load_fsaverage("fsaverage5")["pial"]
        except Exception as err:  # coordinates are optional
            log.info("no fsaverage5 mesh for coordinates (%s)", err)
            return None
        parts = {}
        for h, side in (("L", "left"), ("R", "right")):
            xyz = np.full((size, 3), np.nan)
            xyz[:N_FSAVERAGE5] = np.asarray(mesh.parts[side].coordinates)
            parts[h] = xyz
        if size != N_FSAVERAGE5:
            log.info("%s mesh not on disk: coordinates of its first %d vertices per hemisphere from fsaverage5 "
                     "(nested icosahedral meshes), NaN for the other %d", name, N_FSAVERAGE5, size - N_FSAVERAGE5)
    return np.concatenate([np.asarray(parts[h], dtype=float) for h in n_per_hemi])


def _resolve_mask(mask: str | PathLike | nib.Nifti1Image, ref: nib.Nifti1Image, where: str) -> nib.Nifti1Image:
    from nilearn.masking import compute_epi_mask

    if mask is None:
        raise ValueError(f"{where}: mask=None; volume data need a mask: 'mni152', 'epi' or a mask image path")
    if isinstance(mask, str) and mask == "epi":
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = compute_epi_mask(ref)
        if not np.asarray(img.dataobj).any():
            raise ValueError(f"{where}: the EPI mask computed from the run is empty (already detrended data?); "
                             "pass a mask image")
        return img
    if isinstance(mask, str) and mask.lower() in ("mni152", "mni"):
        from nilearn.datasets import load_mni152_brain_mask
        img = _label_image_on_grid(load_mni152_brain_mask(resolution=2), ref, "MNI152 mask")
    else:
        img = _label_image_on_grid(mask, ref, "mask image", hint=" (or use 'mni152' / 'epi')")
    data = np.asarray(img.dataobj) > 0.5
    if not data.any():
        raise ValueError(f"{where}: mask {mask!r} is empty on the BOLD grid (is the BOLD in the mask's space?)")
    return nib.Nifti1Image(data.astype(np.int8), ref.affine)


def _label_image_on_grid(image: PathLike | nib.Nifti1Image, ref: nib.Nifti1Image, what: str,
                         hint: str = "") -> nib.Nifti1Image:
    """A mask or label image (path or image) on the BOLD run's voxel grid.

    Nearest-neighbour resampling keeps labels whole, and the image always goes to the BOLD grid,
    never the BOLD to the image's (often finer) grid.
    """
    from nilearn.image import resample_to_img

    if isinstance(image, nib.spatialimages.SpatialImage):
        img = image
    else:
        if not Path(image).exists():
            raise FileNotFoundError(f"{image}: {what} not found{hint}")
        img = load_nifti(image, what=what)
    if img.shape[:3] != ref.shape[:3] or not np.allclose(img.affine, ref.affine):
        ref3d = nib.Nifti1Image(np.zeros(ref.shape[:3], np.int8), ref.affine)
        img = resample_to_img(img, ref3d, interpolation="nearest", force_resample=True, copy_header=True)
    return img


def _resolve_atlas(atlas: PathLike | nib.Nifti1Image, ref: nib.Nifti1Image) -> nib.Nifti1Image:
    img = _label_image_on_grid(atlas, ref, "atlas image")
    if not np.asarray(img.dataobj).any():
        raise ValueError(f"atlas {atlas}: no labelled voxel on the BOLD grid")
    return img


def _atlas_labels(path: PathLike | None, values: np.ndarray) -> list[str]:
    if path is None:
        return [str(int(v)) for v in values]
    path = Path(path)
    key = "preprocess.fmri.atlas_labels"
    if path.name.endswith((".tsv", ".tsv.gz")):
        # a BIDS dseg table: tab-separated, no quoting (a label with a double quote stays as written)
        table = read_bids_tsv(path, what="atlas label table", na=False, allow_empty=False)
    else:
        if not path.exists():
            raise MissingInputError(path, "atlas label table does not exist", hint=f"check {key}")
        try:
            table = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as err:
            raise InputError(path, f"atlas label table cannot be read: {err}",
                             expected="a delimited table with columns 'index' and 'name'", hint=f"check {key}") from err
    cols = {str(c).lower(): c for c in table.columns}
    idx, name = cols.get("index"), cols.get("name") or cols.get("label")
    if idx is None or name is None:
        raise InputError(path, f"atlas label table has columns {list(table.columns)}",
                         expected="columns 'index' and 'name' (or 'label')", hint=f"check {key}")
    try:
        index = table[idx].astype(float).astype(int)
    except (TypeError, ValueError) as err:
        raise InputError(path, f"atlas label table: column '{idx}' holds a value that is not an integer ({err})",
                         field=f"column '{idx}'", expected="the integer atlas values") from err
    lut = dict(zip(index, table[name]))
    missing = [int(v) for v in values if int(v) not in lut]
    if missing:
        raise InputError(path, f"atlas values {missing[:10]} have no label", field=f"column '{idx}'",
                         expected="a row for every value of the atlas image", hint=f"check {key}")
    return [lut[int(v)] for v in values]


# ---------------------------------------------------------------------- phases of preprocess_fmri
@dataclass
class _Run:
    """A loaded BOLD run, as the phases of :func:`preprocess_fmri` pass it on."""

    source: Path | None
    tr: float
    n_vol: int
    img: nib.spatialimages.SpatialImage | None = None  # volume mode
    data: np.ndarray | None = None  # surface mode: time x vertex
    surf: dict | None = None  # surface mode: hemi and vertex of each column
    xyz: np.ndarray | None = None  # surface mode: vertex positions (mm)
    coords: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    @property
    def where(self) -> str:
        """The run's file, for messages."""
        return str(self.source) if self.source is not None else "bold image"


def _check_request(bold: object, paths: object, confounds: object, strategy: Mapping, nonfinite: str,
                   nonfinite_max_fraction: float) -> None:
    """Options checked before reading anything: the non-finite policy, the strategy, a needed confounds file."""
    check_policy(nonfinite, "fmri", nonfinite_max_fraction, key="preprocess.fmri")
    check_strategy(strategy)
    if confounds is None and confound_keys(strategy):
        named = bold if isinstance(bold, (str, os.PathLike)) else (
            paths[0] if isinstance(paths, Sequence) and paths else "bold image")
        raise missing_confounds_error(named, strategy)


def _load_run(bold: PathLike | nib.Nifti1Image | Sequence[PathLike], paths: object, surface: bool | None,
              tr: float | None, sidecar: PathLike | None) -> _Run:
    """Read the run (GIFTI surface files, or a 4D image verified on reading) and resolve its TR.

    A surface run gets coords ``hemi``/``vertex``, an identity affine, ``space="surface"`` and the
    vertex positions of the matching fsaverage mesh (NaN when none matches).
    """
    is_surface = surface if surface is not None else (
        isinstance(paths, Sequence) and not isinstance(paths, nib.Nifti1Image)
        and all(str(p).endswith(".gii") for p in paths))
    if is_surface:
        data, surf = _load_surface(paths)
        source = Path(paths[0])
        run = _Run(source, resolve_tr(source, None, tr, sidecar), data.shape[0], data=data, surf=surf)
        n_per_hemi = {h: int((surf["hemi"] == h).sum()) for h in dict.fromkeys(surf["hemi"])}
        xyz = _surface_xyz(n_per_hemi)
        run.xyz = np.full((data.shape[1], 3), np.nan) if xyz is None else xyz
        run.coords.update(hemi=("voxel", surf["hemi"]), vertex=("voxel", surf["vertex"]))
        run.attrs.update(affine=np.eye(4).tolist(), mask_shape=[data.shape[1]], space="surface")
        return run
    img = bold if isinstance(bold, nib.spatialimages.SpatialImage) else load_nifti(bold, what="BOLD image", verify=True)
    source = None if isinstance(bold, nib.spatialimages.SpatialImage) else Path(bold)
    if img.ndim != 4:
        raise ValueError(f"{source or 'bold image'}: expected a 4D image, got shape {img.shape}")
    return _Run(source, resolve_tr(source, header_tr(img), tr, sidecar), img.shape[3], img=img)


def _retained_volumes(n_vol: int, drop_initial_trs: int, trim_end_trs: int, tr: float, time_reference: float,
                      where: str) -> tuple[slice, np.ndarray]:
    """The retained volumes and their times: ``(k + time_reference) * tr`` for volume ``k`` of the run.

    Times count from the run's first volume, dropped or not, so dropping initial TRs keeps the
    alignment with word onsets.  Fewer than 3 retained volumes is an error.
    """
    stop = n_vol - int(trim_end_trs)
    if drop_initial_trs < 0 or trim_end_trs < 0 or stop - int(drop_initial_trs) < 3:
        raise ValueError(f"{where}: {n_vol} volumes leave too few after dropping {drop_initial_trs} initial and "
                         f"{trim_end_trs} final TRs")
    keep = slice(int(drop_initial_trs), stop)
    return keep, (np.arange(keep.start, keep.stop) + time_reference) * tr


def _run_confounds(confounds: PathLike | pd.DataFrame | None, strategy: Mapping, run: _Run,
                   keep: slice) -> pd.DataFrame | None:
    """The strategy's confound columns over the retained volumes (None without a confounds file)."""
    if confounds is None:
        return None
    conf = load_confounds(confounds, strategy, run.n_vol).iloc[keep]
    run.attrs["confounds"] = list(conf.columns)
    return conf


def _extract_targets(run: _Run, keep: slice, times: np.ndarray, nonfinite: str, max_fraction: float, *,
                     mask: str | PathLike | nib.Nifti1Image, atlas: PathLike | nib.Nifti1Image | None,
                     atlas_labels: PathLike | None, smoothing_fwhm: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``time x target`` data of the retained volumes ``keep`` (at ``times``) and target positions (mm).

    Targets are parcels (``atlas``), in-mask voxels or surface vertices.  The non-finite policy is
    applied first (before masking, see :func:`_nonfinite_volume`); its record goes to ``run.attrs``.
    """
    nf = {"policy": nonfinite, "max_fraction": max_fraction, "where": run.where, "times": times,
          "first_volume": keep.start}
    if run.img is not None:
        from nilearn.image import index_img

        retained = index_img(run.img, keep)
        if atlas is not None:
            data, xyz, nf_attrs = _extract_parcels(retained, run.img, atlas, atlas_labels, smoothing_fwhm, nf,
                                                   run.coords, run.attrs)
        else:
            data, xyz, nf_attrs = _extract_mask(retained, run.img, mask, smoothing_fwhm, nf, run.attrs)
    else:
        result = apply_nonfinite_policy(run.data[keep], policy=nf["policy"], max_fraction=nf["max_fraction"],
                                        source=nf["where"], modality="fmri", key="preprocess.fmri",
                                        target_names=_VertexNames(run.surf), times=nf["times"], what="vertex",
                                        sample_name="volume", first_sample=nf["first_volume"])
        data, xyz, nf_attrs = result.data, run.xyz, result.attrs
    run.attrs.update(nf_attrs)
    return data, xyz


def _parcel_means(voxels: np.ndarray, labels: np.ndarray, ijk: np.ndarray,
                  affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Average ``time x voxel`` data within each label.

    ``labels`` (non-zero atlas value) and ``ijk`` (grid index) describe each voxel column.  Returns
    the ``time x parcel`` means, the label values (sorted), the voxels per parcel and each parcel's
    centroid in world coordinates (mm, through ``affine``).
    """
    values, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse)
    data = np.zeros((voxels.shape[0], len(values)))
    for j in range(len(values)):
        data[:, j] = voxels[:, inverse == j].mean(axis=1)
    ijk_cent = np.stack([np.bincount(inverse, weights=ijk[:, d]) / counts for d in range(3)], axis=1)
    return data, values, counts, nib.affines.apply_affine(affine, ijk_cent)


def _extract_parcels(run: nib.spatialimages.SpatialImage, img: nib.spatialimages.SpatialImage,
                     atlas: PathLike | nib.Nifti1Image, atlas_labels: PathLike | None, smoothing_fwhm: float | None,
                     nf: Mapping, coords: dict, attrs: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Atlas mode: parcel means of the retained volumes ``run``; returns data, centroids, non-finite record.

    The atlas goes to the BOLD grid (nearest), voxels are averaged per label.  ``nf`` holds the
    keyword arguments of :func:`_nonfinite_volume`; fills ``coords`` (``region``, ``n_voxels``) and ``attrs``.
    """
    from nilearn.maskers import NiftiMasker

    atlas_img = _resolve_atlas(atlas, img)
    labels_data = np.asarray(atlas_img.dataobj).astype(np.int64)
    inside = labels_data != 0
    run, nf_attrs = _nonfinite_volume(run, inside, **nf)
    masker = NiftiMasker(mask_img=nib.Nifti1Image(inside.astype(np.int8), img.affine),
                         smoothing_fwhm=smoothing_fwhm, standardize=None)
    voxels = masker.fit().transform(run)
    # C order == NiftiMasker's voxel order
    data, values, counts, xyz = _parcel_means(voxels, labels_data[inside], np.argwhere(inside), img.affine)
    coords["region"] = ("voxel", np.array(_atlas_labels(atlas_labels, values), dtype=str))
    coords["n_voxels"] = ("voxel", counts)
    attrs.update(affine=img.affine.tolist(), mask_shape=list(img.shape[:3]), atlas=str(atlas))
    return data, xyz, nf_attrs


def _extract_mask(run: nib.spatialimages.SpatialImage, img: nib.spatialimages.SpatialImage,
                  mask: str | PathLike | nib.Nifti1Image, smoothing_fwhm: float | None, nf: Mapping,
                  attrs: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Mask mode: the in-mask voxels of ``run``; returns data, voxel positions (mm), non-finite record."""
    from nilearn.maskers import NiftiMasker

    mask_img = _resolve_mask(mask, img, nf["where"])
    run, nf_attrs = _nonfinite_volume(run, np.asarray(mask_img.dataobj) > 0, **nf)
    masker = NiftiMasker(mask_img=mask_img, smoothing_fwhm=smoothing_fwhm, standardize=None)
    data = masker.fit().transform(run)
    ijk = np.argwhere(np.asarray(mask_img.dataobj) > 0)  # C order == NiftiMasker's voxel order
    xyz = nib.affines.apply_affine(img.affine, ijk)
    attrs.update(affine=img.affine.tolist(), mask_shape=list(img.shape[:3]),
                 mask=str(mask) if isinstance(mask, (str, os.PathLike)) else "image")
    return data, xyz, nf_attrs


def _clean_targets(data: np.ndarray, conf: pd.DataFrame | None, *, detrend: bool, high_pass: float | None,
                   low_pass: float | None, tr: float, standardize: bool, where: str) -> np.ndarray:
    """Detrend, regress the confounds and filter in one projection, then z-score (float32)."""
    from nilearn import signal

    # One projection: detrend + confounds + filter (nilearn orthogonalises them together).
    cleaned = signal.clean(np.asarray(data, np.float64), detrend=detrend, standardize=None,
                           confounds=None if conf is None or conf.shape[1] == 0 else conf.to_numpy(),
                           high_pass=high_pass, low_pass=low_pass, t_r=tr)
    return zscore_time(cleaned, where) if standardize else cleaned.astype(np.float32)


def _targets_dataarray(values: np.ndarray, times: np.ndarray, xyz: np.ndarray, coords: Mapping) -> xr.DataArray:
    """The ``time x voxel`` DataArray with ``time`` (s) and ``x, y, z`` (mm) besides ``coords``."""
    coords = {**coords, "time": ("time", times), "x": ("voxel", xyz[:, 0]), "y": ("voxel", xyz[:, 1]),
              "z": ("voxel", xyz[:, 2])}
    out = xr.DataArray(values, dims=("time", "voxel"), name="data",
                       coords={"voxel": np.arange(values.shape[1]), **coords})
    out.time.attrs["units"] = "s"
    for c in ("x", "y", "z"):
        out[c].attrs["units"] = "mm"
    return out


# --------------------------------------------------------------------------------------- main
def preprocess_fmri(
    bold: PathLike | nib.Nifti1Image | Sequence[PathLike],
    *,
    confounds: PathLike | pd.DataFrame | None = None,
    mask: str | PathLike | nib.Nifti1Image = "mni152",
    strategy: Mapping | None = None,
    detrend: bool = True,
    high_pass: float | None = None,
    low_pass: float | None = None,
    standardize: bool = True,
    drop_initial_trs: int = 0,
    trim_end_trs: int = 0,
    tr: float | None = None,
    sidecar: PathLike | None = None,
    atlas: PathLike | nib.Nifti1Image | None = None,
    atlas_labels: PathLike | None = None,
    smoothing_fwhm: float | None = None,
    surface: bool | None = None,
    time_reference: float = 0.5,
    nonfinite: str = "error",
    nonfinite_max_fraction: float = DEFAULT_MAX_FRACTION,
) -> xr.DataArray:
    """Clean one BOLD run into a z-scored ``time x voxel`` DataArray.

    Parameters
    ----------
    bold
        4D NIfTI (path or image), or surface data: one or two GIFTI files (``hemi-L``, ``hemi-R``).
    confounds
        fMRIPrep confounds TSV (or table).  ``None`` is accepted only with a strategy that selects
        no column (``strategy={}``, see :func:`confound_keys`); otherwise it is an error rather
        than a run silently left without confound regression and cosine high-pass.
    mask
        ``"mni152"`` (nilearn's MNI152 brain mask resampled to the BOLD grid), ``"epi"`` (computed
        from the run, for native-space data), or a mask image/path.  Ignored with ``atlas``.
    strategy
        Confound selection as in nilearn's ``load_confounds`` (see :func:`confound_columns`);
        default ``{"motion": "basic", "wm_csf": "basic", "high_pass": True}``; ``{}`` = no confounds.
    detrend, high_pass, low_pass
        Linear detrend; Butterworth cut-offs (Hz), applied in the same step as confound regression
        (they need no confounds file, unlike the strategy's ``high_pass``: fMRIPrep's cosine regressors).
    standardize
        Z-score each target over the retained volumes (per run).
    drop_initial_trs, trim_end_trs
        Volumes removed at the start / end (before cleaning; times keep counting from volume 0).
    tr
        Repetition time (s); checked against the header and the sidecar (``<bold>.json`` or
        ``sidecar``), a disagreement is an error.
    atlas, atlas_labels
        Label image: targets become parcel means (coordinate ``region`` from the label table, a TSV
        with ``index`` and ``name``).
    smoothing_fwhm
        Spatial smoothing (mm) before extraction (volume only).
    surface
        Force surface mode (default: GIFTI inputs).
    time_reference
        Fraction of the TR at which a volume is stamped (0.5: acquisition middle).
    nonfinite, nonfinite_max_fraction
        NaN/inf in the target voxels of the retained volumes: ``"error"`` (default) or
        ``"interpolate"`` (linear in time per voxel; a voxel with more than
        ``nonfinite_max_fraction`` of its volumes non-finite is set to 0), see
        :mod:`brainalign.preprocess.nonfinite`.  Checked before masking: nilearn would set them to 0.

    Returns
    -------
    xarray.DataArray
        ``data`` (float32, ``time x voxel``) with coords ``time`` (s), ``x, y, z`` (mm; parcel
        centroids with an atlas; pial vertex positions on fsaverage surfaces when the mesh is
        available), ``region`` (atlas), ``hemi``/``vertex`` (surface); attrs ``tr``, ``affine``,
        ``mask_shape``, ``n_volumes``, ``drop_initial_trs``, ``confounds`` (chosen columns), the
        non-finite record (``nonfinite``, ``nonfinite_values``, ``nonfinite_targets``, ...).

    Raises
    ------
    MissingInputError
        No confounds file while the strategy selects confound columns.
    InputError
        Non-finite samples (policy ``error``), bad confounds file — naming the file.
    ValueError
        TR disagreement, missing confound columns, too few volumes, empty mask — naming the file.
    """
    strategy = DEFAULT_STRATEGY if strategy is None else dict(strategy)
    paths = [bold] if isinstance(bold, (str, os.PathLike)) else bold
    _check_request(bold, paths, confounds, strategy, nonfinite, nonfinite_max_fraction)
    run = _load_run(bold, paths, surface, tr, sidecar)
    keep, kept_times = _retained_volumes(run.n_vol, drop_initial_trs, trim_end_trs, run.tr, time_reference, run.where)
    conf = _run_confounds(confounds, strategy, run, keep)
    data, xyz = _extract_targets(run, keep, kept_times, nonfinite, nonfinite_max_fraction, mask=mask, atlas=atlas,
                                 atlas_labels=atlas_labels, smoothing_fwhm=smoothing_fwhm)
    values = _clean_targets(data, conf, detrend=detrend, high_pass=high_pass, low_pass=low_pass, tr=run.tr,
                            standardize=standardize, where=run.where)
    out = _targets_dataarray(values, kept_times, xyz, run.coords)
    out.attrs.update(run.attrs, tr=float(run.tr), n_volumes=int(run.n_vol), drop_initial_trs=int(drop_initial_trs),
                     trim_end_trs=int(trim_end_trs), time_reference=float(time_reference),
                     detrend=bool(detrend), high_pass=high_pass if high_pass is None else float(high_pass),
                     standardize=bool(standardize), source_file=run.where)
    return out


# ------------------------------------------------------------- LeBel et al. 2023 responses
def read_hf5_responses(path: PathLike, dataset: str = "data") -> np.ndarray:
    """The ``time x voxel`` array of one LeBel et al. (2023) preprocessed response file.

    ``derivative/preprocessed_data/<subject>/<story>.hf5`` of OpenNeuro ds003020 holds one HDF5
    dataset ``data`` (TRs x voxels of the subject's cortical voxel space).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        No dataset ``dataset`` in the file (naming the datasets found) or not 2-D (naming the shape).
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: preprocessed response file not found")
    with h5py.File(path, "r") as f:
        if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
            raise ValueError(f"{path}: no HDF5 dataset '{dataset}' (found: {sorted(f.keys())}); expected the "
                             "LeBel et al. 2023 layout, one 2-D dataset 'data' of shape (time, voxel)")
        data = f[dataset][()]
    if data.ndim != 2:
        raise ValueError(f"{path}: dataset '{dataset}' has shape {data.shape}; expected 2-D (time, voxel)")
    if data.shape[0] < 3:
        raise ValueError(f"{path}: dataset '{dataset}' has {data.shape[0]} time points; expected (time, voxel) "
                         "with at least 3 TRs (is it stored voxel x time?)")
    return np.asarray(data)


def preprocess_hf5(
    path: PathLike,
    *,
    tr: float,
    first_volume: int = 10,
    dataset: str = "data",
    standardize: bool = True,
    time_reference: float = 0.5,
    nonfinite: str = "error",
    nonfinite_max_fraction: float = DEFAULT_MAX_FRACTION,
) -> xr.DataArray:
    """LeBel et al. (2023) preprocessed responses -> the Preprocessed ``time x voxel`` contract.

    The released files are already motion-corrected, detrended and trimmed by the authors; this
    only stamps times and z-scores.  NaN/inf values follow the ``preprocess.fmri`` policy
    (``nonfinite``: an error by default; ``interpolate`` fills them linearly in time and sets a voxel
    with more than ``nonfinite_max_fraction`` of its TRs undefined to 0), never the authors'
    loaders' silent ``np.nan_to_num`` (a 0 among z-scored values is a spike).

    Parameters
    ----------
    path
        ``<story>.hf5``.
    tr
        Repetition time (s); the files carry none (the authors' code simulates a 2.0 s TR grid).
    first_volume
        Index, on that TR grid, of the file's first row: the released files drop the first 10 and the
        last 5 TRs of each story (HuthLab/deep-fMRI-dataset trims the features ``[5 + trim:-trim]``
        with ``trim = 5`` to match them), so row ``j`` is stamped ``(j + first_volume + time_reference) * tr``.
    dataset, standardize, time_reference
        HDF5 dataset name; z-score each voxel over the story; stamp point within a TR.
    nonfinite, nonfinite_max_fraction
        As in :func:`preprocess_fmri`.

    Returns
    -------
    xarray.DataArray
        ``data`` (float32, ``time x voxel``), coords ``time`` and ``x, y, z`` (NaN: the voxels are
        in the subject's own cortical space, no MNI coordinates), attrs ``tr``, ``n_volumes``,
        ``drop_initial_trs`` (= ``first_volume``), ``space`` (``subject-cortical``), ``source_file``,
        the non-finite record (``nonfinite`` ...).

    Raises
    ------
    InputError
        Non-finite values with ``nonfinite="error"`` (naming the file, voxel count and TRs).
    """
    path = Path(path)
    raw = read_hf5_responses(path, dataset).astype(np.float64)
    n, n_vox = raw.shape
    times = (np.arange(int(first_volume), int(first_volume) + n) + time_reference) * float(tr)
    result = apply_nonfinite_policy(raw, policy=nonfinite, max_fraction=nonfinite_max_fraction, source=str(path),
                                    modality="fmri", key="preprocess.fmri", times=times, what="voxel",
                                    sample_name="row")
    raw = result.data
    values = zscore_time(raw, str(path)) if standardize else raw.astype(np.float32)
    nan = np.full(n_vox, np.nan)
    out = xr.DataArray(values, dims=("time", "voxel"), name="data",
                       coords={"voxel": np.arange(n_vox), "time": ("time", times),
                               "x": ("voxel", nan), "y": ("voxel", nan), "z": ("voxel", nan)})
    out.time.attrs["units"] = "s"
    out.attrs.update(tr=float(tr), n_volumes=int(n + first_volume), drop_initial_trs=int(first_volume),
                     trim_end_trs=0, time_reference=float(time_reference), standardize=bool(standardize),
                     affine=np.eye(4).tolist(), mask_shape=[int(n_vox)], space="subject-cortical",
                     source_file=str(path), hf5_dataset=dataset, **result.attrs)
    return out


# ------------------------------------------------------------ several stories in one run
def crop_story(
    data: xr.DataArray,
    onset: float,
    story_end: float,
    tail: float,
    *,
    standardize: bool = True,
    where: str = "run",
    origin: float | None = None,
) -> xr.DataArray:
    """One story's segment of a cleaned run that holds several stories (Narratives' slumlordreach).

    Confounds and filters are fitted on the whole run first (more volumes, no edge effects at the
    cut); the segment is then cut and, with ``standardize``, z-scored on its own so that every story
    unit follows the per-run z-scoring of the Preprocessed contract.

    Parameters
    ----------
    data
        Output of :func:`preprocess_fmri` for the whole run (``time`` from the run start).
    onset
        Story start within the run (s).
    story_end
        Story end relative to ``onset`` (s): its duration, or its last word's offset.
    tail
        Seconds kept after ``story_end``: the hemodynamic response to the last words peaks ~5 s
        later and the FIR delays of ``design.fmri`` reach back that far.
    standardize, where
        Z-score the segment; name used in messages.
    origin
        Run time (s) that becomes ``time`` 0: the 0 of the story's word table (default ``onset``;
        :func:`preprocess_run` sets it from the run's stimulus onset when the word table is cut from
        an alignment of the whole audio).

    Returns
    -------
    xarray.DataArray
        Volumes stamped in ``[onset, onset + story_end + tail]``, ``time`` re-zeroed at ``origin``
        (the story start by default, so the story's word table, in seconds from the story start,
        lines up), attrs ``run_onset``, ``story_end``, ``tail``, ``time_origin``.

    Raises
    ------
    ValueError
        Negative values, or a segment that leaves fewer than 3 volumes (naming ``where``).
    """
    if onset < 0 or story_end <= 0 or tail < 0:
        raise ValueError(f"{where}: story segment onset={onset}, end={story_end}, tail={tail}: expected onset >= 0, "
                         "end > 0 and tail >= 0 (seconds)")
    t = data["time"].values
    keep = (t >= onset) & (t <= onset + story_end + tail)
    if keep.sum() < 3:
        raise ValueError(f"{where}: the story segment {onset:g}-{onset + story_end + tail:g} s holds {int(keep.sum())} "
                         f"volume(s) of a run stamped {t.min():g}-{t.max():g} s; check dataset.story_runs")
    if onset + story_end + tail > t.max() + float(data.attrs.get("tr", 0.0)):
        log.warning("%s: story segment ends at %.1f s, after the run's last volume (%.1f s)", where,
                    onset + story_end + tail, t.max())
    origin = float(onset) if origin is None else float(origin)
    out = data.isel(time=np.flatnonzero(keep))
    out = out.assign_coords(time=("time", out["time"].values - origin))
    out.time.attrs["units"] = "s"
    if standardize:
        out = out.copy(data=zscore_time(out.values, where))
    out.attrs.update(data.attrs, run_onset=float(onset), story_end=float(story_end), tail=float(tail),
                     time_origin=origin)
    return out


def align_to_stimulus(data: xr.DataArray, onset: Mapping, *, where: str = "run") -> xr.DataArray:
    """Move a run's clock to its story's stimulus: ``time`` 0 = where the story's audio starts.

    The story's word table counts seconds from the start of its audio file and the features stay
    per story, while each subject's run may start the audio at its own moment (Narratives: 0 s for
    pieman, 3 s for tunnel and lucy, 4.5 s for merlin, 12 s for black).  Subtracting the run's
    stimulus onset from ``time`` puts every subject's recording on the word table's clock; volumes
    acquired before it keep negative times (no word falls there).

    Parameters
    ----------
    data
        A Preprocessed run (``time`` in seconds from the run's first volume).
    onset
        :func:`brainalign.io.bids.stimulus_onset` of the run (``onset``, ``source`` and, read from
        events, ``events``, ``line``, ``stim_file``, ``trial_type``).
    where
        Named in messages.

    Returns
    -------
    xarray.DataArray
        ``time`` shifted by ``-onset``; attrs ``stimulus_onset`` (s), ``time_origin`` (run time of
        ``time`` 0, = the onset), ``stimulus_onset_source`` and, from events, ``stimulus_events``,
        ``stimulus_events_line``, ``stimulus_file``, ``stimulus_trial_type``.

    Raises
    ------
    InputError
        An onset at or after the end of the run (naming the events file, or ``where``).
    """
    from brainalign.errors import InputError

    value = float(onset["onset"])
    tr = float(data.attrs.get("tr", 0.0))
    end = float(data["time"].values.max()) + tr / 2
    if not np.isfinite(value) or value < 0 or value >= end:
        raise InputError(onset.get("events") or where, f"the story's stimulus starts at {value:g} s, outside "
                         f"the run ({where}: volumes until {end:g} s)",
                         field=f"line {onset['line']}" if onset.get("line") else "dataset.stimulus_onset",
                         expected="an onset within the run")
    out = data.assign_coords(time=("time", data["time"].values - value))
    out.time.attrs["units"] = "s"
    out.attrs.update(data.attrs, **stimulus_attrs(onset), time_origin=value)
    log.info("%s: time re-zeroed at the stimulus onset %.3f s (%s%s)", where, value, onset.get("source"),
             f", {onset['events']} line {onset['line']}" if onset.get("events") else "")
    return out


def stimulus_attrs(onset: Mapping) -> dict:
    """The attrs recording a run's stimulus onset (see :func:`align_to_stimulus`)."""
    attrs = {"stimulus_onset": float(onset["onset"]), "stimulus_onset_source": str(onset.get("source", ""))}
    if onset.get("events"):
        attrs.update(stimulus_events=str(onset["events"]), stimulus_events_line=int(onset["line"]),
                     stimulus_file=str(onset.get("stim_file", "")), stimulus_trial_type=str(onset.get("trial_type", "")))
    return attrs


def _preprocess_hf5_run(run: Mapping, options: Mapping, profile: Mapping | None, *, stimulus: Mapping | None,
                        key: str, standardize: bool) -> xr.DataArray:
    """:func:`preprocess_run` for LeBel et al.'s ``.hf5`` responses (``key``: ``subject/story``).

    The files carry no TR and no events: ``profile["hf5"]["tr"]`` is required, and a stimulus onset
    read from events applies only where ``stimulus["runs"]`` gives this run its own value.
    """
    hf5 = dict(require(profile or {}, "dataset.profile").get("hf5") or {})  # hf5: optional, no default
    if "tr" not in hf5:
        raise ValueError("config key 'dataset.profile.hf5.tr': required with responses: hf5 (the .hf5 files "
                         "carry no TR)")
    if stimulus is not None and stimulus["source"] == "events" \
            and key not in stimulus["runs"]:
        from brainalign.errors import ConfigError
        raise ConfigError("dataset.stimulus_onset.source", "'events' does not apply to responses: hf5 (the files "
                          "have no events; their clock is set by dataset.profile.hf5.first_volume and "
                          "timings.shift)", expected="none (or a number of seconds) with responses: hf5")
    return preprocess_hf5(run["bold"], tr=hf5["tr"], first_volume=int(hf5["first_volume"]),
                          dataset=hf5["dataset"], standardize=standardize, time_reference=options["time_reference"],
                          nonfinite=options["nonfinite"], nonfinite_max_fraction=options["nonfinite_max_fraction"])


def _story_bounds(story: str, story_run: Mapping, events: PathLike | None, onset: Mapping | None,
                  words: pd.DataFrame | None, where: str) -> tuple[float, float, float]:
    """Where a story that shares its run lies in the run: its onset, its end and ``time`` 0 (s).

    The onset is the story's (events or ``story_run``); the end, counted from that onset, is its
    duration or its last word's offset, whichever is later; ``time`` 0 is the run time of its word
    table's 0 (see :func:`preprocess_run`).
    """
    seg_onset, duration = story_segment(story, story_run, events)
    # The word table's 0 in run time: a table cut from an alignment of the whole audio counts from the
    # audio's start moved by timings_offset (-(story onset - audio onset) in the dataset's events);
    # this run's own stimulus onset places it, so a subject whose audio started late stays aligned.
    origin = seg_onset
    if onset is not None and story_run.get("timings_path"):
        origin = float(onset["onset"]) - float(story_run["timings_offset"])
        if abs(origin - seg_onset) > 1e-6:
            log.warning("%s: story '%s' starts at %.3f s in the events but its word table's 0 is at %.3f s "
                        "(stimulus onset %.3f s - timings_offset %g s); times count from the word table's 0",
                        where, story, seg_onset, origin, float(onset["onset"]), float(story_run["timings_offset"]))
    last_word = float(words["offset"].max()) if words is not None and len(words) else None
    if duration is None and last_word is None:
        raise ValueError(f"{where}: story '{story}' shares its run but has neither a duration "
                         f"(dataset.story_runs.{story}) nor words to end it")
    last_word = None if last_word is None else last_word + origin - seg_onset  # from the story's onset
    if duration is not None and last_word is not None and last_word > duration:
        log.warning("%s: last word ends at %.2f s, after the story duration %.2f s", where, last_word, duration)
    story_end = max(v for v in (duration, last_word) if v is not None)
    return seg_onset, story_end, origin


def preprocess_run(
    run: Mapping,
    *,
    options: Mapping,
    profile: Mapping | None = None,
    story: str = "",
    story_run: Mapping | None = None,
    words: pd.DataFrame | None = None,
    where: str = "run",
    stimulus: Mapping | None = None,
    subject: str = "",
    condition: str | None = None,
) -> xr.DataArray:
    """One located fMRI run (:func:`brainalign.io.bids.locate_run`) to the Preprocessed contract.

    Three cases: LeBel et al. 2023's preprocessed ``.hf5`` responses are only time-stamped and
    z-scored (:func:`preprocess_hf5`, settings from ``profile["hf5"]``); a BOLD run is cleaned by
    :func:`preprocess_fmri`; a story that shares its run with others (``story_run``, an entry of
    ``dataset.story_runs``) is cleaned over the whole run, then cut to the story plus a tail
    (:func:`crop_story`).

    Parameters
    ----------
    run
        ``bold`` (and optionally ``confounds``, ``sidecar``, ``events``, ``confounds_searched``:
        the folders where a missing confounds file was looked for) of the run.
    options
        The validated ``preprocess.fmri`` config block (keyword arguments of :func:`preprocess_fmri`),
        complete: every key the schema defaults (outside Snakemake:
        ``brainalign.config_sections.with_defaults("preprocess.fmri", partial)``).
    profile
        The validated ``dataset.profile`` (its ``hf5`` block: ``tr`` required, ``first_volume``,
        ``dataset``); read for ``.hf5`` responses only.
    story, story_run, words
        The story, its ``dataset.story_runs`` entry (None for a run of its own) and its word table:
        the story ends at its events duration, or at its last word when that is later or no
        duration is known.
    where
        Named in messages.
    stimulus, subject, condition
        ``dataset.stimulus_onset`` of the story (:func:`brainalign.io.bids.stimulus_spec`; None:
        ``time`` stays counted from the run start) and the run's subject and condition: the run's
        stimulus onset (:func:`brainalign.io.bids.stimulus_onset`, from its ``events``) becomes
        ``time`` 0 (:func:`align_to_stimulus`).  For a shared-run story whose word table is cut from
        an alignment of the whole audio (``story_run["timings_path"]``), ``time`` 0 is the run time
        of that table's 0: stimulus onset - ``timings_offset``; otherwise the story's onset.

    Raises
    ------
    MissingInputError
        A BOLD run without a confounds file while ``options["strategy"]`` selects confound columns
        (naming the BOLD file, where the file was looked for — ``run["confounds_searched"]`` — and
        the strategy keys that need it).
    ValueError
        ``.hf5`` responses without ``profile.hf5.tr``; a shared-run story without a word table
        and without a duration.
    ConfigError
        ``options``, ``story_run``, ``stimulus`` (or, for ``.hf5`` responses, ``profile``) lacks a key the schema
        defaults, naming it (``preprocess.fmri.time_reference``).
    InputError, ConfigError
        The stimulus onset cannot be read (see :func:`brainalign.io.bids.stimulus_onset`) or lies
        outside the run; ``.hf5`` responses with ``stimulus_onset.source: events``.
    """
    options = require(options, "preprocess.fmri")
    if story_run:
        story_run = require({story: story_run}, "dataset.story_runs")[story]
    if stimulus is not None:
        stimulus = require(stimulus, "dataset.stimulus_onset")
    standardize = options.pop("standardize")
    if str(run["bold"]).endswith(".hf5"):
        return _preprocess_hf5_run(run, options, profile, stimulus=stimulus, key=f"{subject}/{story}",
                                   standardize=standardize)
    if run.get("confounds") is None and confound_keys(options["strategy"]):
        raise missing_confounds_error(run["bold"][0] if isinstance(run["bold"], (list, tuple)) else run["bold"],
                                      options["strategy"], run.get("confounds_searched") or ())
    with nifti_reading(run["bold"]):  # a corrupt stream deep inside nilearn: an error naming the file
        data = preprocess_fmri(run["bold"], confounds=run.get("confounds"), sidecar=run.get("sidecar"),
                               standardize=standardize and not story_run, **options)

    onset = None
    if stimulus is not None:
        task = str(run.get("task") or (story_run or {}).get("task") or story)
        onset = stimulus_onset(run.get("events"), stimulus, subject=subject, story=story, task=task,
                               condition=condition, where=where)
    if not story_run:
        return data if onset is None else align_to_stimulus(data, onset, where=where)

    seg_onset, story_end, origin = _story_bounds(story, story_run, run.get("events"), onset, words, where)
    out = crop_story(data, seg_onset, story_end, float(story_run["tail"]), standardize=standardize,
                     where=where, origin=origin)
    out.attrs.update(task=str(story_run["task"]))
    if onset is not None:
        out.attrs.update(stimulus_attrs(onset))
    return out
