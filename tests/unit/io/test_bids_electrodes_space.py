"""iEEG electrode positions when a patient has one electrodes.tsv per space (MNI and native).

The tree holds the real channels.tsv, both electrodes.tsv and both coordsystem.json of the Podcast
ECoG dataset's sub-01 (tests/podcast_ieeg_tree.py) and a synthetic 512 Hz recording.  mne-bids
alone reads no position at all from it (two candidate tables); preprocess.ieeg.electrodes_space
chooses one.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from tests.podcast_ieeg_tree import MNI, electrode_table, write_podcast_run

from brainalign.io.bids import choose_electrodes, electrode_spaces, find_runs
from brainalign.preprocess.ieeg import preprocess_ieeg

FAST = dict(reference="average", resample=50.0, n_bands=2)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("podcast")
    return root, write_podcast_run(root)


def _positions(out) -> dict[str, tuple[float, float, float]]:
    return {str(c): (float(x), float(y), float(z)) for c, x, y, z in
            zip(out.channel.values, out.pos_x.values, out.pos_y.values, out.pos_z.values)}


def test_both_spaces_are_found_with_their_coordsystems(tree):
    root, bids_path = tree
    spaces = electrode_spaces(bids_path)
    assert [c["space"] for c in spaces] == [MNI, "Other"]
    for c in spaces:
        assert c["coordsystem"].endswith(f"sub-01_space-{c['space']}_coordsystem.json")
    assert choose_electrodes(bids_path, "auto")["space"] == MNI
    assert choose_electrodes(bids_path, "other")["space"] == "Other"  # labels matched case-insensitively
    assert choose_electrodes(bids_path, "none") is None


def test_auto_reads_the_mni_table_in_mm_with_the_mni_frame(tree):
    _, bids_path = tree
    out = preprocess_ieeg(bids_path, **FAST)
    truth = electrode_table("01", MNI)
    got = _positions(out)
    # the 99 good ECOG contacts, each placed exactly where the MNI table puts it (mm)
    assert len(got) == 99 and set(got) <= set(truth)
    np.testing.assert_allclose([got[c] for c in got], [truth[c] for c in got], atol=1e-6)
    assert out.pos_x.attrs["units"] == "mm"
    assert out.attrs["coord_frame"] == "mni_tal"
    assert out.attrs["electrodes_space"] == MNI and out.attrs["coordinate_system"] == MNI
    assert out.attrs["electrodes_file"].endswith(f"sub-01_space-{MNI}_electrodes.tsv")
    assert out.attrs["coordsystem_file"].endswith(f"sub-01_space-{MNI}_coordsystem.json")
    assert out.attrs["position_units"] == "mm" and out.attrs["n_channels_with_position"] == 99


def test_explicit_other_reads_the_native_table(tree):
    _, bids_path = tree
    out = preprocess_ieeg(bids_path, electrodes_space="Other", **FAST)
    truth, mni = electrode_table("01", "Other"), electrode_table("01", MNI)
    got = _positions(out)
    np.testing.assert_allclose([got[c] for c in got], [truth[c] for c in got], atol=1e-6)
    assert not np.allclose([got[c] for c in got], [mni[c] for c in got], atol=1.0)  # really the other table
    assert out.attrs["electrodes_space"] == "Other" and out.attrs["coord_frame"] == "unknown"
    assert out.attrs["position_units"] == "mm"  # coordsystem says n/a; values up to ~80 are mm, not cm


def test_bipolar_channels_sit_at_the_midpoint_of_their_mni_contacts(tree):
    _, bids_path = tree
    out = preprocess_ieeg(bids_path, reference="bipolar", resample=50.0, n_bands=2)
    truth = electrode_table("01", MNI)
    pos = _positions(out)
    for name in ("G2-G3", "DAMT2-DAMT3", "AT1-AT2"):
        a, b = name.split("-")
        np.testing.assert_allclose(pos[name], (np.array(truth[a]) + np.array(truth[b])) / 2, atol=1e-6)
    assert "DAMT1-DAMT2" not in pos  # DAMT1 is bad in the real channels.tsv
    assert out.attrs["coord_frame"] == "mni_tal"


def test_single_native_table_is_taken_by_auto_and_none_reads_no_positions(tmp_path):
    bids_path = write_podcast_run(tmp_path, spaces=("Other",))
    out = preprocess_ieeg(bids_path, **FAST)
    assert out.attrs["electrodes_space"] == "Other"
    np.testing.assert_allclose(_positions(out)["G2"], electrode_table("01", "Other")["G2"], atol=1e-6)
    none = preprocess_ieeg(bids_path, electrodes_space="none", **FAST)
    assert np.isnan(none.pos_x.values).all() and none.attrs["coord_frame"] == "none"
    assert none.attrs["electrodes_space"] == "none"


def test_the_chosen_pair_is_what_the_job_lists_as_inputs(tree, tmp_path):
    root, _ = tree
    for space, other in ((None, "Other"), ("auto", "Other"), ("Other", MNI)):
        runs = find_runs(root, {"modality": "ieeg", "electrodes_space": space})
        files = [f.rsplit("/", 1)[-1] for f in runs.loc[0, "files"]]
        chosen = space if space == "Other" else MNI
        assert f"sub-01_space-{chosen}_electrodes.tsv" in files and f"sub-01_space-{chosen}_coordsystem.json" in files
        assert f"sub-01_space-{other}_electrodes.tsv" not in files
        assert runs.loc[0, "electrodes"].endswith(f"sub-01_space-{chosen}_electrodes.tsv")
    # no choice possible (a space nobody has): every candidate is an input, so adding the right one reruns
    runs = find_runs(root, {"modality": "ieeg", "electrodes_space": "MNI305"})
    files = [f.rsplit("/", 1)[-1] for f in runs.loc[0, "files"]]
    assert {f"sub-01_space-{s}_electrodes.tsv" for s in (MNI, "Other")} <= set(files)
    assert runs.loc[0, "electrodes"] is None
    # 'none' reads no position file
    runs = find_runs(root, {"modality": "ieeg", "electrodes_space": "none"})
    assert not [f for f in runs.loc[0, "files"] if "_electrodes" in f or "_coordsystem" in f]
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "sub-01" / "ieeg" / f"sub-01_space-{MNI}_coordsystem.json").unlink()
    # the MNI table without its coordsystem cannot be read: not listed as the chosen pair
    runs = find_runs(copy, {"modality": "ieeg", "electrodes_space": "auto"})
    assert runs.loc[0, "electrodes"] is None


def test_topomap_layout_takes_mm_positions_as_metres(tree):
    """Sensor figures build an MNE layout from pos_x/y/z: iEEG millimetres become MNE's metres."""
    from brainalign.plotting.sensors import sensor_info

    _, bids_path = tree
    out = preprocess_ieeg(bids_path, **FAST)
    info, idx = sensor_info(out)
    assert len(idx) == 99
    mm = np.array(electrode_table("01", MNI)[info["ch_names"][0]])
    np.testing.assert_allclose(info["chs"][0]["loc"][:3], mm / 1000.0, atol=1e-9)
