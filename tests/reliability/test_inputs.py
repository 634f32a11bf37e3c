"""Damaged or inconsistent recordings and their metadata (issue 13, area "inputs").

Each test damages one file of a small synthetic BIDS tree (real NIfTI and mne-bids BrainVision
files, tests/synthetic_bids.py) or of a shared MNE test recording (../shared/data/recordings), runs
the library entry point a workflow job uses (``preprocess_run`` for fMRI, ``preprocess_meeg`` /
``read_raw`` for M/EEG, ``recording_duration``, or the input check ``check_dataset``), and asserts
an :class:`~brainalign.errors.InputError` naming the file, the field and what was expected.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests import synthetic_bids as synth
from reliability_helpers import SHARED, assert_input_error

from brainalign.config_sections import with_defaults
from brainalign.errors import InputError, MissingInputError
from brainalign.io.bids import locate_run, meeg_bids_path, recording_duration
from brainalign.io.inputs import check_dataset, raise_blocking, select_dataset_runs
from brainalign.io.integrity import check_recording_file, read_meeg_header
from brainalign.io.tsv import read_bids_tsv, write_bids_tsv
from brainalign.preprocess.fmri import preprocess_run
from brainalign.preprocess.meeg import preprocess_meeg, read_raw

RECORDINGS = SHARED / "recordings"
FMRI_OPTIONS = with_defaults("preprocess.fmri", {"strategy": {"motion": "basic"}, "drop_initial_trs": 0})
MEEG_OPTIONS = {"l_freq": None, "h_freq": None, "notch": None, "resample": None, "reference": None}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """One synthetic tree (2 subjects x 2 stories, fMRI + EEG), built once and copied per test."""
    return synth.make_dataset(tmp_path_factory.mktemp("pristine") / "bids")


@pytest.fixture()
def tree(pristine, tmp_path) -> Path:
    root = tmp_path / "bids"
    shutil.copytree(pristine, root)
    return root


def _truncate(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def _eeg(root: Path, sub: str = "01", task: str = "a", ext: str = "vhdr") -> Path:
    return root / f"sub-{sub}" / "eeg" / f"sub-{sub}_task-{task}_eeg.{ext}"


def _bold(root: Path, sub: str = "01", task: str = "a") -> Path:
    return root / f"sub-{sub}" / "func" / f"sub-{sub}_task-{task}_bold.nii.gz"


def _fmri_job(root: Path, sub: str = "01", task: str = "a"):
    """What rule preprocess_fmri runs for one run."""
    run = locate_run(root, sub, task, "fmri")
    return preprocess_run(run, options={**FMRI_OPTIONS, "mask": str(synth.mask_path(root))}, story=task)


def _eeg_job(root: Path, sub: str = "01", task: str = "a"):
    """What rule preprocess_meeg runs for one run."""
    run = locate_run(root, sub, task, "eeg")
    return preprocess_meeg(run["bids_path"], **MEEG_OPTIONS)


def _check(root: Path, timings: dict | None = None):
    """The input check of the whole tree (rule check_inputs)."""
    specs = {"fmri": {"modality": "fmri"}, "eeg": {"modality": "eeg"}}
    runs = select_dataset_runs(root, specs, ["01", "02"], ["a", "b"])
    timings = with_defaults("dataset.timings", timings or synth.bids_config(root)["dataset"]["timings"])
    return check_dataset(runs, root=root, kind="bids", timings=timings)


def _edit_json(path: Path, **fields) -> None:
    meta = json.loads(path.read_text())
    for key, value in fields.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    path.write_text(json.dumps(meta, indent=2))


# ------------------------------------------------------------------------------------- sanity
def test_good_tree_passes(tree):
    """The undamaged synthetic tree: every run checks out and preprocesses (the tests below can fail)."""
    table = _check(tree)
    assert (table["status"] == "ok").all(), table["problems"].tolist()
    raise_blocking(table, "inputs.tsv")
    assert _fmri_job(tree).sizes["time"] == synth.N_VOLUMES
    assert _eeg_job(tree).sizes["time"] == synth.N_VOLUMES * synth.TR * synth.SFREQ


# ---------------------------------------------------------------------------------------- fMRI
def test_truncated_nifti_gz(tree):
    """A .nii.gz cut in half -> InputError naming the file, 'truncated', the bytes the header implies (not a raw EOFError)."""
    bold = _bold(tree)
    _truncate(bold, bold.stat().st_size // 2)
    with pytest.raises(InputError) as exc:
        _fmri_job(tree)
    assert_input_error(exc, bold, r"truncated", r"data size", r"expected \d+ bytes as the header implies",
                       r"of 40 volumes complete")
    with pytest.raises(InputError) as exc:
        recording_duration(bold)
    assert_input_error(exc, bold, r"truncated")


def test_truncated_nifti_uncompressed(tree):
    """An uncompressed .nii shorter than its header implies -> InputError with the size on disk and expected."""
    import nibabel as nib

    bold = _bold(tree)
    plain = bold.with_name(bold.name[:-3])
    nib.save(nib.load(bold), plain)
    bold.unlink()
    _truncate(plain, plain.stat().st_size - 1000)
    with pytest.raises(InputError) as exc:
        _fmri_job(tree)
    assert_input_error(exc, plain, r"truncated: \d+ bytes on disk", r"expected \d+ bytes")


def test_corrupt_gzip_stream(tree):
    """A .nii.gz of the right length whose compressed bytes are damaged -> InputError naming it, not a zlib/EOF traceback."""
    bold = _bold(tree)
    data = bytearray(bold.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # zeros inside the deflate stream; the trailer (ISIZE) is intact
    bold.write_bytes(bytes(data))
    with pytest.raises(InputError) as exc:
        _fmri_job(tree)
    assert_input_error(exc, bold, r"gzip stream is damaged", r"compressed data")


def test_damaged_nifti_header(tree):
    """A BOLD file of 100 bytes (no complete header) -> InputError naming it and what was expected."""
    bold = _bold(tree)
    bold.write_bytes(b"\x1f\x8b" + bytes(98))
    with pytest.raises(InputError) as exc:
        _fmri_job(tree)
    assert_input_error(exc, bold, r"header", r"NIfTI")


def test_malformed_bold_sidecar_json(tree):
    """A BOLD sidecar with a trailing comma -> InputError naming the file, line and column (not a raw JSONDecodeError)."""
    side = _bold(tree).with_name("sub-01_task-a_bold.json")
    side.write_text('{\n  "RepetitionTime": 2.0,\n  "TaskName": "a",\n}\n')
    with pytest.raises(InputError) as exc:
        _fmri_job(tree)
    err = assert_input_error(exc, side, r"not valid JSON", r"line 4, column 1")
    assert err.field == "line 4, column 1"


def test_empty_sidecar_json(tree):
    """A 0-byte BOLD sidecar -> InputError 'is empty' naming the file."""
    side = _bold(tree).with_name("sub-01_task-a_bold.json")
    side.write_text("")
    with pytest.raises(InputError) as exc:
        _fmri_job(tree)
    assert_input_error(exc, side, r"empty")


def test_inherited_sidecar_is_read_and_checked(tree):
    """A malformed inherited task-a_bold.json at the root (no per-run sidecar) -> InputError naming the root file."""
    for sub in ("01", "02"):
        _bold(tree, sub).with_name(f"sub-{sub}_task-a_bold.json").unlink()
    root_side = tree / "task-a_bold.json"
    root_side.write_text('{"RepetitionTime": 2.0 "TaskName": "a"}')
    run = locate_run(tree, "01", "a", "fmri")
    assert Path(run["sidecar"]) == root_side and str(root_side) in run["files"]
    with pytest.raises(InputError) as exc:
        _fmri_job(tree)
    assert_input_error(exc, root_side, r"line 1, column 24")


def test_confounds_rows_differ_from_volumes(tree):
    """A confounds table with fewer rows than volumes -> blocking problem of the input check, naming the table."""
    conf = tree / "derivatives" / "fmriprep" / "sub-02" / "func" / "sub-02_task-b_desc-confounds_timeseries.tsv"
    table = read_bids_tsv(conf)
    write_bids_tsv(table.iloc[:30], conf)
    result = _check(tree)
    row = result[(result.subject == "02") & (result.story == "b") & (result.modality == "fmri")].iloc[0]
    assert row.status == "error" and "30 rows of confounds" in row.problems and str(conf) in row.problems
    with pytest.raises(InputError) as exc:
        raise_blocking(result, "inputs.tsv")
    assert_input_error(exc, "inputs.tsv", str(conf).replace("\\", "/"), r"one row per volume \(40\)")


# ---------------------------------------------------------------------------------- MEG / EEG
def test_vhdr_missing_datafile(tree):
    """A .vhdr whose DataFile (.eeg) is missing -> MissingInputError naming the .vhdr, the DataFile entry and the missing file."""
    _eeg(tree, ext="eeg").unlink()
    with pytest.raises(MissingInputError) as exc:
        _eeg_job(tree)
    err = assert_input_error(exc, _eeg(tree), r"DataFile=sub-01_task-a_eeg\.eeg", r"does not exist")
    assert err.source == str(_eeg(tree)) and err.field == "[Common Infos] DataFile"


def test_vhdr_missing_markerfile(tree):
    """A .vhdr whose MarkerFile (.vmrk) is missing -> MissingInputError naming the .vhdr and MarkerFile (MNE only warns)."""
    _eeg(tree, ext="vmrk").unlink()
    with pytest.raises(MissingInputError) as exc:
        _eeg_job(tree)
    err = assert_input_error(exc, _eeg(tree), r"MarkerFile=sub-01_task-a_eeg\.vmrk")
    assert err.field == "[Common Infos] MarkerFile"


def test_truncated_eeg_against_recording_duration(tree):
    """A .eeg with half its samples (whole samples) -> InputError: 40 s found vs RecordingDuration 79.99 s (MNE reads it as a 40 s recording)."""
    data = _eeg(tree, ext="eeg")
    _truncate(data, data.stat().st_size // 2)
    with pytest.raises(InputError) as exc:
        _eeg_job(tree)
    err = assert_input_error(exc, _eeg(tree), r"holds 40\.000 s \(4000 samples at 100 Hz\)", r"RecordingDuration 79\.99 s",
                             r"truncated")
    assert err.field == "RecordingDuration"


def test_truncated_eeg_mid_sample(tree):
    """A .eeg cut inside a sample -> InputError naming the .eeg: not a whole number of samples."""
    data = _eeg(tree, ext="eeg")
    _truncate(data, data.stat().st_size // 2 + 5)
    with pytest.raises(InputError) as exc:
        _eeg_job(tree)
    assert_input_error(exc, data, r"not a whole number of samples", r"multiple of 32 bytes")


def test_truncated_eeg_markers_past_end(tree):
    """A .eeg cut to a quarter, sidecar without RecordingDuration -> InputError: the .vmrk's markers lie after the last sample."""
    data = _eeg(tree, ext="eeg")
    _edit_json(_eeg(tree, ext="json"), RecordingDuration=None)
    _truncate(data, 2000 * 8 * 4)
    with pytest.raises(InputError) as exc:
        _eeg_job(tree)
    assert_input_error(exc, _eeg(tree, ext="vmrk"), r"is at sample 3051, after the last sample \(2000\)",
                       r"looks truncated")


