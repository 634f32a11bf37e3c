"""brainalign.encoding.inputs.read_encoding_inputs: an encoding job's features, recordings and onsets."""

import numpy as np
import pytest
import xarray as xr

from brainalign.encoding import read_encoding_inputs
from brainalign.io.store import write_zarr


def _stores(tmp_path):
    features, recordings, runs = [], [], []
    for story in ("a", "b"):
        ds = xr.Dataset({"hidden": (("word", "layer"), np.full((3, 2), ord(story), dtype=np.float32))})
        features.append(write_zarr(ds, tmp_path / f"features_{story}.zarr"))
        for subject in ("01", "02"):
            data = xr.DataArray(np.full((4, 2), float(subject), dtype=np.float32), dims=("time", "voxel"))
            recordings.append(write_zarr(data, tmp_path / f"sub-{subject}_{story}.zarr"))
            runs.append((subject, story))
    return features, recordings, runs


def test_reads_features_per_story_and_recordings_per_subject_and_story(tmp_path):
    features, recordings, runs = _stores(tmp_path)
    feats, recs, onsets = read_encoding_inputs(["a", "b"], features, runs, recordings)
    assert list(feats) == ["a", "b"]
    assert float(feats["b"]["hidden"][0, 0]) == ord("b")
    assert {s: list(v) for s, v in recs.items()} == {"01": ["a", "b"], "02": ["a", "b"]}
    assert float(recs["02"]["a"][0, 0]) == 2.0 and recs["02"]["a"].dims == ("time", "voxel")
    assert onsets is None  # no per-subject word tables: the features' onsets for everyone


@pytest.mark.parametrize("cut", ["features", "recordings"])
def test_lists_out_of_step_are_refused(tmp_path, cut):
    features, recordings, runs = _stores(tmp_path)
    if cut == "features":
        features = features[:1]
    else:
        recordings = recordings[:-1]
    with pytest.raises(ValueError, match="expected one per"):
        read_encoding_inputs(["a", "b"], features, runs, recordings)
