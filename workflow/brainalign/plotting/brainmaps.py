"""Brain maps with nilearn: per-voxel values -> NIfTI in MNI space -> glass brain, stat map on
the MNI152 template, or the fsaverage5 surface (both ship with nilearn; no download)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr

from .figure_io import umask_mode, new_figure, save_figure

Kind = Literal["glass", "stat", "surface"]


def values_to_nifti(values: xr.DataArray, affine=None, shape=None):
    """Put per-voxel values (dim ``voxel`` with coords ``x, y, z`` in MNI mm) into a 3-D image.

    Parameters
    ----------
    values
        One value per voxel; NaN voxels are left at 0 (nilearn's background).  Parcel-mean
        targets (coordinate ``n_voxels`` and attribute ``atlas``: a path to the label image, as
        written by atlas preprocessing) paint their whole parcel, matched by centroid.
    affine, shape
        Voxel-to-MNI affine (4 × 4) and grid shape; default ``values.attrs['affine']`` /
        ``['mask_shape']`` (the Scores attributes); without them a grid is inferred from the
        coordinates (:func:`grid_from_coords`).

    Raises
    ------
    ValueError
        If coordinates or grid attributes are missing, or a voxel falls outside the grid.
    """
    import nibabel as nib

    for c in ("x", "y", "z"):
        if c not in values.coords:
            raise ValueError(f"brain map needs the voxel coordinate {c!r} (MNI mm)")
    affine = values.attrs.get("affine") if affine is None else affine
    shape = values.attrs.get("mask_shape") if shape is None else shape
    if affine is None or shape is None:
        affine, shape = grid_from_coords(values)
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4):
        raise ValueError(f"brain map: 'affine' must be 4×4, got shape {affine.shape}")
    xyz = np.stack([values[c].values for c in ("x", "y", "z")] + [np.ones(values.sizes["voxel"])])
    ijk_float = (np.linalg.inv(affine) @ xyz)[:3]
    ijk = np.rint(ijk_float).astype(int)
    shape = tuple(int(s) for s in shape)[:3]
    if (ijk < 0).any() or (ijk >= np.asarray(shape)[:, None]).any():
        raise ValueError(f"voxel coordinates fall outside the {shape} grid of the affine")
    vals = np.nan_to_num(np.asarray(values.values, dtype=np.float32), nan=0.0)
    data = np.zeros(shape, dtype=np.float32)
    atlas = values.attrs.get("atlas")
    if "n_voxels" in values.coords and atlas:
        # Parcel-mean targets (preprocessing with an atlas): paint each whole parcel.
        labels = _atlas_on_grid(atlas, affine, shape)
        for j, parcel in enumerate(_match_parcels(labels, ijk_float)):
            data[labels == parcel] = vals[j]
        return nib.Nifti1Image(data, affine)
    data[tuple(ijk)] = vals
    return nib.Nifti1Image(data, affine)


def grid_from_coords(values: xr.DataArray) -> tuple[np.ndarray, list[int]]:
    """A voxel grid (affine, shape) holding every ``x, y, z`` of ``values`` (MNI mm).

    Used when the scores lack the ``affine`` / ``mask_shape`` attributes: the voxel size is the
    smallest spacing between distinct coordinates along each axis, the origin the minimum.
    """
    affine = np.eye(4)
    shape = []
    for d, c in enumerate(("x", "y", "z")):
        u = np.unique(np.asarray(values[c].values, dtype=float))
        steps = np.diff(u)
        step = float(steps[steps > 1e-6].min()) if (steps > 1e-6).any() else 1.0
        affine[d, d] = step
        affine[d, 3] = u[0]
        shape.append(int(np.rint((u[-1] - u[0]) / step)) + 1)
    return affine, shape


def _atlas_on_grid(atlas, affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The atlas label image resampled (nearest) onto the scores' grid."""
    import nibabel as nib
    from nilearn.image import resample_img

    img = nib.load(str(atlas)) if not hasattr(atlas, "affine") else atlas
    if img.shape[:3] != tuple(shape) or not np.allclose(img.affine, affine):
        img = resample_img(img, target_affine=affine, target_shape=shape, interpolation="nearest",
                           force_resample=True, copy_header=True)
    return np.asarray(img.dataobj).astype(np.int64)


def _match_parcels(labels: np.ndarray, ijk: np.ndarray) -> list[int]:
    """Atlas label of each parcel target, matched by centroid (the preprocessing's voxel coords).

    Raises
    ------
    ValueError
        If a target's centroid is not within one voxel of any parcel centroid.
    """
    values = np.unique(labels[labels != 0])
    idx = np.argwhere(labels != 0)
    lab = labels[labels != 0]
    centroids = np.stack([np.bincount(np.searchsorted(values, lab), weights=idx[:, d]) /
                          np.bincount(np.searchsorted(values, lab)) for d in range(3)], axis=1)
    out = []
    for point in ijk.T:
        dist = np.linalg.norm(centroids - point, axis=1)
        k = int(np.argmin(dist))
        if dist[k] > 1.0:
            raise ValueError(f"parcel target at voxel {point.tolist()} matches no parcel centroid of the atlas")
        out.append(int(values[k]))
    return out


def _colour_scale(data: np.ndarray, vmin: float | None, vmax: float | None, threshold: float | None,
                  symmetric: bool) -> tuple[float, float, float]:
    """Colour limits and threshold of a map: defaults from the finite non-zero values."""
    finite = data[np.isfinite(data) & (data != 0)]
    if vmax is None:
        vmax = float(np.abs(finite).max()) if finite.size else 1.0
        vmax = vmax if vmax > 0 else 1.0
    if vmin is None:
        vmin = -vmax if symmetric else 0.0
    if threshold is None:
        # Background voxels/vertices are exactly 0: never paint them with the colour map's zero colour.
        threshold = 0.0 if not symmetric else 1e-6 * vmax
    return vmin, vmax, threshold


def plot_brain_map(img, path: str | os.PathLike, *, title: str, cbar_label: str, kind: Kind = "glass",
                   cmap: str = "RdBu_r", vmin: float | None = None, vmax: float | None = None,
                   threshold: float | None = None, symmetric: bool = True) -> Path:
    """Draw a volume image on the MNI152 template (glass / stat map) or on fsaverage5 (surface).

    Parameters
    ----------
    img
        A NIfTI image in MNI space (e.g. from :func:`values_to_nifti`).
    kind
        ``"glass"`` (glass brain, 3 projections), ``"stat"`` (orthogonal slices on the MNI152
        template) or ``"surface"`` (``vol_to_surf`` onto the fsaverage5 pial surface, drawn on the
        inflated mesh: left and right lateral views).
    cbar_label
        Unit of the colour bar (written under it).
    threshold
        Values with ``|v| <= threshold`` are not drawn.
    symmetric
        Colour scale symmetric around 0 (signed scores); False for depths/distances.
    """
    from nilearn import datasets, plotting

    data = np.asarray(img.get_fdata())
    vmin, vmax, threshold = _colour_scale(data, vmin, vmax, threshold, symmetric)
    if kind in ("glass", "stat"):
        fig = new_figure(9.0, 3.6)
        common = dict(figure=fig, title=title, colorbar=True, cmap=cmap, threshold=threshold, vmax=vmax,
                      symmetric_cbar=symmetric)
        if not symmetric:
            common["vmin"] = vmin
        if kind == "glass":
            display = plotting.plot_glass_brain(img, plot_abs=False, black_bg=False, **common)
        else:
            bg = datasets.load_mni152_template(resolution=2)
            display = plotting.plot_stat_map(img, bg_img=bg, draw_cross=False, black_bg=False, **common)
        _label_colorbar(display, cbar_label)
        return save_figure(fig, path)
    if kind == "surface":
        from nilearn import surface

        fsaverage = datasets.load_fsaverage("fsaverage5")
        sulc = datasets.load_fsaverage_data(mesh="fsaverage5", data_type="sulcal", mesh_type="inflated")
        fig = new_figure(9.0, 3.6)
        for i, hemi in enumerate(("left", "right")):
            tex = surface.vol_to_surf(img, fsaverage["pial"].parts[hemi], radius=6.0, interpolation="linear")
            ax = fig.add_subplot(1, 2, i + 1, projection="3d")
            plotting.plot_surf_stat_map(
                fsaverage["inflated"].parts[hemi], tex, hemi=hemi, view="lateral", bg_map=sulc.data.parts[hemi],
                axes=ax, figure=fig, cmap=cmap, threshold=threshold, vmax=vmax,
                vmin=vmin if not symmetric else None, symmetric_cbar=symmetric, colorbar=(i == 1),
                title=None)
            ax.set_title(f"{hemi} hemisphere", fontsize=9, y=0.92)
        fig.suptitle(f"{title}  (colour: {cbar_label}; fsaverage5)", fontsize=11, y=0.98)
        return save_figure(fig, path)
    raise ValueError(f"kind must be 'glass', 'stat' or 'surface', got {kind!r}")


#: Vertices per hemisphere of the fsaverage meshes; they are nested (icosahedral subdivision appends
#: new vertices), so the first 10242 of each hemisphere are fsaverage5's (see preprocess.fmri).
_FSAVERAGE_SIZES = {10242: "fsaverage5", 40962: "fsaverage6", 163842: "fsaverage"}
_N_FSAVERAGE5 = 10242


def is_surface(values: xr.DataArray) -> bool:
    """True for per-vertex values of a surface space (coordinates ``hemi`` and ``vertex``)."""
    return "hemi" in values.coords and "vertex" in values.coords


def surface_textures(values: xr.DataArray) -> dict[str, np.ndarray]:
    """Per-vertex values on fsaverage5, one array of 10242 per hemisphere (``left``/``right``).

    fsaverage6 (40962 per hemisphere) and fsaverage (163842) values are downsampled by keeping
    their first 10242 vertices per hemisphere, which are fsaverage5's vertices (nested meshes); the
    denser vertices between them are dropped, not averaged.  Missing vertices are NaN (not drawn).

    Raises
    ------
    ValueError
        No ``hemi``/``vertex`` coordinates, or a hemisphere whose vertex count is not an fsaverage mesh.
    """
    if not is_surface(values):
        raise ValueError("surface map needs the per-vertex coordinates 'hemi' and 'vertex' (surface preprocessing)")
    hemi, vertex = values["hemi"].values.astype(str), values["vertex"].values.astype(int)
    vals = np.asarray(values.values, dtype=float)
    out = {}
    for h, side in (("L", "left"), ("R", "right")):
        sel = hemi == h
        if not sel.any():
            continue
        n = int(sel.sum())
        if n not in _FSAVERAGE_SIZES or int(vertex[sel].max()) >= n:
            raise ValueError(f"surface map: hemisphere {h} has {n} vertices (largest index {int(vertex[sel].max())}); "
                             "expected a whole fsaverage mesh ("
                             f"{', '.join(f'{k} = {v}' for k, v in _FSAVERAGE_SIZES.items())} per hemisphere)")
        tex = np.full(_N_FSAVERAGE5, np.nan)
        keep = vertex[sel] < _N_FSAVERAGE5
        tex[vertex[sel][keep]] = vals[sel][keep]
        out[side] = tex
    return out


def surface_mesh_name(values: xr.DataArray) -> str:
    """The fsaverage mesh of per-vertex values (from the vertices per hemisphere)."""
    counts = {int((values["hemi"].values.astype(str) == h).sum()) for h in ("L", "R")} - {0}
    return _FSAVERAGE_SIZES.get(next(iter(counts)), "surface") if len(counts) == 1 else "surface"


def plot_surface_map(values: xr.DataArray, path: str | os.PathLike, *, title: str, cbar_label: str,
                     cmap: str = "RdBu_r", vmin: float | None = None, vmax: float | None = None,
                     threshold: float | None = None, symmetric: bool = True) -> Path:
    """Draw per-vertex values (fsaverage5/6/7) on nilearn's fsaverage5 inflated mesh (offline).

    Parameters
    ----------
    values
        One value per vertex with coordinates ``hemi`` (``L``/``R``) and ``vertex``, as surface
        preprocessing writes them; denser meshes are shown at fsaverage5 resolution
        (:func:`surface_textures`).
    title, cbar_label, cmap, vmin, vmax, threshold, symmetric
        As :func:`plot_brain_map`.
    """
    from nilearn import datasets, plotting

    textures = surface_textures(values)
    data = np.concatenate(list(textures.values())) if textures else np.array([])
    vmin, vmax, threshold = _colour_scale(data, vmin, vmax, threshold, symmetric)
    fsaverage = datasets.load_fsaverage("fsaverage5")
    sulc = datasets.load_fsaverage_data(mesh="fsaverage5", data_type="sulcal", mesh_type="inflated")
    fig = new_figure(9.0, 3.6)
    sides = list(textures)
    for i, hemi in enumerate(sides):
        # NaN (vertices without a value) -> 0, below the threshold: drawn as background
        tex = np.nan_to_num(textures[hemi], nan=0.0)
        ax = fig.add_subplot(1, len(sides), i + 1, projection="3d")
        plotting.plot_surf_stat_map(
            fsaverage["inflated"].parts[hemi], tex, hemi=hemi, view="lateral", bg_map=sulc.data.parts[hemi],
            axes=ax, figure=fig, cmap=cmap, threshold=threshold, vmax=vmax,
            vmin=vmin if not symmetric else None, symmetric_cbar=symmetric, colorbar=(i == len(sides) - 1),
            title=None)
        ax.set_title(f"{hemi} hemisphere", fontsize=9, y=0.92)
    mesh = surface_mesh_name(values)
    shown = "fsaverage5" if mesh == "fsaverage5" else f"{mesh} shown on fsaverage5"
    fig.suptitle(f"{title}  (colour: {cbar_label}; {shown})", fontsize=11, y=0.98)
    return save_figure(fig, path)


def values_to_surface_nifti(values: xr.DataArray):
    """Per-vertex values as a NIfTI of shape (n_vertices, 1, 1) in the data's vertex order (left then
    right), FreeSurfer's convention for surface overlays in NIfTI (e.g. ``mri_surf2surf`` output)."""
    import nibabel as nib

    vals = np.nan_to_num(np.asarray(values.values, dtype=np.float32), nan=0.0)
    return nib.Nifti1Image(vals.reshape(-1, 1, 1), np.eye(4))


def _label_colorbar(display, label: str) -> None:
    """Write the unit under the colour bar nilearn drew (its private axes), or in the title."""
    cbar_ax = getattr(display, "_colorbar_ax", None)
    if cbar_ax is not None:
        cbar_ax.set_title(label, fontsize=8, pad=6, loc="left", rotation=0)
    else:
        display.title(label, size=8)


def plot_voxel_map(values: xr.DataArray, path: str | os.PathLike, *, title: str, cbar_label: str,
                   kind: Kind = "glass", **kwargs) -> Path:
    """:func:`values_to_nifti` then :func:`plot_brain_map` in one call."""
    return plot_brain_map(values_to_nifti(values), path, title=title, cbar_label=cbar_label, kind=kind, **kwargs)


def save_nifti(img, path: str | os.PathLike) -> Path:
    """Write a NIfTI image atomically (temporary sibling with the same suffix, then rename)."""
    import tempfile

    import nibabel as nib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        nib.save(img, tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
