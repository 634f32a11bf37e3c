"""Simulated BOLD runs in MNI space: mask, demo atlas, HRF-convolved planted signal, realistic noise.

Noise model of one run (all in units of ``noise_sd``, the sd of the unstructured noise):

* unstructured: white Gaussian volumes smoothed in space (FWHM ``smoothness_mm``) and AR(1) in
  time (coefficient ``ar1``), scaled to unit variance per voxel;
* slow drifts: random mixtures of a linear trend and cosines slower than 1/128 Hz (sd ``drift``);
  detrending / fMRIPrep's ``cosine*`` regressors remove them;
* motion: six rigid-body parameters (slow AR(1) wandering with occasional lasting jumps, written as
  ``trans_*`` (mm) / ``rot_*`` (rad)) entering every voxel linearly with voxel-specific weights
  (sd ``motion``); regressing the six columns out removes this part exactly;
* physiology: CSF, white-matter and a global fluctuation (sd ``physio``) whose noisy measurements
  are the ``csf`` / ``white_matter`` columns (``global_signal`` is the mask mean of the data, as
  fMRIPrep computes it);
* non-steady state: the first ``n_dummy_trs`` volumes are brighter (T1 saturation), flagged by
  ``non_steady_state_outlier*`` columns.
"""

from __future__ import annotations

import numpy as np
import nibabel as nib
import pandas as pd
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve, lfilter

MOTION_COLUMNS = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
#: Oversampling of the word time base before HRF convolution (samples per TR).
OVERSAMPLING = 16
#: Fraction of the TR at which a volume is stamped; matches brainalign.preprocess.fmri's default.
TIME_REFERENCE = 0.5


def mni_mask(voxel_size: float) -> nib.Nifti1Image:
    """nilearn's MNI152 brain mask at ``voxel_size`` mm (shipped with nilearn: works offline)."""
    from nilearn.datasets import load_mni152_brain_mask

    img = load_mni152_brain_mask(resolution=int(voxel_size))
    data = (np.asarray(img.dataobj) > 0).astype(np.uint8)
    return nib.Nifti1Image(data, img.affine)


def mask_coordinates(mask: nib.Nifti1Image) -> tuple[np.ndarray, np.ndarray]:
    """Voxel indices (``ijk``, C order = nilearn's masker order) and MNI coordinates (mm) of a mask."""
    ijk = np.argwhere(np.asarray(mask.dataobj) > 0)
    return ijk, nib.affines.apply_affine(mask.affine, ijk)


def demo_atlas(mask: nib.Nifti1Image, n_parcels: int, seed: int) -> tuple[nib.Nifti1Image, pd.DataFrame]:
    """Deterministic k-means parcellation of the mask's voxel coordinates.

    Labels are 1..n ordered by centroid (x, then y, then z) so they do not depend on k-means'
    internal numbering; names say hemisphere and number (``L-03``), never what is planted.

    Returns
    -------
    (label image, table with columns ``index, name, x, y, z, n_voxels``)
    """
    from sklearn.cluster import KMeans

    ijk, xyz = mask_coordinates(mask)
    km = KMeans(n_clusters=int(n_parcels), n_init=1, random_state=int(seed)).fit(xyz)
    centres = km.cluster_centers_
    order = np.lexsort((centres[:, 2], centres[:, 1], centres[:, 0]))
    relabel = np.empty(len(order), dtype=int)
    relabel[order] = np.arange(1, len(order) + 1)
    labels = relabel[km.labels_]
    data = np.zeros(mask.shape, dtype=np.int16)
    data[tuple(ijk.T)] = labels
    rows = []
    for lab in range(1, len(order) + 1):
        c = xyz[labels == lab].mean(axis=0)
        hemi = "L" if c[0] < -3 else ("R" if c[0] > 3 else "M")
        rows.append({"index": lab, "name": f"{hemi}-{lab:02d}", "x": round(float(c[0]), 1),
                     "y": round(float(c[1]), 1), "z": round(float(c[2]), 1), "n_voxels": int((labels == lab).sum())})
    return nib.Nifti1Image(data, mask.affine), pd.DataFrame(rows)


def n_volumes(duration: float, tr: float) -> int:
    """Volumes needed to cover ``duration`` seconds."""
    return int(np.ceil(duration / tr))


