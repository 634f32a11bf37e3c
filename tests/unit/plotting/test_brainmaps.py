"""Brain maps: voxel values placed in the volume, parcels painted whole, drawn headless
(brainalign.plotting.brainmaps)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from brainalign import analyses as A
from brainalign import plotting as P
from tests.figure_checks import is_png


def test_values_to_nifti_places_each_voxel(fmri):
    best = A.best_layer_map(fmri)
    values = best["peak_score"]
    values.attrs.update(best.attrs)
    img = P.values_to_nifti(values)
    data = img.get_fdata()
    assert data.shape == tuple(fmri.attrs["mask_shape"])
    ijk = np.linalg.inv(img.affine) @ np.array([values["x"][3], values["y"][3], values["z"][3], 1.0])
    assert data[tuple(np.rint(ijk[:3]).astype(int))] == pytest.approx(float(values[3]))
    assert np.count_nonzero(data) == values.sizes["voxel"]
    values.attrs["affine"] = [[6.0, 0, 0], [0, 6.0, 0], [0, 0, 6.0]]
    with pytest.raises(ValueError, match="affine"):
        P.values_to_nifti(values)


@pytest.mark.parametrize("kind", ["glass", "stat", "surface"])
def test_brain_maps(fmri, tmp_path, kind):
    best = A.best_layer_map(fmri)
    values = best["peak_score"]
    values.attrs.update(best.attrs)
    out = P.plot_voxel_map(values, tmp_path / f"map_{kind}.png", title="peak r", cbar_label="Pearson r", kind=kind)
    assert is_png(out)


def test_depth_map_svg(fmri, tmp_path):
    best = A.best_layer_map(fmri)
    depth = best["best_relative_depth"] + 1e-3
    depth.attrs.update(best.attrs)
    out = P.plot_voxel_map(depth, tmp_path / "depth.svg", title="best layer", cbar_label="relative depth",
                           symmetric=False, cmap="viridis", vmin=0, vmax=1)
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and len(text) > 10000


def test_parcel_targets_paint_whole_parcels(tmp_path):
    import nibabel as nib

    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = -20
    labels = np.zeros((10, 10, 10), dtype=np.int16)
    labels[1:4, 1:4, 1:4] = 3          # 27 voxels, centroid (2, 2, 2)
    labels[6:9, 5:9, 5:7] = 7          # 24 voxels, centroid (7, 6.5, 5.5)
    atlas = tmp_path / "atlas.nii.gz"
    nib.save(nib.Nifti1Image(labels, affine), atlas)
    centroids = np.array([[7, 6.5, 5.5], [2, 2, 2]])   # parcel order need not be label order
    xyz = centroids * 4.0 - 20
    values = xr.DataArray([0.5, 0.2], dims="voxel",
                          coords={"x": ("voxel", xyz[:, 0]), "y": ("voxel", xyz[:, 1]), "z": ("voxel", xyz[:, 2]),
                                  "n_voxels": ("voxel", [24, 27])},
                          attrs={"affine": affine.tolist(), "mask_shape": [10, 10, 10], "atlas": str(atlas)})
    data = P.values_to_nifti(values).get_fdata()
    assert np.all(data[labels == 7] == pytest.approx(0.5)) and np.all(data[labels == 3] == pytest.approx(0.2))
    assert np.all(data[labels == 0] == 0)


def test_grid_inferred_when_scores_lack_affine(fmri):
    best = A.best_layer_map(fmri)
    values = best["peak_score"]        # no affine / mask_shape attributes
    img = P.values_to_nifti(values)
    assert np.allclose(np.diag(img.affine)[:3], 6.0)
    data = img.get_fdata()
    assert np.count_nonzero(data) == values.sizes["voxel"]
    ijk = np.linalg.inv(img.affine) @ np.array([values["x"][5], values["y"][5], values["z"][5], 1.0])
    assert data[tuple(np.rint(ijk[:3]).astype(int))] == pytest.approx(float(values[5]))
