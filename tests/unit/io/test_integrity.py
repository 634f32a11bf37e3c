"""brainalign.io.integrity and the run-file listing of brainalign.io.bids (good inputs and edge cases;
the damaged inputs are in tests/reliability/test_inputs.py; the input check itself in test_inputs.py)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tests import synthetic_bids as synth

from brainalign.errors import InputError
from brainalign.io.bids import meeg_bids_path, meeg_sidecars, recording_files, run_files
from brainalign.io.integrity import (bold_sidecar, brainvision_files, check_nifti_size, check_recording_length,
                                     duration_tolerance, fif_parts, load_nifti, nifti_reading, read_json,
                                     read_meeg_header)

RECORDINGS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "recordings"


def test_read_json_object(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('\ufeff{"RepetitionTime": 1.5}')  # a BOM is tolerated
    assert read_json(path) == {"RepetitionTime": 1.5}


def test_bold_sidecar_sibling_then_inherited(tmp_path):
    (tmp_path / "dataset_description.json").write_text("{}")
    func = tmp_path / "sub-01" / "func"
    func.mkdir(parents=True)
    bold = func / "sub-01_task-x_run-1_bold.nii.gz"
    assert bold_sidecar(bold) == func / "sub-01_task-x_run-1_bold.json"  # absent: the sibling
    (tmp_path / "task-x_bold.json").write_text("{}")
    assert bold_sidecar(bold) == tmp_path / "task-x_bold.json"
    (tmp_path / "sub-01" / "task-x_bold.json").write_text("{}")
    assert bold_sidecar(bold) == tmp_path / "sub-01" / "task-x_bold.json"  # the nearest
    (func / "sub-01_task-x_run-1_bold.json").write_text("{}")
    assert bold_sidecar(bold) == func / "sub-01_task-x_run-1_bold.json"


def _image(path: Path, shape=(3, 3, 3, 5)) -> nib.Nifti1Image:
    img = nib.Nifti1Image(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), np.eye(4))
    nib.save(img, path)
    return img


def test_nifti_size_multi_member_gzip_is_complete(tmp_path):
    """A .nii.gz made of several gzip members (ISIZE of the last member only) is complete."""
    plain = tmp_path / "b.nii"
    _image(plain)
    data = plain.read_bytes()
    multi = tmp_path / "b.nii.gz"
    multi.write_bytes(gzip.compress(data[:300]) + gzip.compress(data[300:]) + gzip.compress(b""))
    img = load_nifti(multi, verify=True)
    assert np.array_equal(np.asanyarray(img.dataobj), np.asanyarray(nib.load(plain).dataobj))
    check_nifti_size(plain)


def test_nifti_zero_padding_is_ignored(tmp_path):
    """Zero bytes after the gzip stream (padding, which gzip readers skip) do not make a complete file look truncated."""
    path = tmp_path / "b.nii.gz"
    _image(path)
    path.write_bytes(path.read_bytes() + bytes(16))
    load_nifti(path, verify=True)


def test_nifti_reading_names_the_file():
    with pytest.raises(InputError, match=r"x\.nii\.gz: cannot read the voxel data \(EOFError"):
        with nifti_reading("x.nii.gz"):
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
    with pytest.raises(KeyError):  # anything else passes through
        with nifti_reading("x.nii.gz"):
            raise KeyError("other")


def test_duration_tolerance_follows_the_written_precision():
    assert duration_tolerance(600, 100.0) == pytest.approx(0.02 + 0.5)
    assert duration_tolerance(79.99, 100.0) == pytest.approx(0.02 + 0.005)


def test_recording_length_notes_without_duration():
    notes = check_recording_length("r.vhdr", 1000, 100.0, {"SamplingFrequency": 100}, "r.json")
    assert notes == ["r.json: no RecordingDuration; length checked against events only"]
    assert check_recording_length("r.vhdr", 1000, 100.0, {"RecordingDuration": 9.99}, "r.json") == []


def test_shared_recordings_pass(tmp_path):
    """Every shared test recording passes the checks, with the header's samples."""
    expected = {"BrainVision_test_NO.vhdr": 2238, "EDF_test_reduced.edf": 3072, "BDF_test_bdf_stim_channel.bdf": 5000,
                "EEGLAB_test_raw_chanloc.set": 385, "CTF_somMDYO-18av.ds_raw.fif": 626, "KIT_test_as-raw.con": 200}
    for name, n_times in expected.items():
        assert read_meeg_header(RECORDINGS / name).n_times == n_times, name


def test_brainvision_files_as_named(tmp_path):
    vhdr = tmp_path / "rec.vhdr"
    vhdr.write_text("Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nDataFile=other.eeg\n"
                    "MarkerFile=rec.vmrk\n")
    assert brainvision_files(vhdr) == {"DataFile": tmp_path / "other.eeg", "MarkerFile": tmp_path / "rec.vmrk"}


def test_recording_files_companions(tmp_path):
    for ext in ("vhdr", "vmrk", "eeg"):
        shutil.copy(RECORDINGS / f"BrainVision_test_NO.{ext}", tmp_path)
    assert [Path(p).name for p in recording_files(tmp_path / "BrainVision_test_NO.vhdr")] == [
        "BrainVision_test_NO.vhdr", "BrainVision_test_NO.eeg", "BrainVision_test_NO.vmrk"]
    for ext in ("set", "fdt"):
        shutil.copy(RECORDINGS / f"EEGLAB_test_raw_chanloc.{ext}", tmp_path)
    assert [Path(p).suffix for p in recording_files(tmp_path / "EEGLAB_test_raw_chanloc.set")] == [".set", ".fdt"]
    split = [tmp_path / f"sub-01_task-x_split-0{i}_meg.fif" for i in (1, 2)]
    for p in split:
        p.write_bytes(b"")
    assert fif_parts(split[0]) == split and recording_files(split[0]) == [str(p) for p in split]
    ds = tmp_path / "sub-01_task-x_meg.ds"
    (ds / "sub").mkdir(parents=True)
    for name in ("a.meg4", "a.res4", "sub/b.hc"):
        (ds / name).write_bytes(b"")
    assert [Path(p).name for p in recording_files(ds)] == ["a.meg4", "a.res4", "b.hc"]


def test_meeg_sidecars_are_what_mne_bids_finds(tmp_path):
    """Inherited sidecars count: a root-level task-a_eeg.json is read when the run has none of its own."""
    root = synth.make_dataset(tmp_path / "bids", subjects=("01",), stories=("a",), modalities=("eeg",))
    vhdr = root / "sub-01" / "eeg" / "sub-01_task-a_eeg.vhdr"
    own = root / "sub-01" / "eeg" / "sub-01_task-a_eeg.json"
    meta = json.loads(own.read_text())
    own.unlink()
    (root / "task-a_eeg.json").write_text(json.dumps(meta))
    found = meeg_sidecars(meeg_bids_path(vhdr, root, "eeg"))
    assert found["sidecar"] == str(root / "task-a_eeg.json")
    assert found["participants"] == str(root / "participants.tsv")
    assert found["scans"] == str(root / "sub-01" / "sub-01_scans.tsv")
    files = run_files({"path": str(vhdr), "modality": "eeg"}, root)
    assert str(root / "task-a_eeg.json") in files and str(own) not in files