def test_recording_duration_mismatch(tree):
    """RecordingDuration 40 s for an 80 s recording -> InputError naming the recording, the field, expected and found."""
    _edit_json(_eeg(tree, ext="json"), RecordingDuration=40.0)
    with pytest.raises(InputError) as exc:
        _eeg_job(tree)
    assert_input_error(exc, _eeg(tree), r"holds 80\.000 s", r"RecordingDuration 40 s", r"expected 40 s", r"stale sidecar")


def test_sampling_frequency_mismatch(tree):
    """Sidecar SamplingFrequency 250 Hz for a 100 Hz recording -> InputError naming the sidecar and the field."""
    side = _eeg(tree, ext="json")
    _edit_json(side, SamplingFrequency=250)
    with pytest.raises(InputError) as exc:
        _eeg_job(tree)
    err = assert_input_error(exc, side, r"SamplingFrequency is 250 Hz", r"sampled at 100 Hz")
    assert err.field == "SamplingFrequency"


def test_malformed_eeg_sidecar_json(tree):
    """An EEG sidecar with a missing comma (mne-bids would raise a bare JSONDecodeError) -> InputError with line and column."""
    side = _eeg(tree, ext="json")
    side.write_text(side.read_text().replace('"TaskName": "a",', '"TaskName": "a"', 1))
    with pytest.raises(InputError) as exc:
        _eeg_job(tree)
    assert_input_error(exc, side, r"not valid JSON", r"line 3, column \d+")


