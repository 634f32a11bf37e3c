"""Small QC inputs made of real files and MNE objects, for the QC and QC-figure tests: a BOLD run with known
voxel means and SDs beside its fMRIPrep confounds, and an EEG recording of known sines.  Importable from
every test folder as ``tests.qc_runs`` (``tests/`` is a package and pytest puts the repository root on
``sys.path``)."""

from __future__ import annotations

from pathlib import Path

import mne
import nibabel as nib
import numpy as np
import pandas as pd
import xarray as xr

from brainalign.qc.fmri import MOTION_COLUMNS


def bold_run(tmp_path: Path, n_vol: int = 40) -> tuple[dict[str, Path], np.ndarray, xr.DataArray, int]:
    """A 6x6x4 BOLD run: voxel (i, j, k) has mean 100 + i and SD 1 + j (exactly), zero outside x<5."""
    rng = np.random.default_rng(2)
    signs = np.where(np.arange(n_vol) % 2 == 0, 1.0, -1.0)
    data = np.zeros((6, 6, 4, n_vol), np.float32)
    for i in range(5):
        for j in range(6):
            data[i, j, :, :] = 100 + i + (1 + j) * signs
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = [-9, -9, -6]
    path = tmp_path / "sub-01_task-x_bold.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    motion = rng.normal(0, 0.02, (n_vol, 6))
    conf = pd.DataFrame(motion, columns=MOTION_COLUMNS)
    conf["white_matter"] = rng.normal(size=n_vol)
    conf["csf"] = rng.normal(size=n_vol)
    conf["global_signal"] = rng.normal(size=n_vol)
    conf_path = tmp_path / "sub-01_task-x_desc-confounds_timeseries.tsv"
    conf.to_csv(conf_path, sep="\t", index=False)
    # the encoder's targets: voxels (1, 2, k) and (4, 5, k)
    ijk = np.array([[1, 2, 0], [1, 2, 3], [4, 5, 1]])
    xyz = nib.affines.apply_affine(affine, ijk)
    drop = 3
    preproc = xr.DataArray(np.zeros((n_vol - drop, 3), np.float32), dims=("time", "voxel"),
                           coords={"x": ("voxel", xyz[:, 0]), "y": ("voxel", xyz[:, 1]), "z": ("voxel", xyz[:, 2])},
                           attrs={"tr": 2.0})
    return {"bold": path, "confounds": conf_path}, motion, preproc, drop



SFREQ = 500.0


def eeg_raw(duration: float = 30.0, line: bool = True, bads: tuple[str, ...] | list[str] = (),
            annotations: tuple[tuple[float, float], ...] | list[tuple[float, float]] = ()) -> mne.io.BaseRaw:
    """EEG with a 6 Hz and a 30 Hz sine on every channel (+ 50 Hz line noise), standard positions."""
    names = ["Fz", "Cz", "Pz", "C3", "C4", "Oz"]
    t = np.arange(int(duration * SFREQ)) / SFREQ
    rng = np.random.default_rng(3)
    signal = np.sin(2 * np.pi * 6 * t) + np.sin(2 * np.pi * 30 * t) + (2 * np.sin(2 * np.pi * 50 * t) if line else 0)
    data = 1e-5 * (signal + 0.05 * rng.standard_normal((len(names), t.size)))
    info = mne.create_info(names, SFREQ, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_montage("standard_1020", verbose="error")
    with raw.info._unlock():
        raw.info["line_freq"] = 50.0
    raw.info["bads"] = list(bads)
    for onset, dur in annotations:
        raw.annotations.append(onset, dur, "BAD_muscle")
    return raw
