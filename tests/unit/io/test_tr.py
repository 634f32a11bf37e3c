"""The repetition time from the NIfTI header, the JSON sidecar and the caller (brainalign.io.tr)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from brainalign.io.tr import TR_TOLERANCE, header_tr, resolve_tr


def _bold(path, tr: float, unit: str = "sec"):
    img = nib.Nifti1Image(np.zeros((2, 2, 2, 3), np.float32), np.eye(4))
    img.header.set_zooms((1.0, 1.0, 1.0, tr))
    img.header.set_xyzt_units("mm", unit)
    nib.save(img, path)
    return nib.load(path)


def test_header_tr_in_seconds_or_milliseconds_and_unset(tmp_path):
    assert header_tr(_bold(tmp_path / "s_bold.nii.gz", 2.0)) == 2.0
    assert header_tr(_bold(tmp_path / "ms_bold.nii.gz", 1500.0, "msec")) == 1.5
    assert header_tr(_bold(tmp_path / "zero_bold.nii.gz", 0.0)) is None
    volume = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4))
    assert header_tr(volume) is None


def test_sources_that_agree_give_the_first_ones_value(tmp_path):
    bold = tmp_path / "sub-01_task-x_bold.nii.gz"
    _bold(bold, 2.0)
    bold.with_name("sub-01_task-x_bold.json").write_text(json.dumps({"RepetitionTime": 2.0 + TR_TOLERANCE / 2}))
    assert resolve_tr(bold, 2.0) == 2.0
    assert resolve_tr(bold, None) == pytest.approx(2.0 + TR_TOLERANCE / 2)   # the sidecar alone
    assert resolve_tr(None, None, 1.5) == 1.5                                 # the caller alone


def test_disagreement_names_both_sources_and_values(tmp_path):
    bold = tmp_path / "sub-01_task-x_bold.nii.gz"
    _bold(bold, 2.0)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"RepetitionTime": 1.5}))
    with pytest.raises(ValueError, match=r"TR disagrees: 2 s from .*sub-01_task-x_bold.nii.gz \(NIfTI header "
                                         r"pixdim\[4\]\) vs 1.5 s from .*other.json \(RepetitionTime\)"):
        resolve_tr(bold, 2.0, sidecar=other)
    with pytest.raises(ValueError, match=r"2 s from .* vs 3 s from the tr argument"):
        resolve_tr(bold, 2.0, 3.0)


def test_no_source_is_an_error_naming_the_run(tmp_path):
    bold = tmp_path / "sub-01_task-x_bold.nii.gz"
    with pytest.raises(ValueError, match=r"sub-01_task-x_bold.nii.gz: no repetition time .*pass tr="):
        resolve_tr(bold, None, None, sidecar=tmp_path / "missing.json")
    with pytest.raises(ValueError, match="no repetition time"):
        resolve_tr(bold, 0.0)                  # an unset header TR (0) is no source
