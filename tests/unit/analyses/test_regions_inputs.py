"""brainalign.analyses.regions.region_input_files: the region files each modality's jobs read."""

from brainalign.analyses.regions import region_input_files
from brainalign.config_sections import with_defaults


def _settings(**over) -> dict:
    return with_defaults("analyses.regions", over)


def _tree(root):
    adir = root / "derivatives" / "atlas"
    adir.mkdir(parents=True)
    for name in ("x_dseg.nii.gz", "x_dseg.tsv", "m_channelgroups.tsv"):
        (adir / name).write_text("")
    sub = root / "sub-01" / "ieeg"
    sub.mkdir(parents=True)
    (sub / "sub-01_electrodes.tsv").write_text("name\tx\ty\tz\tlabel\nA1\t0\t0\t0\tHeschl\n")
    return adir


def test_demo_reads_its_generated_tree():
    files, settings = region_input_files("results/demo/bids", _settings(), demo=True)
    assert files == {m: ["results/demo/bids"] for m in ("fmri", "meg", "eeg", "ieeg")}
    assert settings == _settings()


def test_bids_files_per_modality(tmp_path):
    adir = _tree(tmp_path)
    files, settings = region_input_files(str(tmp_path), _settings(), demo=False)
    assert files["fmri"] == [str(adir / "x_dseg.nii.gz"), str(adir / "x_dseg.tsv")]
    assert files["meg"] == files["eeg"] == [str(adir / "m_channelgroups.tsv")]
    # iEEG (analyses.regions.ieeg auto): channel groups, the atlas for electrode positions, labelled electrodes.tsv
    assert files["ieeg"] == [str(adir / "m_channelgroups.tsv"), str(adir / "x_dseg.nii.gz"), str(adir / "x_dseg.tsv"),
                             str(tmp_path / "sub-01" / "ieeg" / "sub-01_electrodes.tsv")]
    assert settings["atlas"] == "auto"  # only a named atlas is replaced


def test_ieeg_without_labelling_reads_only_channel_groups(tmp_path):
    adir = _tree(tmp_path)
    files, _ = region_input_files(str(tmp_path), _settings(ieeg="none"), demo=False)
    assert files["ieeg"] == [str(adir / "m_channelgroups.tsv")]