def hrf_regressors(latents: np.ndarray, onsets: np.ndarray, tr: float, n_vol: int, *,
                   times: np.ndarray | None = None) -> np.ndarray:
    """Word-impulse latents convolved with nilearn's Glover HRF, sampled at the volumes' mid-times.

    Parameters
    ----------
    latents
        ``(n_words, k)`` amplitude of each word's impulse.
    onsets
        Word onsets (s from the run's start; words before 0 are left out).
    tr, n_vol
        Repetition time and number of volumes.
    times
        Sample times (s, >= 0) instead of the volumes' mid-times ``(i + 0.5) x tr``; each is taken
        from the nearest point of the ``tr / OVERSAMPLING`` grid (e.g. a preprocessed run's ``time``
        coordinate, which keeps dropped initial volumes in its clock).  ``n_vol`` is then ignored.

    Returns
    -------
    numpy.ndarray
        ``(n_vol, k)``, or ``(len(times), k)``.
    """
    from nilearn.glm.first_level import glover_hrf

    dt = tr / OVERSAMPLING
    if times is not None:
        times = np.asarray(times, dtype=np.float64)
        if times.size and times.min() < 0:
            raise ValueError(f"hrf_regressors: times must be >= 0, got {times.min()}")
        n_vol = int(np.ceil((times.max() if times.size else 0.0) / tr)) + 1
    n_hi = n_vol * OVERSAMPLING
    hi = np.zeros((n_hi, latents.shape[1]))
    idx = np.round(np.asarray(onsets) / dt).astype(int)
    # a negative index would wrap around to the end of the run
    ok = (idx >= 0) & (idx < n_hi)
    np.add.at(hi, idx[ok], latents[ok])
    hrf = glover_hrf(tr, OVERSAMPLING, time_length=32.0)
    conv = fftconvolve(hi, hrf[:, None], axes=0)[:n_hi]
    if times is not None:
        return conv[np.minimum(np.round(times / dt).astype(int), n_hi - 1)]
    sample = np.minimum(np.round((np.arange(n_vol) + TIME_REFERENCE) * OVERSAMPLING).astype(int), n_hi - 1)
    return conv[sample]


def cosine_basis(n_vol: int, tr: float, cutoff: float = 1 / 128) -> np.ndarray:
    """DCT-II drift basis slower than ``cutoff`` Hz (fMRIPrep's ``cosine*`` columns)."""
    order = int(np.floor(2 * n_vol * tr * cutoff))
    t = np.arange(n_vol)
    basis = [np.sqrt(2.0 / n_vol) * np.cos(np.pi * (t + 0.5) * k / n_vol) for k in range(1, order + 1)]
    return np.array(basis).T if basis else np.zeros((n_vol, 0))


def _unit(x: np.ndarray, axis: int = 0) -> np.ndarray:
    x = x - x.mean(axis=axis, keepdims=True)
    return x / np.maximum(x.std(axis=axis, keepdims=True), 1e-12)


