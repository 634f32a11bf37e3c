"""brainalign.encoding.targets: one channel set per subject, subjects aligned by channel name,
words touching BAD (NaN) samples left out."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from brainalign.encoding.targets import (_align_across_subjects, _align_subject_runs, align_channels, check_recording,
                                         drop_words_with_nan)
from brainalign.errors import InputError


def rec(channels, source="", n=20, seed=0):
    data = np.random.default_rng(seed).standard_normal((n, len(channels))).astype(np.float32)
    return xr.DataArray(data, dims=("time", "channel"), coords={"time": np.arange(n) / 10.0, "channel": channels},
                        attrs={"source_file": source})


def test_runs_of_a_subject_reduced_to_their_common_channels():
    recs = {"01": {"a": rec(["C3", "C4", "Cz"], "a.vhdr"), "b": rec(["C3", "Cz"], "b.vhdr")},
            "02": {"a": rec(["C3", "Cz", "C4"]), "b": rec(["C3", "C4", "Cz"])}}
    with pytest.raises(InputError, match=r"subjects keep different channels \(2 for subject 01\): subject 02 has "
                                         r"\['C4'\] that subject 01 lacks"):
        align_channels(recs)
    recs["02"] = {"a": rec(["Cz", "C3"]), "b": rec(["C3", "Cz"])}
    out, attrs = align_channels(recs)
    assert [list(out[s][t].channel.values) for s in out for t in out[s]] == [["C3", "Cz"]] * 4
    assert json.loads(attrs["channels_dropped"]) == {"01": ["C4"]} and attrs["channels_across_runs"] == "drop"
    np.testing.assert_array_equal(out["02"]["a"].values, recs["02"]["a"].values[:, ::-1])  # reordered by name
    with pytest.raises(InputError, match=r"^b\.vhdr: subject 01's runs kept different channels .*story b \(b\.vhdr\) "
                                         r"lacks \['C4'\]"):
        align_channels(recs, policy="error")


def test_nothing_to_do_for_voxels_or_equal_channels():
    vox = {"01": {"a": xr.DataArray(np.zeros((3, 4)), dims=("time", "voxel"))}}
    out, attrs = align_channels(vox, dim="channel")
    assert attrs == {} and out["01"]["a"] is vox["01"]["a"]
    same = {"01": {"a": rec(["x", "y"])}, "02": {"a": rec(["x", "y"])}}
    out, attrs = align_channels(same)
    assert attrs == {"channels_across_runs": "drop"} and out["02"]["a"] is same["02"]["a"]
    with pytest.raises(InputError, match="channels_across_runs"):
        align_channels(same, policy="keep")


def test_no_common_channel_is_an_error():
    with pytest.raises(InputError, match="no channel is present in every one of its runs"):
        align_channels({"01": {"a": rec(["x"]), "b": rec(["y"])}})


def test_subject_runs_keep_the_common_channels_in_the_first_runs_order():
    recs = {"a": rec(["Cz", "C3", "C4", "Pz"]), "b": rec(["C4", "Pz", "Cz"]), "c": rec(["Pz", "Cz", "C4", "O1"])}
    aligned, gone = _align_subject_runs("01", recs, policy="drop", dim="channel")
    assert gone == ["C3", "O1"]
    assert {t: list(r.channel.values) for t, r in aligned.items()} == {t: ["Cz", "C4", "Pz"] for t in "abc"}
    np.testing.assert_array_equal(aligned["b"].values, recs["b"].values[:, [2, 0, 1]])  # values follow their names
    same = {"a": rec(["x", "y"]), "b": rec(["x", "y"])}
    aligned, gone = _align_subject_runs("01", same, policy="error", dim="channel")
    assert gone == [] and aligned["b"] is same["b"]
    assert _align_subject_runs("01", {}, policy="drop", dim="channel") == ({}, [])


def test_subjects_put_in_the_first_subjects_channel_order():
    out = {"01": {"a": rec(["y", "x", "z"])}, "02": {}, "03": {"a": rec(["z", "y", "x"], seed=1)}}
    original = out["03"]["a"]
    aligned = _align_across_subjects(dict(out), dim="channel")
    assert list(aligned["03"]["a"].channel.values) == ["y", "x", "z"]
    np.testing.assert_array_equal(aligned["03"]["a"].values, original.values[:, [1, 2, 0]])
    assert aligned["02"] == {}
    with pytest.raises(InputError, match=r"subject 03 lacks \['z'\] and has \['w'\] that subject 01 lacks"):
        _align_across_subjects({"01": {"a": rec(["y", "x", "z"])}, "03": {"a": rec(["x", "y", "w"])}}, dim="channel")


def test_words_with_nan_left_out_and_inf_refused():
    ep = xr.DataArray(np.ones((5, 2, 3)), dims=("word", "channel", "lag"), coords={"word": [3, 4, 5, 6, 7]})
    ep.values[1, 0, 2] = np.nan
    kept, n = drop_words_with_nan(ep, "x")
    assert n == 1 and kept.word.values.tolist() == [3, 5, 6, 7]
    values = np.zeros((4, 2))
    values[1, 1] = np.nan
    check_recording(values, allow_nan=True, name="r")
    with pytest.raises(ValueError, match=r"r contain 1 NaN/inf values \(first at row 1, target 1\)"):
        check_recording(values, allow_nan=False, name="r")
    values[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"1 inf values \(first at row 2, target 0\)"):
        check_recording(values, allow_nan=True, name="r")