def test_malformed_coordsystem_json(tree):
    """A coordsystem.json that is a JSON list -> InputError naming it (mne-bids reads it with the electrodes)."""
    coord = tree / "sub-01" / "eeg" / "sub-01_space-CapTrak_coordsystem.json"
    coord.write_text("[1, 2]")
    with pytest.raises(InputError) as exc:
        _eeg_job(tree)
    assert_input_error(exc, coord, r"holds a JSON list")


def test_ragged_channels_tsv(tree):
    """A channels.tsv row with a missing field -> InputError naming the file and line (before mne-bids reads it)."""
    channels = tree / "sub-01" / "eeg" / "sub-01_task-a_channels.tsv"
    lines = channels.read_text().splitlines()
    lines[3] = "\t".join(lines[3].split("\t")[:-1])
    channels.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        _eeg_job(tree)
    assert_input_error(exc, channels, r"line 4")


def test_channels_tsv_lists_other_channels(tree):
    """channels.tsv missing a channel of the recording -> blocking problem of the input check naming channels.tsv."""
    channels = tree / "sub-02" / "eeg" / "sub-02_task-a_channels.tsv"
    table = read_bids_tsv(channels)
    write_bids_tsv(table[table["name"] != "Oz"], channels)
    result = _check(tree)
    row = result[(result.subject == "02") & (result.story == "a") & (result.modality == "eeg")].iloc[0]
    assert row.status == "error"
    assert "7 channels listed, the recording has 8" in row.problems and "not listed: ['Oz']" in row.problems


