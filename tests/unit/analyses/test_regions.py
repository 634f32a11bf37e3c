"""Region labels for voxels and channels from an atlas or channel groups (brainalign.analyses.regions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign import analyses as A
from brainalign.config_sections import with_defaults


def _regions(values: dict) -> dict:
    """A partial ``analyses.regions`` section with the schema's defaults (as the workflow's validation fills them)."""
    return with_defaults("analyses.regions", values)


def test_label_voxels_and_channels(tmp_path, fmri, meg):
    import nibabel as nib

    from brainalign.analyses.regions import attach_regions, find_region_sources, label_channels, label_voxels

    affine = np.array(fmri.attrs["affine"])
    atlas = np.zeros(fmri.attrs["mask_shape"], dtype=np.int16)
    xyz = np.stack([fmri[c].values for c in ("x", "y", "z")] + [np.ones(fmri.sizes["voxel"])])
    ijk = np.rint(np.linalg.inv(affine) @ xyz)[:3].astype(int)
    truth = fmri["region"].values
    codes = {"early": 1, "middle": 2, "late": 3}
    for k, name in enumerate(truth):
        atlas[tuple(ijk[:, k])] = codes.get(name, 0)            # noise voxels unlabelled
    adir = tmp_path / "derivatives" / "atlas"
    adir.mkdir(parents=True)
    nib.save(nib.Nifti1Image(atlas, affine), adir / "x_dseg.nii.gz")
    pd.DataFrame({"index": [1, 2, 3], "name": ["A", "B", "C"]}).to_csv(adir / "x_dseg.tsv", sep="\t", index=False)
    groups = pd.DataFrame({"channel": meg["channel"].values, "group": meg["region"].values})
    groups.to_csv(adir / "m_channelgroups.tsv", sep="\t", index=False)

    sources = find_region_sources(tmp_path, _regions({"atlas": "auto", "atlas_labels": "auto", "channel_groups": "auto"}))
    assert sources["atlas_labels"].endswith("x_dseg.tsv")
    labelled = attach_regions(fmri.drop_vars("region"), sources)
    expected = np.array([{"early": "A", "middle": "B", "late": "C"}.get(t, "") for t in truth])
    assert (labelled["region"].values == expected).all()
    assert list(A.best_layers(labelled)["region"]) == ["A", "B", "C"]   # "" (unlabelled) dropped
    chans = attach_regions(meg.drop_vars("region"), sources)
    assert (chans["region"].values == meg["region"].values).all()
    assert (attach_regions(fmri.drop_vars("region"), None)["region"].values == "all").all()
    with pytest.raises(ValueError, match="no channel"):
        label_channels(meg, pd.DataFrame({"channel": ["X"], "group": ["g"]}))
    with pytest.raises(FileNotFoundError, match="analyses.regions.atlas"):
        find_region_sources(tmp_path, _regions({"atlas": "{bids_root}/missing.nii.gz"}))
    assert label_voxels(fmri, adir / "x_dseg.nii.gz")["region"].values[0] == "1"
