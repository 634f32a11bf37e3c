"""Figures are written headless, non-empty, in the asked format (brainalign.plotting)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign import analyses as A
from brainalign import plotting as P
from brainalign.analyses.synthetic import make_scores

REGIONS = {"early": {"depth": 0.2, "latency": 0.1}, "late": {"depth": 0.8, "latency": 0.4},
           "noise": {"amplitude": 0.0}}
PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG and len(data) > 5000


@pytest.fixture(scope="module")
def fmri():
    return make_scores(REGIONS, n_layers=8, n_subjects=3, seed=0)


@pytest.fixture(scope="module")
def eeg():
    return make_scores(REGIONS, modality="eeg", n_layers=8, n_subjects=3, targets_per_region=8, seed=1)


def test_saved_figure_is_readable_by_group(tmp_path):
    import os
    import stat

    out = P.save_figure(P.new_figure(), tmp_path / "x.png")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_save_figure_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="format"):
        P.save_figure(P.new_figure(), tmp_path / "x.jpg")


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
    assert _is_png(out)


def test_depth_map_svg(fmri, tmp_path):
    best = A.best_layer_map(fmri)
    depth = best["best_relative_depth"] + 1e-3
    depth.attrs.update(best.attrs)
    out = P.plot_voxel_map(depth, tmp_path / "depth.svg", title="best layer", cbar_label="relative depth",
                           symmetric=False, cmap="viridis", vmin=0, vmax=1)
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and len(text) > 10000


def test_sensor_info_positions(eeg):
    info, idx = P.sensor_info(eeg)
    assert len(info["ch_names"]) == eeg.sizes["channel"] == idx.size
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    np.testing.assert_allclose(pos[:, 0], eeg["pos_x"].values, atol=1e-9)


def test_topomaps_and_time_courses(eeg, tmp_path):
    values = eeg["r"].mean("subject").max("lag")
    assert _is_png(P.plot_topomaps(values, tmp_path / "topo.png", title="EEG r per layer"))
    table = P.time_course_table(eeg)
    early = table[table["region"] == "early"]
    assert early.loc[early["mean"].idxmax(), "lag"] == pytest.approx(0.1)
    assert _is_png(P.plot_time_courses(table, tmp_path / "tc.png"))


def test_meg_topomap(tmp_path):
    meg = make_scores(REGIONS, modality="meg", n_layers=4, n_subjects=2, targets_per_region=8)
    assert _is_png(P.plot_topomaps(meg["r"].mean("subject").max("lag"), tmp_path / "meg.png", title="MEG"))


def test_curves(fmri, tmp_path):
    control = make_scores({k: {**v, "amplitude": 0.05} for k, v in REGIONS.items()}, n_layers=8, n_subjects=3, seed=5)
    profiles = {"model": A.layer_profiles(fmri), "model_random": A.layer_profiles(control)}
    assert _is_png(P.plot_layer_profiles(profiles, tmp_path / "prof.png", controls=("model_random",)))
    best = A.best_layers(fmri)
    assert _is_png(P.plot_best_depths({"model": best}, tmp_path / "best.png"))
    corr = A.hierarchy_correlation({"early": 1, "late": 2, "noise": 3}, best)
    assert _is_png(P.plot_hierarchy(best, {"early": 1, "late": 2, "noise": 3}, corr, tmp_path / "h.png"))
    assert _is_png(P.plot_control_comparison(A.compare_to_control(fmri, control), tmp_path / "ctrl.png"))
    fop = A.fraction_of_peak_table({"model": fmri, "model_random": control})
    assert _is_png(P.plot_fraction_of_peak(fop, tmp_path / "fop.png"))
    brain = pd.concat([A.peak_scores(fmri, model="model"), A.peak_scores(control, model="model_random")],
                      ignore_index=True)
    table, cor = A.brain_vs_quality(brain, A.quality_table({"model": 20.0, "model_random": 5000.0}))
    assert _is_png(P.plot_quality(table, cor, tmp_path / "q.png"))
    assert _is_png(P.plot_quality(table, cor, tmp_path / "q_bb.png", quality="brainbench_accuracy"))


def test_forecast_and_context_curves(fmri, tmp_path):
    by_d = {d: make_scores(REGIONS, n_layers=8, n_subjects=3, seed=d) for d in (1, 2, 4)}
    gain = A.forecast_gain(fmri, by_d)
    assert _is_png(P.plot_forecast(A.forecast_table(gain), A.best_distance(gain), tmp_path / "f.png"))
    ctx = A.context_profile(A.context_scores({0: fmri, 16: by_d[1], 128: by_d[2]}))
    assert _is_png(P.plot_context(ctx, tmp_path / "c.png"))


def test_similarity_heatmap(tmp_path):
    def feats(seed):
        x = np.random.default_rng(seed).standard_normal((80, 4, 8)).astype(np.float32)
        return xr.DataArray(x, dims=("word", "layer", "feature"),
                            coords={"layer": np.arange(4), "relative_depth": ("layer", np.arange(4) / 3)})
    table = A.similarity_table({"a": feats(0), "b": feats(1)}, debiased=True)
    assert _is_png(P.plot_similarity(table, tmp_path / "cka.png"))


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
