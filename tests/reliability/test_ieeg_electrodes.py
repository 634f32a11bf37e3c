"""Reliability of iEEG electrode positions: a patient's electrodes.tsv in several spaces, or none usable.

Each test damages a copy of the real Podcast ECoG sub-01 metadata (both spaces' electrodes.tsv and
coordsystem.json, the real channels.tsv; tests/podcast_ieeg_tree.py) beside a synthetic recording
and asserts the error names the file (or the subject folder), the config key and what was expected.
"""

from __future__ import annotations

import json

import pytest
from tests.podcast_ieeg_tree import MNI, write_podcast_run
from reliability_helpers import assert_input_error

from brainalign.errors import InputError, MissingInputError
from brainalign.preprocess.ieeg import preprocess_ieeg

KEY = "preprocess.ieeg.electrodes_space"
FAST = dict(reference="average", resample=50.0, n_bands=2)


def test_requested_space_missing_names_the_tables_found(tmp_path):
    bids_path = write_podcast_run(tmp_path)
    with pytest.raises(MissingInputError) as excinfo:
        preprocess_ieeg(bids_path, electrodes_space="MNI305", **FAST)
    assert_input_error(excinfo, "sub-01", KEY, r"no electrodes.tsv in space 'MNI305'",
                       rf"sub-01_space-{MNI}_electrodes.tsv \(space {MNI}\)",
                       r"sub-01_space-Other_electrodes.tsv \(space Other\)")


def test_no_electrodes_table_at_all_is_an_error_unless_none(tmp_path):
    bids_path = write_podcast_run(tmp_path, spaces=())
    with pytest.raises(MissingInputError) as excinfo:
        preprocess_ieeg(bids_path, **FAST)
    assert_input_error(excinfo, "sub-01", KEY, r"no \*_electrodes.tsv for sub-01_task-podcast",
                       rf"set {KEY}: none to preprocess without electrode positions")
    out = preprocess_ieeg(bids_path, electrodes_space="none", **FAST)
    assert out.attrs["electrodes_space"] == "none" and out.attrs["n_channels_with_position"] == 0


def test_auto_cannot_choose_between_two_native_spaces(tmp_path):
    bids_path = write_podcast_run(tmp_path, spaces=("Other",))
    folder = bids_path.directory
    for suffix in ("electrodes.tsv", "coordsystem.json"):
        (folder / f"sub-01_space-ACPC_{suffix}").write_text((folder / f"sub-01_space-Other_{suffix}").read_text())
    with pytest.raises(InputError) as excinfo:
        preprocess_ieeg(bids_path, **FAST)
    assert_input_error(excinfo, "sub-01", KEY, r"2 electrodes.tsv for sub-01_task-podcast and none in an MNI space",
                       r"set preprocess.ieeg.electrodes_space to one of \['ACPC', 'Other'\]")
    assert preprocess_ieeg(bids_path, electrodes_space="ACPC", **FAST).attrs["electrodes_space"] == "ACPC"


def test_table_naming_none_of_the_channels(tmp_path):
    bids_path = write_podcast_run(tmp_path)
    tsv = bids_path.directory / f"sub-01_space-{MNI}_electrodes.tsv"
    lines = tsv.read_text().splitlines()
    tsv.write_text("\n".join([lines[0]] + [f"X{line}" for line in lines[1:]]) + "\n")  # G2 -> XG2 ...
    with pytest.raises(InputError) as excinfo:
        preprocess_ieeg(bids_path, **FAST)
    assert_input_error(excinfo, tsv.name, r"name, x, y, z", r"none of the 99 channels kept \(e.g. \['G2'",
                       r"rows naming the recording's channels with numeric x, y, z")
    # the other space still places them
    assert preprocess_ieeg(bids_path, electrodes_space="Other", **FAST).attrs["n_channels_with_position"] == 99


def test_table_with_only_na_coordinates(tmp_path):
    bids_path = write_podcast_run(tmp_path)
    tsv = bids_path.directory / f"sub-01_space-{MNI}_electrodes.tsv"
    lines = tsv.read_text().splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    tsv.write_text("\n".join([lines[0]] + ["\t".join([r[0], "n/a", "n/a", "n/a", *r[4:]]) for r in rows]) + "\n")
    with pytest.raises(InputError) as excinfo:
        preprocess_ieeg(bids_path, **FAST)
    assert_input_error(excinfo, tsv.name, r"none of the 99 channels kept")


def test_chosen_table_without_its_coordsystem(tmp_path):
    bids_path = write_podcast_run(tmp_path)
    (bids_path.directory / f"sub-01_space-{MNI}_coordsystem.json").unlink()
    with pytest.raises(MissingInputError) as excinfo:
        preprocess_ieeg(bids_path, **FAST)
    assert_input_error(excinfo, f"sub-01_space-{MNI}_electrodes.tsv", r"no coordsystem.json of the same space",
                       rf"sub-01_space-{MNI}_coordsystem.json")


def test_coordsystem_without_coordinate_system_or_with_odd_units(tmp_path):
    bids_path = write_podcast_run(tmp_path)
    path = bids_path.directory / f"sub-01_space-{MNI}_coordsystem.json"
    path.write_text(json.dumps({"iEEGCoordinateUnits": "mm"}))
    with pytest.raises(InputError) as excinfo:
        preprocess_ieeg(bids_path, **FAST)
    assert_input_error(excinfo, path.name, r"iEEGCoordinateSystem: no coordinate system")
    path.write_text(json.dumps({"iEEGCoordinateSystem": MNI, "iEEGCoordinateUnits": "inch"}))
    with pytest.raises(InputError) as excinfo:
        preprocess_ieeg(bids_path, **FAST)
    assert_input_error(excinfo, path.name, r"iEEGCoordinateUnits: units 'inch'", r"m, cm, mm or n/a")


def test_non_numeric_coordinate_names_the_table(tmp_path):
    bids_path = write_podcast_run(tmp_path)
    tsv = bids_path.directory / f"sub-01_space-{MNI}_electrodes.tsv"
    tsv.write_text(tsv.read_text().replace("\t60.0\t", "\t60,0\t", 1))
    with pytest.raises(InputError) as excinfo:
        preprocess_ieeg(bids_path, **FAST)
    assert_input_error(excinfo, tsv.name, r"column 'x', line 2: '60,0' is not a number", r"a coordinate")


def test_input_check_reports_an_unchoosable_table_before_preprocessing(tmp_path):
    """The input check (rule check_inputs) makes the same choice as the job: a requested space that is
    missing is a blocking problem there, naming the key and the tables found; the chosen table is
    the one it validates."""
    from brainalign.io.bids import find_runs
    from brainalign.io.inputs import inspect_run

    write_podcast_run(tmp_path)
    for space, blocked in (("auto", False), ("Other", False), ("MNI305", True)):
        row = find_runs(tmp_path, {"modality": "ieeg", "electrodes_space": space}).iloc[0].to_dict()
        out = inspect_run(row, root=tmp_path, electrodes_space=space)
        messages = [p.message for p in out["_problems"] if p.blocking]
        hits = [m for m in messages if KEY in m]
        assert bool(hits) == blocked, messages
        if blocked:
            assert "no electrodes.tsv in space 'MNI305'" in hits[0] and f"sub-01_space-{MNI}_electrodes.tsv" in hits[0]
        else:
            assert f"sub-01_space-{'Other' if space == 'Other' else MNI}_electrodes.tsv" in out["files"]
