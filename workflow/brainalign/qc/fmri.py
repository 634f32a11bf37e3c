"""fMRI QC: temporal SNR, framewise displacement, the confounds regressed, a carpet plot's data.

Everything is computed from the run the preprocessing job read (the BOLD image and the fMRIPrep
confounds table, located by :func:`brainalign.io.bids.locate_run`) with the same options, so the
volumes, the mask and the confound columns are those the encoder saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

log = logging.getLogger(__name__)

#: fMRIPrep's six rigid-body parameters: translations (mm) then rotations (radians).
MOTION_COLUMNS = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
#: Power et al. (2012): rotations become arc lengths on a sphere of this radius (mm), as in fMRIPrep.
HEAD_RADIUS_MM = 50.0
#: FD above which a volume is commonly flagged (Power et al. 2012; fMRIPrep's default 0.5 mm).
FD_THRESHOLD_MM = 0.5


def tsnr(data: np.ndarray, axis: int = 0) -> np.ndarray:
    """Temporal signal-to-noise ratio: the mean over time divided by the standard deviation over time.

    Parameters
    ----------
    data
        Samples with time along ``axis`` (e.g. ``time x voxel``, or ``x, y, z, time`` with ``axis=-1``).
    axis
        The time axis.

    Returns
    -------
    numpy.ndarray
        tSNR per series; 0 where the series is constant (no temporal variance: outside the brain),
        not inf, so medians and maps stay finite.
    """
    data = np.asarray(data, dtype=np.float64)
    mean = data.mean(axis=axis)
    std = data.std(axis=axis)
    out = np.zeros_like(mean)
    ok = std > 0
    out[ok] = mean[ok] / std[ok]
    return out


def framewise_displacement(motion: pd.DataFrame | np.ndarray, radius: float = HEAD_RADIUS_MM) -> np.ndarray:
    """Framewise displacement (Power et al. 2012): FD_t = sum of |Δ| of the six rigid-body parameters.

    Rotations (radians) are converted to displacements on a sphere of ``radius`` mm (arc length),
    then added to the translations (mm).  FD of the first volume is 0 (no preceding volume;
    fMRIPrep writes n/a there).

    Parameters
    ----------
    motion
        ``volume x 6``: a table with fMRIPrep's columns (``trans_x/y/z`` in mm, ``rot_x/y/z`` in
        radians), or an array in that column order.
    radius
        Head radius in mm (Power et al.: 50).

    Returns
    -------
    numpy.ndarray
        FD per volume (mm).

    Raises
    ------
    ValueError
        A table without one of the six columns, or an array that is not ``volume x 6``.
    """
    if isinstance(motion, pd.DataFrame):
        missing = [c for c in MOTION_COLUMNS if c not in motion.columns]
        if missing:
            raise ValueError(f"motion table lacks column(s) {missing} (expected fMRIPrep's {list(MOTION_COLUMNS)})")
        values = motion.loc[:, list(MOTION_COLUMNS)].to_numpy(dtype=np.float64)
    else:
        values = np.asarray(motion, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != 6:
            raise ValueError(f"motion parameters of shape {values.shape}: expected volume x 6 "
                             "(trans_x, trans_y, trans_z in mm, rot_x, rot_y, rot_z in radians)")
    values = np.nan_to_num(values, nan=0.0)
    diffs = np.abs(np.diff(values, axis=0))
    diffs[:, 3:] *= radius
    return np.concatenate([[0.0], diffs.sum(axis=1)])


@dataclass
class FmriQC:
    """QC of one fMRI run (see :func:`fmri_qc`).

    Attributes
    ----------
    tsnr_map
        tSNR of every voxel of the retained volumes (``x, y, z``), or ``None`` for surface / preprocessed
        responses (then ``tsnr_values`` holds the per-vertex values).
    tsnr_values
        tSNR of the targets the encoder uses (mask or atlas voxels, or vertices).
    affine
        Voxel -> mm affine of ``tsnr_map``.
    fd
        Framewise displacement per volume of the whole run (mm); ``None`` without motion parameters.
    confounds
        The regressors of the retained volumes, exactly as regressed (``volume x column``).
    carpet
        ``target x volume`` of the retained volumes: linearly detrended and z-scored per target, the
        raw BOLD as Power (2017) plots it (at most ``max_carpet`` targets, evenly sampled).
    tr, kept
        Repetition time (s); the retained volume indices (``drop_initial_trs`` / ``trim_end_trs``).
    notes
        What could not be computed and why (shown in the figures).
    """

    tsnr_map: np.ndarray | None
    tsnr_values: np.ndarray
    affine: np.ndarray | None
    fd: np.ndarray | None
    confounds: pd.DataFrame
    carpet: np.ndarray
    tr: float
    kept: np.ndarray
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """One row of the run's QC summary table (numbers rounded for reading)."""
        kept_fd = None if self.fd is None else self.fd[self.kept]
        return {
            "n_volumes": int(self.kept.size), "tr_s": round(self.tr, 4),
            "tsnr_median": round(float(np.median(self.tsnr_values)), 2) if self.tsnr_values.size else np.nan,
            "fd_mean_mm": np.nan if kept_fd is None else round(float(kept_fd.mean()), 4),
            "fd_max_mm": np.nan if kept_fd is None else round(float(kept_fd.max()), 4),
            f"n_fd_above_{FD_THRESHOLD_MM:g}mm": -1 if kept_fd is None else int((kept_fd > FD_THRESHOLD_MM).sum()),
            "n_confounds": int(self.confounds.shape[1]),
            "confounds": ",".join(self.confounds.columns),
            "notes": "; ".join(self.notes),
        }


