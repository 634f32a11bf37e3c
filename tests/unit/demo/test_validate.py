"""brainalign.demo.validate on synthetic Scores datasets with known answers."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign.demo import region_profiles, validate_demo

LAYERS = np.arange(0, 31, 3)  # a layer subset, as the reduced config encodes


def _truth():
    a = [[-54.0, -22.0, 8.0], [-48.0, -22.0, 8.0]]
    b = [[40.0, 20.0, 10.0], [46.0, 20.0, 10.0], [40.0, 26.0, 10.0]]
    return {
        "regions": [
            {"name": "early", "modality": "fmri", "planted_layer": 7, "voxels_mni": a, "mask_index": [0, 1],
             "atlas_name": "L-01"},
            {"name": "late", "modality": "fmri", "planted_layer": 25, "voxels_mni": b, "mask_index": [2, 3, 4],
             "atlas_name": "R-02"},
            {"name": "middle", "modality": "eeg", "planted_layer": 16, "channels": ["Cz", "C1"]},
        ],
        "noise": {"fmri": {"min_distance_mm": 12.0}, "eeg": {"channels": ["Fp1", "Oz", "O1"]}},
    }


def _fmri_scores(peaks: dict[int, int], height: float = 0.4, noise_r: float = 0.01) -> xr.Dataset:
    """Voxels 0-1 region early, 2-4 region late, 5 too close to a planted voxel, 6-8 far noise."""
    xyz = np.array([[-54, -22, 8], [-48, -22, 8], [40, 20, 10], [46, 20, 10], [40, 26, 10],
                    [-54, -16, 8], [0, -80, 0], [20, 60, 40], [-20, 60, -20]], float)
    r = np.full((2, len(LAYERS), len(xyz)), noise_r)
    r[:, :, 5] = 0.3  # leaked signal next to a planted voxel: not a noise-only target
    for (lo, hi), layer in zip(((0, 2), (2, 5)), (peaks[0], peaks[1])):
        prof = height - 0.02 * np.abs(LAYERS - layer)
        r[:, :, lo:hi] = prof[None, :, None]
    return xr.Dataset({"r": (("subject", "layer", "voxel"), r)},
                      coords={"subject": ["01", "02"], "layer": LAYERS, "voxel": np.arange(len(xyz)),
                              "x": ("voxel", xyz[:, 0]), "y": ("voxel", xyz[:, 1]), "z": ("voxel", xyz[:, 2])})


def _eeg_scores(peak_layer: int, height: float = 0.5) -> xr.Dataset:
    chans = ["Cz", "C1", "Fp1", "Oz", "O1"]
    lags = np.round(np.arange(0, 0.81, 0.1), 2)
    lag_shape = np.exp(-0.5 * ((lags - 0.3) / 0.1) ** 2)
    r = np.zeros((3, len(LAYERS), len(chans), len(lags)))
    prof = height - 0.02 * np.abs(LAYERS - peak_layer)
    r[:, :, :2, :] = prof[None, :, None, None] * lag_shape[None, None, None, :]
    # a lag where a *different* layer is best but the region's mean over layers is low
    r[:, LAYERS == 0, :2, lags == 0.8] = 0.45
    r[:, :, 2:, :] = -0.005
    return xr.Dataset({"r": (("subject", "layer", "channel", "lag"), r)},
                      coords={"subject": ["01", "02", "03"], "layer": LAYERS, "channel": chans, "lag": lags})


def test_recovers_planted_layers_and_passes():
    truth = _truth()
    scores = {"fmri": _fmri_scores({0: 6, 1: 24}), "eeg": _eeg_scores(15)}
    control = {"fmri": _fmri_scores({0: 21, 1: 3}, height=0.15), "eeg": _eeg_scores(0, height=0.1)}
    table = validate_demo(truth, scores, control)
    assert list(table.columns[:7]) == ["region", "modality", "planted_layer", "recovered_layer", "score_model",
                                       "score_control", "passed"]
    planted = table[table.region != "noise"].set_index("region")
    assert planted.loc["early", "recovered_layer"] == 6
    assert planted.loc["late", "recovered_layer"] == 24
    assert planted.loc["middle", "recovered_layer"] == 15  # at the peak lag 0.3, not the lag-0.8 outlier
    assert planted.loc["early", "score_model"] == pytest.approx(0.4)
    assert planted.loc["early", "score_control"] == pytest.approx(0.15)
    assert planted.loc["middle", "score_model"] == pytest.approx(0.5)
    assert planted.loc["early", "n_targets"] == 2 and planted.loc["late", "n_targets"] == 3
    assert planted["passed"].all()
    noise = table[table.region == "noise"].set_index("modality")
    assert list(table.region.iloc[-2:]) == ["noise", "noise"]
    # voxel 5 (6 mm from a planted voxel) is excluded; voxels 6-8 are noise-only
    assert noise.loc["fmri", "score_model"] == pytest.approx(0.01)
    assert noise.loc["fmri", "n_targets"] == 3
    assert noise.loc["eeg", "score_model"] == pytest.approx(-0.005)
    assert noise["passed"].all()
    assert pd.isna(noise.loc["fmri", "recovered_layer"])


def test_fails_on_wrong_layer_weak_score_or_strong_control():
    truth = _truth()
    eeg = _eeg_scores(15)
    table = validate_demo(truth, {"fmri": _fmri_scores({0: 12, 1: 24}), "eeg": eeg}, {})
    row = table.set_index("region").loc["early"]
    assert row["recovered_layer"] == 12 and not row["passed"]  # 5 layers off
    assert np.isnan(table.set_index("region").loc["late", "score_control"])
    assert table.set_index("region").loc["late", "passed"]  # no control: criterion skipped
    weak = validate_demo(truth, {"fmri": _fmri_scores({0: 6, 1: 24}, height=0.15), "eeg": eeg}, {})
    assert not weak.set_index("region").loc["early", "passed"]  # 0.15 <= 0.2
    strong = validate_demo(truth, {"fmri": _fmri_scores({0: 6, 1: 24}), "eeg": eeg},
                           {"fmri": _fmri_scores({0: 6, 1: 24}, height=0.45)})
    assert not strong.set_index("region").loc["early", "passed"]
    noisy = validate_demo(truth, {"fmri": _fmri_scores({0: 6, 1: 24}, noise_r=0.05), "eeg": eeg}, {})
    assert not noisy[(noisy.region == "noise") & (noisy.modality == "fmri")]["passed"].iloc[0]


def test_region_profile_matches_by_atlas_name_and_mask_index():
    truth = _truth()
    r = np.zeros((1, len(LAYERS), 3))
    r[0, :, 1] = np.linspace(0, 0.3, len(LAYERS))
    parcels = xr.Dataset({"r": (("subject", "layer", "voxel"), r)},
                         coords={"subject": ["01"], "layer": LAYERS, "voxel": np.arange(3),
                                 "region": ("voxel", ["R-02", "L-01", "L-03"])})
    prof = region_profiles(parcels, truth["regions"][0])
    assert prof.attrs["n_targets"] == 1 and float(prof.max()) == pytest.approx(0.3)
    bare = xr.Dataset({"r": (("subject", "layer", "voxel"), np.arange(2 * 11 * 6, dtype=float).reshape(2, 11, 6))},
                      coords={"subject": ["01", "02"], "layer": LAYERS, "voxel": np.arange(6)})
    prof = region_profiles(bare, truth["regions"][1])  # mask_index 2, 3, 4
    expected = bare["r"].isel(voxel=[2, 3, 4]).mean(("subject", "voxel"))
    np.testing.assert_allclose(prof.values, expected.values)


def test_bad_inputs_are_named():
    truth = _truth()
    with pytest.raises(ValueError, match="no eeg scores"):
        validate_demo(truth, {"fmri": _fmri_scores({0: 6, 1: 24})}, {})
    far = _fmri_scores({0: 6, 1: 24}).isel(voxel=[6, 7, 8])
    with pytest.raises(ValueError, match="planted region 'early'"):
        validate_demo(truth, {"fmri": far, "eeg": _eeg_scores(15)}, {})
