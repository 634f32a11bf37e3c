"""brainalign.preprocess.nonfinite: finding NaN/inf samples and the error / interpolate / mark policies."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from brainalign.errors import ConfigError, InputError
from brainalign.preprocess.nonfinite import _repair, apply_nonfinite_policy, describe_samples, mark_bad_samples


def test_describe_samples_groups_runs_and_times():
    times = np.arange(100) * 0.5
    assert describe_samples(np.array([3, 10, 11, 12]), times) == "samples 3, 10-12 (t = 1.5 s, 5-6 s)"
    assert describe_samples(np.array([0, 1]), None, sample_name="volume", offset=4) == "volumes 4-5"
    text = describe_samples(np.arange(0, 20, 2), None, limit=3)
    assert text == "samples 0, 2, 4 and 7 more run(s)"


def test_clean_data_is_returned_untouched_and_recorded():
    data = np.ones((5, 3))
    res = apply_nonfinite_policy(data, policy="error", max_fraction=0.1, source="f", modality="fmri", key="k")
    assert res.data is data and res.keep.all() and res.attrs == {
        "nonfinite": "error", "nonfinite_max_fraction": 0.1, "nonfinite_values": 0, "nonfinite_targets": []}


def test_error_names_source_targets_and_samples():
    data = np.zeros((10, 4))
    data[2, 1] = np.nan
    data[5:7, 3] = -np.inf
    with pytest.raises(InputError, match=r"^rec\.fif: 3 non-finite value\(s\) \(1 NaN, 2 inf\) in 2 of 4 channel\(s\) "
                                         r"\[B, D\] at 3 of 10 sample\(s\): samples 2, 5-6 \(t = 0\.2 s, 0\.5-0\.6 s\)"):
        apply_nonfinite_policy(data, policy="error", max_fraction=0.1, source="rec.fif", modality="meeg",
                               key="preprocess.meeg", target_names=list("ABCD"), times=np.arange(10) / 10,
                               what="channel")


def test_interpolate_is_linear_in_time_with_nearest_edges():
    data = np.tile(np.arange(10.0)[:, None], (1, 2))
    data[[0, 4, 5], 0] = np.nan
    res = apply_nonfinite_policy(data, policy="interpolate", max_fraction=0.5, source="f", modality="fmri", key="k")
    np.testing.assert_allclose(res.data[:, 0], [1, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert res.attrs["nonfinite_interpolated"] == ["0"] and res.attrs["nonfinite_zeroed"] == []
    assert res.bad_samples.tolist() == [True, False, False, False, True, True, False, False, False, False]


def test_beyond_the_fraction_fmri_zeroes_meeg_drops():
    data = np.random.default_rng(0).standard_normal((20, 3))
    data[:5, 1] = np.nan  # 25%
    fmri = apply_nonfinite_policy(data, policy="interpolate", max_fraction=0.2, source="f", modality="fmri", key="k")
    assert (fmri.data[:, 1] == 0).all() and fmri.keep.all() and fmri.attrs["nonfinite_zeroed"] == ["1"]
    meeg = apply_nonfinite_policy(data, policy="mark", max_fraction=0.2, source="f", modality="meeg", key="k",
                                  target_names=["a", "b", "c"])
    assert meeg.keep.tolist() == [True, False, True] and meeg.attrs["nonfinite_dropped"] == ["b"]
    assert not meeg.bad_samples.any()  # the dropped channel's samples mark nothing
    with pytest.raises(InputError, match="none left"):
        apply_nonfinite_policy(np.full((4, 2), np.nan), policy="interpolate", max_fraction=0.5, source="f",
                               modality="meeg", key="k")


def test_repair_interpolates_within_the_fraction_and_zeroes_beyond():
    data = np.tile(np.arange(8.0, dtype=np.float32)[:, None], (1, 3))
    data[3, 0] = np.nan  # 1/8: repaired
    data[:4, 2] = np.inf  # 4/8: beyond 0.25
    bad = ~np.isfinite(data)
    out, repair, beyond = _repair(data, bad, np.array([0, 2]), max_fraction=0.25)
    assert repair.tolist() == [0] and beyond.tolist() == [2] and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0], np.arange(8.0))
    np.testing.assert_array_equal(out[:, 1], np.arange(8.0))  # untouched
    assert (out[:, 2] == 0).all() and np.isinf(data[0, 2])  # the input is not modified


def test_policy_and_fraction_are_checked():
    with pytest.raises(ConfigError, match=r"config key 'preprocess\.fmri\.nonfinite': 'mark' is not a policy"):
        apply_nonfinite_policy(np.zeros((3, 1)), policy="mark", max_fraction=0.1, source="f", modality="fmri",
                               key="preprocess.fmri")
    with pytest.raises(ConfigError, match="nonfinite_max_fraction"):
        apply_nonfinite_policy(np.zeros((3, 1)), policy="error", max_fraction=2.0, source="f", modality="fmri", key="k")


@pytest.mark.parametrize("meas_date", [None, 1_600_000_000])
def test_marked_samples_become_nan_exactly(meas_date):
    info = mne.create_info(["a", "b"], 100.0, "eeg")
    raw = mne.io.RawArray(np.ones((2, 500)), info, first_samp=37, verbose="error")
    if meas_date is not None:
        raw.set_meas_date(meas_date)
    bad = np.zeros(500, bool)
    bad[[10, 11, 12, 300]] = True
    assert mark_bad_samples(raw, bad) == 2
    got = np.isnan(raw.get_data(reject_by_annotation="NaN")[0])
    np.testing.assert_array_equal(got, bad)
    assert set(raw.annotations.description) == {"BAD_nonfinite"}