def _detrend_zscore(x: np.ndarray) -> np.ndarray:
    """Remove a linear trend per column (time along axis 0) and z-score it (constant columns -> 0)."""
    t = np.arange(x.shape[0], dtype=np.float64)
    design = np.stack([np.ones_like(t), t - t.mean()], axis=1)
    beta, *_ = np.linalg.lstsq(design, x, rcond=None)
    resid = x - design @ beta
    sd = resid.std(axis=0)
    sd[sd == 0] = 1.0
    return resid / sd


def _target_ijk(preproc: xr.DataArray, affine: np.ndarray) -> np.ndarray:
    """Voxel indices of the preprocessed targets (their x, y, z coordinates through the inverse affine)."""
    xyz = np.stack([preproc[c].values for c in ("x", "y", "z")], axis=1)
    ijk = np.rint(np.c_[xyz, np.ones(len(xyz))] @ np.linalg.inv(affine).T)[:, :3]
    return ijk.astype(int)


def fmri_qc(run: Mapping, options: Mapping, preproc: xr.DataArray, max_carpet: int = 2000) -> FmriQC:
    """QC measures of one fMRI run, from the files the preprocessing job read.

    Parameters
    ----------
    run
        :func:`brainalign.io.bids.locate_run`'s record: ``bold`` (NIfTI path, or GIFTI paths, or an
        ``.hf5`` file of preprocessed responses), ``confounds`` (fMRIPrep table or ``None``).
    options
        ``preprocess.fmri``: ``drop_initial_trs``, ``trim_end_trs``, ``strategy`` (the confound columns).
    preproc
        The run's preprocessed targets (``time x voxel``, from the preprocessing store): their
        ``x, y, z`` give the voxels whose tSNR and carpet are shown, ``attrs['tr']`` the TR.
    max_carpet
        At most this many targets in the carpet (evenly sampled, kept in mask order).

    Returns
    -------
    FmriQC
    """
    import nibabel as nib

    from brainalign.config_sections import require
    from brainalign.preprocess.fmri import DEFAULT_STRATEGY, load_confounds

    options = require(options, "preprocess.fmri")
    notes: list[str] = []
    tr = float(preproc.attrs.get("tr", np.nan))
    bold = run["bold"]
    paths = list(bold) if isinstance(bold, (list, tuple)) else [bold]
    tsnr_map, affine = None, None
    if len(paths) == 1 and str(paths[0]).endswith((".nii", ".nii.gz")):
        img = nib.load(str(paths[0]))
        n_vol = img.shape[3]
        kept = np.arange(int(options["drop_initial_trs"]), n_vol - int(options["trim_end_trs"]))
        data = np.asarray(img.dataobj, dtype=np.float32)[..., kept]
        affine = img.affine
        tsnr_map = tsnr(data, axis=-1).astype(np.float32)
        if {"x", "y", "z"} <= set(preproc.coords) and "region" not in preproc.coords:
            ijk = _target_ijk(preproc, affine)
            series = data[ijk[:, 0], ijk[:, 1], ijk[:, 2], :].T  # time x target
        else:  # atlas parcels: the voxels inside the brain (non-zero mean) stand in for the mask
            inside = data.mean(axis=-1) > 0
            series = data[inside].T
            notes.append("atlas targets: tSNR and carpet over every voxel with signal")
        values = tsnr(series, axis=0)
    elif all(str(p).endswith(".gii") for p in paths):
        series = np.concatenate([np.stack([d.data for d in nib.load(str(p)).darrays]) for p in paths], axis=1)
        n_vol = series.shape[0]
        kept = np.arange(int(options["drop_initial_trs"]), n_vol - int(options["trim_end_trs"]))
        series = series[kept]
        values = tsnr(series, axis=0)
        notes.append("surface data: tSNR per vertex (no volume map)")
    else:
        # preprocessed responses (LeBel et al. 2023 .hf5): no raw BOLD to measure
        series = np.asarray(preproc.values, dtype=np.float64)
        n_vol = series.shape[0]
        kept = np.arange(n_vol)
        values = np.array([])
        notes.append("preprocessed responses as input: no raw BOLD, hence no tSNR; carpet of the responses")
    strategy = DEFAULT_STRATEGY if options["strategy"] is None else dict(options["strategy"])  # as preprocess_fmri
    fd = None
    confounds = pd.DataFrame(index=range(kept.size))
    if run.get("confounds") is not None:
        from brainalign.io.tsv import read_bids_tsv

        table = read_bids_tsv(run["confounds"], what="fMRIPrep confounds file", allow_empty=False)
        table.attrs["source"] = str(run["confounds"])  # load_confounds' messages name the file
        if set(MOTION_COLUMNS) <= set(table.columns):
            fd = framewise_displacement(table.apply(pd.to_numeric, errors="coerce"))
        else:
            notes.append("no motion parameters in the confounds file: no FD")
        confounds = load_confounds(table, strategy, n_vol).iloc[kept].reset_index(drop=True)
    else:
        notes.append("no confounds file: no FD, nothing regressed")
    step = max(1, int(np.ceil(series.shape[1] / max_carpet)))
    carpet = _detrend_zscore(np.asarray(series[:, ::step], dtype=np.float64)).T.astype(np.float32)
    return FmriQC(tsnr_map=tsnr_map, tsnr_values=values, affine=affine, fd=fd, confounds=confounds,
                  carpet=carpet, tr=tr, kept=kept, notes=notes)
