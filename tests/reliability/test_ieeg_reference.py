"""Reliability of the iEEG group-wise reference on the Podcast dataset's real metadata: the `group`
column of its two electrodes.tsv (MNI and native space), contacts without a group, spaces that disagree."""

from __future__ import annotations

import shutil
from collections import Counter

import mne_bids
import pytest
from reliability_helpers import SHARED, assert_input_error

from brainalign.io.tsv import read_bids_tsv
from brainalign.preprocess.ieeg import contact_groups

PODCAST = SHARED / "podcast-ecog-metadata"
needs_podcast = pytest.mark.skipif(not PODCAST.exists(), reason="shared Podcast metadata not available")


def _tree(tmp_path, subject="01"):
    """The subject's real sidecars (no recording: the groups come from the tables alone)."""
    root = tmp_path / "bids"
    (root / f"sub-{subject}").mkdir(parents=True)
    shutil.copy(PODCAST / "dataset_description.json", root)
    shutil.copytree(PODCAST / f"sub-{subject}" / "ieeg", root / f"sub-{subject}" / "ieeg")
    bids_path = mne_bids.BIDSPath(subject=subject, task="podcast", datatype="ieeg", suffix="ieeg", extension=".edf",
                                  root=root)
    channels = read_bids_tsv(bids_path.directory / f"sub-{subject}_task-podcast_channels.tsv")
    good = [n for n, t, s in zip(channels["name"], channels["type"], channels["status"]) if t == "ECOG" and s == "good"]
    return bids_path, good


@needs_podcast
def test_real_group_column_gives_grid_strip_depth(tmp_path):
    """sub-01: 99 good ECOG contacts in 63 grid (G), 24 strip (S) and 12 depth (D) contacts; the
    prefixes would give 8 groups (G, AT, FR, MT, OC, PT and the DAMT, DPMT shafts)."""
    bids_path, good = _tree(tmp_path)
    groups, how = contact_groups(good, bids_path, "column")
    assert Counter(groups.values()) == {"G": 63, "S": 24, "D": 12}
    assert how.endswith("_electrodes.tsv")
    by_name, _ = contact_groups(good, bids_path, "names")
    assert set(by_name.values()) == {"G", "AT", "FR", "MT", "OC", "PT", "DAMT", "DPMT"} and by_name["DPMT3"] == "DPMT"


@needs_podcast
def test_spaces_disagreeing_on_a_group(tmp_path):
    """One contact in group G in the MNI file and S in the native-space file: an error naming the
    file, the field and the contact."""
    bids_path, good = _tree(tmp_path)
    native = bids_path.directory / "sub-01_space-Other_electrodes.tsv"
    lines = native.read_text().splitlines()
    lines[1] = lines[1].rsplit("\t", 1)[0] + "\tS"  # G2 (grid) put on a strip
    native.write_text("\n".join(lines) + "\n")
    with pytest.raises(Exception) as excinfo:
        contact_groups(good, bids_path, "auto")
    assert_input_error(excinfo, native.name, r"group: contact G2 is in group 'S' here but 'G'",
                       "one group per contact")


@needs_podcast
def test_column_required_but_absent(tmp_path):
    """reference_groups: column on a tree whose electrodes.tsv have no group column: an error naming
    the tables, the field and the fix; auto falls back to the name prefixes."""
    bids_path, good = _tree(tmp_path)
    for path in bids_path.directory.glob("*_electrodes.tsv"):
        lines = [line.rsplit("\t", 1)[0] for line in path.read_text().splitlines()]
        path.write_text("\n".join(lines) + "\n")
    with pytest.raises(Exception) as excinfo:
        contact_groups(good, bids_path, "column")
    assert_input_error(excinfo, "sub-01_space-MNI152NLin2009aSym_electrodes.tsv",
                       r"group: 99 contact\(s\) have no group", "reference_groups: auto")
    groups, how = contact_groups(good, bids_path, "auto")
    assert how == "names" and groups["G2"] == "G" and groups["DPMT3"] == "DPMT"


@needs_podcast
def test_groups_read_only_from_the_chosen_table(tmp_path):
    """The preprocessing job lists channels.tsv and the electrodes.tsv chosen for the positions as its
    inputs: the groups come from those alone (the other space's table, even one that disagrees, is
    never opened), and from channels.tsv alone when no positions are read."""
    bids_path, good = _tree(tmp_path)
    native = bids_path.directory / "sub-01_space-Other_electrodes.tsv"
    lines = native.read_text().splitlines()
    lines[1] = lines[1].rsplit("\t", 1)[0] + "\tS"
    native.write_text("\n".join(lines) + "\n")
    chosen = bids_path.directory / "sub-01_space-MNI152NLin2009aSym_electrodes.tsv"
    groups, how = contact_groups(good, bids_path, "auto", electrodes=chosen)
    assert groups["G2"] == "G" and how == chosen.name
    native.unlink()  # were it read, this would now fail
    groups, how = contact_groups(good, bids_path, "auto", electrodes="")
    assert how == "names" and groups["G2"] == "G"
