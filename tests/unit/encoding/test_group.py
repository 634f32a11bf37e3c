"""Repeat-based ceilings and group-level maps (brainalign.encoding.group) on planted truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from brainalign.encoding.group import (attach_repeat_ceiling, group_maps, repeat_ceilings,
                                       single_run_ceiling)


def _repeated_runs(rng, n_rep: int, n: int, signal_var: np.ndarray, shared: np.ndarray | None = None):
    """``n_rep`` runs of one story: the same signal (variance ``signal_var`` per target) + unit noise."""
    k = signal_var.size
    sig = (shared if shared is not None else rng.standard_normal((n, k))) * np.sqrt(signal_var)
    return [sig + rng.standard_normal((n, k)) for _ in range(n_rep)], sig


def test_single_run_ceiling_is_the_signal_fraction_of_one_run():
    """Signal variance S, noise 1: the best single-run r is sqrt(S / (S + 1)), whatever the repeats."""
    rng = np.random.default_rng(0)
    s = np.array([0.0, 0.25, 1.0, 4.0])
    truth = np.sqrt(s / (s + 1))
    for n_rep in (2, 5):
        runs, _ = _repeated_runs(rng, n_rep, 20000, s)
        ceiling, rho = single_run_ceiling(np.stack(runs))
        # no signal: rho ~ 0 +- 1/sqrt(n), and its square root is small but positive
        np.testing.assert_allclose(ceiling[1:], truth[1:], atol=0.03)
        assert ceiling[0] < 0.1
        np.testing.assert_allclose(rho, s / (s + 1), atol=0.02)


def test_the_ceiling_bounds_the_r_of_the_true_model():
    """A model predicting the planted signal exactly scores the ceiling on one run (ratio ~1)."""
    rng = np.random.default_rng(1)
    s = np.array([0.5, 2.0])
    runs, sig = _repeated_runs(rng, 3, 20000, s)
    ceiling, _ = single_run_ceiling(np.stack(runs))
    r_true = np.array([np.corrcoef(sig[:, j], runs[0][:, j])[0, 1] for j in range(2)])
    np.testing.assert_allclose(r_true / ceiling, 1.0, atol=0.03)


def test_single_run_ceiling_rejects_one_run():
    with pytest.raises(ValueError, match="k >= 2"):
        single_run_ceiling(np.zeros((1, 10, 2)))


def _run(data: np.ndarray, labels) -> xr.DataArray:
    return xr.DataArray(data, dims=("time", "voxel"), coords={"time": np.arange(len(data)), "voxel": labels})


def test_repeat_ceilings_pool_stories_cut_runs_and_skip_single_runs():
    """Two repeated stories of unequal lengths and NaN samples; subject 02 has no repetition."""
    rng = np.random.default_rng(2)
    s = np.array([0.25, 1.0, 4.0])
    labels = np.array([10, 11, 12])
    a, _ = _repeated_runs(rng, 2, 6000, s)
    b, _ = _repeated_runs(rng, 3, 5000, s)
    b[1] = np.vstack([b[1], rng.standard_normal((40, 3))])  # a repetition 40 samples longer: cut
    a[0][5:9] = np.nan  # bad samples: dropped from every pair
    reps = {"01": {"a": [_run(x, labels) for x in a], "b": [_run(x, labels) for x in b]},
            "02": {"a": [_run(a[0], labels)]}}
    out = repeat_ceilings(reps, labels[::-1], "voxel")
    assert list(out["subject"].values) == ["01"]
    np.testing.assert_allclose(out["ceiling"].sel(subject="01", voxel=labels).values, np.sqrt(s / (s + 1)), atol=0.03)
    assert json.loads(out.attrs["runs_per_story"]) == {"01": {"a": 2, "b": 3}}
    with pytest.raises(ValueError, match="no subject"):
        repeat_ceilings({"02": {"a": [_run(a[0], labels)]}}, labels, "voxel")


def _scores(r: np.ndarray, ceiling: np.ndarray | None = None) -> xr.Dataset:
    n_sub, n_layer, n_vox = r.shape
    ds = xr.Dataset({"r": (("subject", "layer", "voxel"), r)},
                    coords={"subject": [f"{i + 1:02d}" for i in range(n_sub)], "layer": np.arange(n_layer),
                            "voxel": np.arange(n_vox)}, attrs={"ceiling_method": "intersubject"})
    if ceiling is not None:
        ds["ceiling"] = (("subject", "voxel"), ceiling)
    return ds


def test_attach_repeat_ceiling_replaces_the_intersubject_ceiling_of_repeated_subjects_only():
    r = np.full((2, 2, 3), 0.2)
    scores = _scores(r, ceiling=np.full((2, 3), 0.5))
    rep = xr.Dataset({"ceiling": (("subject", "voxel"), [[0.4, 0.8, 0.01]])},
                     coords={"subject": ["01"], "voxel": [0, 1, 2]})
    out = attach_repeat_ceiling(scores, rep)
    np.testing.assert_allclose(out["ceiling"].values, [[0.4, 0.8, 0.01], [0.5, 0.5, 0.5]], rtol=1e-6)
    norm = out["r_normalized"].values
    np.testing.assert_allclose(norm[0, :, :2], [[0.5, 0.25]] * 2, rtol=1e-6)
    assert np.isnan(norm[0, :, 2]).all()  # a ceiling below 0.05: undefined, not blown up
    np.testing.assert_allclose(norm[1], 0.4, rtol=1e-6)
    methods = json.loads(out.attrs["ceiling_method"])
    assert methods["01"].startswith("repeat") and methods["02"] == "intersubject"
    # no ceiling before (e.g. encoding.ceiling: none): only the repeated subject gets one
    bare = attach_repeat_ceiling(_scores(r), rep)
    assert np.isnan(bare["ceiling"].sel(subject="02")).all()
    assert json.loads(bare.attrs["ceiling_method"])["02"] == "none"


def test_attach_repeat_ceiling_broadcasts_over_meeg_lags():
    r = np.full((2, 2, 3, 4), 0.3)
    scores = xr.Dataset({"r": (("subject", "layer", "channel", "lag"), r)},
                        coords={"subject": ["01", "02"], "layer": [0, 1], "channel": ["A", "B", "C"],
                                "lag": np.arange(4) * 0.1})
    rep = xr.Dataset({"ceiling": (("subject", "channel"), [[0.6, 0.6, 0.6], [0.3, 0.3, 0.3]])},
                     coords={"subject": ["01", "02"], "channel": ["A", "B", "C"]})
    out = attach_repeat_ceiling(scores, rep)
    assert out["r_normalized"].dims == scores["r"].dims
    np.testing.assert_allclose(out["r_normalized"].sel(subject="01").values, 0.5, rtol=1e-6)
    np.testing.assert_allclose(out["r_normalized"].sel(subject="02").values, 1.0, rtol=1e-6)


def test_group_maps_find_the_planted_targets_under_fdr():
    """8 subjects; targets 0-9 have a mean r of 0.1 (sd 0.03), 10-99 none: found, and few false."""
    rng = np.random.default_rng(3)
    r = rng.normal(0, 0.03, (8, 3, 100))
    r[:, 1, :10] += 0.1  # planted at layer 1 only
    out = group_maps(_scores(r), method="signflip", fdr_q=0.05)
    sig = out["significant_group"]
    assert sig.dims == ("layer", "voxel")
    assert sig.sel(layer=1).values[:10].all()
    assert sig.sel(layer=1).values[10:].sum() <= 5
    # exact sign flips over 8 subjects: the smallest p is 1/256, which survives BH over 100 targets
    assert float(out["p_group"].sel(layer=1).values[:10].max()) == pytest.approx(1 / 256)
    assert sig.sel(layer=0).values.sum() <= 5 and sig.sel(layer=2).values.sum() <= 5
    assert json.loads(out.attrs["group_test"])["method"] == "signflip"
    t = group_maps(_scores(r), method="t", fdr_q=0.05)["significant_group"]
    assert t.sel(layer=1).values[:10].all()


def test_group_maps_null_is_calibrated_and_none_is_a_no_op():
    rng = np.random.default_rng(4)
    r = rng.normal(0, 0.05, (10, 1, 2000))
    p = group_maps(_scores(r), method="signflip")["p_group"].values.ravel()
    assert 0.03 < (p <= 0.05).mean() < 0.07
    assert "p_group" not in group_maps(_scores(r), method="none")
    with pytest.raises(ValueError, match=">= 2 subjects"):
        group_maps(_scores(r[:1]))


def test_group_maps_leave_targets_missing_in_a_subject_untested():
    r = np.full((4, 1, 3), 0.2) + np.random.default_rng(5).normal(0, 0.01, (4, 1, 3))
    r[2, 0, 1] = np.nan
    p = group_maps(_scores(r))["p_group"].values[0]
    assert np.isnan(p[1]) and np.isfinite(p[[0, 2]]).all()


def test_repeat_ceilings_from_runs_groups_encoded_runs_with_their_repetitions():
    """Rule repeat_ceiling's inputs: encoded runs keyed (subject, story), repetitions (subject, story, label)."""
    rng = np.random.default_rng(6)
    s = np.array([0.5, 2.0])
    labels = ["v0", "v1"]
    (a0, a1, a2), _ = _repeated_runs(rng, 3, 8000, s)
    enc = {("01", "a"): _run(a0, labels).assign_coords(x=("voxel", [3.0, 9.0])),
           ("02", "a"): _run(rng.standard_normal((8000, 2)), labels)}
    reps = {("01", "a", "run-2"): _run(a1, labels), ("01", "a", "run-3"): _run(a2, labels)}
    from brainalign.encoding.group import repeat_ceilings_from_runs

    out = repeat_ceilings_from_runs(enc, reps)
    assert list(out["subject"].values) == ["01"] and list(out["voxel"].values) == labels
    assert list(out["x"].values) == [3.0, 9.0]
    np.testing.assert_allclose(out["ceiling"].values[0], np.sqrt(s / (s + 1)), atol=0.03)
    with pytest.raises(ValueError, match="without its encoded run"):
        repeat_ceilings_from_runs(enc, {("03", "a", "run-2"): _run(a1, labels)})


