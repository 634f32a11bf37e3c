"""Synthetic Scores with planted answers, shaped like the encoder's output (brainalign.analyses.synthetic)."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.analyses.synthetic import make_scores


def test_fmri_scores_peak_at_the_planted_depth_with_the_planted_amplitude():
    ds = make_scores({"a": {"depth": 0.25, "amplitude": 0.4}, "b": {"amplitude": 0.0}}, n_subjects=2,
                     n_layers=8, targets_per_region=3, noise=0.0)
    assert dict(ds["r"].sizes) == {"subject": 2, "layer": 9, "voxel": 6}
    assert ds["relative_depth"].values.tolist() == pytest.approx(np.arange(9) / 8)
    a = ds["r"].sel(voxel=ds["region"] == "a")
    assert int(a.mean(("subject", "voxel")).argmax("layer")) == 2 and float(a.max()) == pytest.approx(0.4)
    assert float(abs(ds["r"].sel(voxel=ds["region"] == "b")).max()) == 0.0     # amplitude 0: nothing planted
    np.testing.assert_allclose(ds["r2"].values, np.sign(ds["r"].values) * ds["r"].values ** 2, rtol=1e-6)
    # every voxel sits on the 6 mm grid of the affine, inside the mask
    ijk = np.linalg.inv(np.array(ds.attrs["affine"])) @ np.vstack([ds["x"], ds["y"], ds["z"], np.ones(6)])
    assert np.allclose(ijk, np.rint(ijk)) and (ijk[:3].T < ds.attrs["mask_shape"]).all()
    assert len({tuple(p) for p in ijk[:3].T}) == 6                              # no two voxels coincide


def test_meg_scores_peak_at_the_planted_latency():
    ds = make_scores({"early": {"depth": 0.5, "latency": 0.1}, "late": {"depth": 0.5, "latency": 0.4}},
                     modality="meg", n_subjects=1, n_layers=4, noise=0.0)
    assert ds["r"].dims == ("subject", "layer", "channel", "lag") and set(ds["ch_type"].values) == {"mag"}
    course = ds["r"].mean(("subject", "layer"))
    for region, latency in (("early", 0.1), ("late", 0.4)):
        peak = course.sel(channel=ds["region"] == region).mean("channel").idxmax("lag")
        assert float(peak) == pytest.approx(latency)
    radius = np.sqrt(ds["pos_x"] ** 2 + ds["pos_y"] ** 2 + ds["pos_z"] ** 2)
    assert np.allclose(radius, 0.09)


def test_the_noise_is_seeded():
    regions = {"a": {"depth": 0.5}}
    assert make_scores(regions, seed=3)["r"].equals(make_scores(regions, seed=3)["r"])
    assert not make_scores(regions, seed=3)["r"].equals(make_scores(regions, seed=4)["r"])