def _motion(n_vol: int, tr: float, rng: np.random.Generator) -> np.ndarray:
    """Six rigid-body parameters: slow wandering plus a few sudden small jumps (mm, rad)."""
    # stationary slow wandering (AR(1), 0.9) plus a few lasting jumps
    wander = lfilter([1.0], [1.0, -0.9], rng.normal(0.0, 0.03, (n_vol, 6)), axis=0)
    jumps = np.zeros((n_vol, 6))
    for t in rng.choice(np.arange(5, n_vol), size=max(1, n_vol // 150), replace=False):
        jumps[t] = rng.normal(0.0, 0.15, 6)
    walk = wander + np.cumsum(jumps, axis=0)
    walk -= walk[0]
    walk[:, 3:] *= np.pi / 180.0  # rotations in rad (walk in degrees)
    return walk


def simulate_run(mask: nib.Nifti1Image, planted: dict[str, tuple[np.ndarray, np.ndarray]], n_vol: int,
                 params: dict, rng: np.random.Generator) -> tuple[nib.Nifti1Image, pd.DataFrame]:
    """One BOLD run with planted signals and the fMRIPrep-style confounds of its noise.

    Parameters
    ----------
    mask
        Brain mask (defines the grid).
    planted
        ``{region: (mask_index, signal)}``: positions within the mask's voxel order and the
        ``(n_vol, n_voxels)`` noise-free signal of those voxels (unit variance per voxel).
    n_vol
        Number of volumes.
    params
        The resolved ``fmri`` parameter block.
    rng
        Seeded generator for this run.

    Returns
    -------
    (4D image, confounds table)
    """
    tr, sd = float(params["tr"]), float(params["noise_sd"])
    inside = np.asarray(mask.dataobj) > 0
    n_vox = int(inside.sum())
    # unstructured noise: spatially smooth, AR(1) in time
    sigma = float(params["smoothness_mm"]) / 2.3548 / float(params["voxel_size"])
    white = rng.standard_normal((n_vol, *mask.shape)).astype(np.float32)
    smooth = gaussian_filter(white, sigma=(0, sigma, sigma, sigma), mode="constant")
    noise = smooth[:, inside].astype(np.float64)
    del white, smooth
    noise = lfilter([1.0], [1.0, -float(params["ar1"])], noise, axis=0)
    noise = _unit(noise)
    # slow drifts within the space that detrending + a 128 s high-pass remove
    drift_basis = np.c_[np.linspace(-1, 1, n_vol), cosine_basis(n_vol, tr)[:, :3]]
    drift = _unit(drift_basis @ rng.standard_normal((drift_basis.shape[1], n_vox)))
    # motion: the six parameters enter each voxel linearly
    motion = _motion(n_vol, tr, rng)
    motion_part = _unit(_unit(motion) @ rng.standard_normal((6, n_vox)))
    # physiology: CSF, white matter, global (slow-ish AR(1) fluctuations)
    physio = _unit(lfilter([1.0], [1.0, -0.5], rng.standard_normal((n_vol, 3)), axis=0))
    physio_part = _unit(physio @ (np.abs(rng.normal(1.0, 0.5, (3, n_vox))) * rng.choice([-1, 1], (3, n_vox))))
    total = (noise + float(params["drift"]) * drift + float(params["motion"]) * motion_part
             + float(params["physio"]) * physio_part)
    snr = float(params["snr"])
    for idx, signal in planted.values():
        total[:, idx] += np.sqrt(snr) * signal
    # baseline intensity: smooth spatial profile, brighter non-steady-state volumes at the start
    base_map = float(params["baseline"]) * (1.0 + 0.1 * _unit(gaussian_filter(
        rng.standard_normal(mask.shape), 2.0)[inside]))
    n_dummy = int(params["n_dummy_trs"])
    saturation = np.zeros(n_vol)
    saturation[:n_dummy] = 0.3 * np.exp(-np.arange(n_dummy))
    values = base_map[None, :] * (1.0 + saturation[:, None]) + sd * total
    dtype = np.int16 if params["dtype"] == "int16" else np.float32
    if dtype is np.int16:
        values = np.clip(np.round(values), -32768, 32767)
    vol = np.zeros((*mask.shape, n_vol), dtype=dtype)
    vol[inside] = values.T.astype(dtype)
    img = nib.Nifti1Image(vol, mask.affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    img.header.set_data_dtype(dtype)

    conf = pd.DataFrame(motion, columns=MOTION_COLUMNS)
    for col in MOTION_COLUMNS:
        conf[f"{col}_derivative1"] = np.r_[np.nan, np.diff(conf[col].to_numpy())]
    # tissue signals as fMRIPrep reports them: mean intensity with measurement noise
    conf["csf"] = float(params["baseline"]) * 1.2 + sd * (physio[:, 0] + 0.1 * rng.standard_normal(n_vol))
    conf["white_matter"] = float(params["baseline"]) * 0.8 + sd * (physio[:, 1] + 0.1 * rng.standard_normal(n_vol))
    conf["global_signal"] = values.mean(axis=1)
    diffs = np.abs(np.diff(motion, axis=0))
    conf["framewise_displacement"] = np.r_[np.nan, diffs[:, :3].sum(axis=1) + 50.0 * diffs[:, 3:].sum(axis=1)]
    for k, col in enumerate(cosine_basis(n_vol, tr).T):
        conf[f"cosine{k:02d}"] = col
    for k in range(n_dummy):
        conf[f"non_steady_state_outlier{k:02d}"] = (np.arange(n_vol) == k).astype(int)
    return img, conf