def test_finish_scores_applies_the_config_and_leaves_separate_fits_alone():
    from brainalign.config_sections import with_defaults
    from brainalign.encoding.group import finish_scores

    enc = with_defaults("encoding", {})
    assert enc["repeat_ceiling"] is True and enc["group_test"]["method"] == "signflip"
    rng = np.random.default_rng(7)
    # 8 subjects: exact sign flips reach p = 1/256, under BH's 5/50 x 0.05 (6 subjects, 1/64, would not)
    r = rng.normal(0, 0.03, (8, 2, 50))
    r[:, 0, :5] += 0.2
    rep = xr.Dataset({"ceiling": (("subject", "voxel"), np.full((1, 50), 0.5))},
                     coords={"subject": ["01"], "voxel": np.arange(50)})
    out = finish_scores(_scores(r), enc, ceilings=rep)
    assert out["significant_group"].sel(layer=0).values[:5].all()
    np.testing.assert_allclose(out["r_normalized"].sel(subject="01").values, r[0] / 0.5, rtol=1e-5)
    off = finish_scores(_scores(r), {**enc, "repeat_ceiling": False, "group_test": {**enc["group_test"],
                                                                                    "method": "none"}}, ceilings=rep)
    assert "p_group" not in off and "r_normalized" not in off
    separate = _scores(r)
    separate.attrs["subject_fits"] = "separate"
    assert set(finish_scores(separate, enc, ceilings=rep).data_vars) == {"r"}