def test_bad_channels_reported(tree):
    """channels.tsv marking Cz bad -> inputs table lists it (a note, not a problem)."""
    channels = tree / "sub-01" / "eeg" / "sub-01_task-b_channels.tsv"
    table = read_bids_tsv(channels)
    table.loc[table["name"] == "Cz", "status"] = "bad"
    write_bids_tsv(table, channels)
    row = _check(tree).query("subject == '01' and story == 'b' and modality == 'eeg'").iloc[0]
    assert row.status == "ok" and row.n_bad_channels == 1 and row.bad_channels == "Cz"


# ---------------------------------------------------------------- shared MNE test recordings
@pytest.mark.parametrize("name, needle", [
    ("EDF_test_reduced.edf", r"number of data records"),
    ("BDF_test_bdf_stim_channel.bdf", r"number of data records"),
    ("CTF_somMDYO-18av.ds_raw.fif", r"FIF tag structure"),
])
def test_truncated_recording_formats(tmp_path, name, needle):
    """EDF, BDF and FIF cut in half (MNE reads the first two with a warning, the FIF's header silently) -> InputError naming the file."""
    path = tmp_path / name
    shutil.copy(RECORDINGS / name, path)
    path.chmod(0o644)
    read_meeg_header(path)  # the intact file passes
    _truncate(path, path.stat().st_size // 2)
    with pytest.raises(InputError) as exc:
        preprocess_meeg(path, **MEEG_OPTIONS)
    assert_input_error(exc, path, r"truncated", needle)


def test_truncated_eeglab_fdt(tmp_path):
    """An EEGLAB .fdt with half the samples the .set declares -> InputError naming the .fdt and EEG.nbchan x EEG.pnts."""
    for ext in ("set", "fdt"):
        shutil.copy(RECORDINGS / f"EEGLAB_test_raw_chanloc.{ext}", tmp_path)
    fdt = tmp_path / "EEGLAB_test_raw_chanloc.fdt"
    fdt.chmod(0o644)
    _truncate(fdt, fdt.stat().st_size // 2)
    with pytest.raises(InputError) as exc:
        recording_duration(tmp_path / "EEGLAB_test_raw_chanloc.set")
    assert_input_error(exc, fdt, r"truncated", r"EEG\.nbchan x EEG\.pnts")


def test_truncated_kit_samples(tmp_path):
    """A KIT .con cut in half (header intact) -> InputError naming the file when its samples are read, not a reshape error."""
    path = tmp_path / "KIT_test_as-raw.con"
    shutil.copy(RECORDINGS / path.name, path)
    path.chmod(0o644)
    _truncate(path, path.stat().st_size // 2)
    with pytest.raises(InputError) as exc:
        read_raw(path)
    assert_input_error(exc, path, r"samples cannot be read")


def test_brainvision_datafile_missing_shared(tmp_path):
    """The shared BrainVision header without its .eeg -> MissingInputError naming the .vhdr (MNE names only the .eeg)."""
    for ext in ("vhdr", "vmrk"):
        shutil.copy(RECORDINGS / f"BrainVision_test_NO.{ext}", tmp_path)
    with pytest.raises(MissingInputError) as exc:
        check_recording_file(tmp_path / "BrainVision_test_NO.vhdr")
    assert_input_error(exc, tmp_path / "BrainVision_test_NO.vhdr", r"\[Common Infos\] DataFile", r"BrainVision_test_NO\.eeg")


# ------------------------------------------------------------------------- the input check
def test_events_past_end_of_recording(tree):
    """An EEG events.tsv shifted by +300 s -> blocking problem naming the events file, its end and the recording's length."""
    events = tree / "sub-01" / "eeg" / "sub-01_task-b_events.tsv"
    table = read_bids_tsv(events)
    table["onset"] = [f"{float(v) + 300:.4f}" for v in table["onset"]]
    write_bids_tsv(table, events)
    row = _check(tree).query("subject == '01' and story == 'b' and modality == 'eeg'").iloc[0]
    assert row.status == "error" and row.last_event_s == pytest.approx(331.0)
    assert f"{events}: onset + duration: events run until 331.000 s but sub-01_task-b_eeg.vhdr lasts 80.000 s" \
        in row.problems


def test_words_outside_recording(tree):
    """Word timings shifted +70 s -> every run of the story reports the count, the timing file and the first word
    outside; blocking by default, a note with on_beyond_end: drop."""
    timing = tree / "sub-01" / "func" / "sub-01_task-a_events.tsv"
    table = read_bids_tsv(timing)
    table["onset"] = [f"{float(v) + 70:.4f}" for v in table["onset"]]
    write_bids_tsv(table, timing)
    result = _check(tree)
    story_a = result[result.story == "a"]
    assert len(story_a) == 4 and (story_a.words_outside == 14).all() and (story_a.status == "error").all()
    assert "14 of 20 word onsets lie outside" in story_a.problems.iloc[0] and str(timing) in story_a.problems.iloc[0]
    assert (story_a.first_word_outside == "'a6' at 81.000 s").all()
    lenient = _check(tree, {**synth.bids_config(tree)["dataset"]["timings"], "on_beyond_end": "drop"})
    assert (lenient[lenient.story == "a"].status == "note").all()


def test_check_inputs_lists_every_problem(tree):
    """Four damaged files in four runs -> one InputError listing all four (not only the first), the others 'ok'."""
    _truncate(_bold(tree, "02", "b"), 500)
    _eeg(tree, "01", "b", ext="eeg").unlink()
    _edit_json(_eeg(tree, "02", "a", ext="json"), RecordingDuration=12.5)
    _bold(tree, "01", "a").with_name("sub-01_task-a_bold.json").write_text("{")
    result = _check(tree)
    assert list(result.status).count("error") == 4 and list(result.status).count("ok") == 4
    with pytest.raises(InputError) as exc:
        raise_blocking(result, "results/synth/inputs.tsv")
    message = str(exc.value)
    assert "4 blocking problem(s) in 4 of 8 run(s)" in message
    for needle in ("sub-02_task-b_bold.nii.gz", "DataFile=sub-01_task-b_eeg.eeg", "RecordingDuration 12.5 s",
                   "sub-01_task-a_bold.json: line 1, column 2"):
        assert needle in message, message


def test_sidecar_of_another_task_not_used(tree):
    """A run without its own BOLD sidecar and events -> no file of another task is taken for them (the TR and
    events of task-b were read for task-a before), and the run's files list no other task's file."""
    func = tree / "sub-01" / "func"
    (func / "sub-01_task-a_bold.json").unlink()
    (func / "sub-01_task-a_events.tsv").unlink()
    run = locate_run(tree, "01", "a", "fmri")
    assert run["events"] is None and run["sidecar"] is None
    assert not [f for f in run["files"] if "task-b" in f]
