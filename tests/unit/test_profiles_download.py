"""The download rules take their settings from the profiles and the schema only (issue 15).

workflow/rules/download.smk writes no settings of its own: each profile's `dataset.profile.download`
(config/datasets/<name>.yaml, or the active config when it is that profile) with the schema's
defaults for what it leaves out (tag: null, include: [], url: null).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from brainalign.config_sections import defaults, with_defaults

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "workflow" / "rules" / "download.smk"
PROFILES = REPO / "config" / "datasets"


def _dry_run(tmp_path: Path, *configfiles: Path) -> str:
    targets = [f"download_{p.stem}" for p in sorted(PROFILES.glob("*.yaml"))]
    cmd = [sys.executable, "-m", "snakemake", *targets, "-n", "-p", "-s", str(RULES), "-d", str(tmp_path),
           "--configfile", *map(str, configfiles)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout + out.stderr


def test_the_schema_defaults_the_optional_download_settings():
    assert with_defaults("dataset.profile.download", {"tool": "osf", "project": "p"}) == {
        "tool": "osf", "project": "p", "tag": None, "include": [], "url": None}
    assert defaults("dataset.profile.download.include") == []


def test_every_profile_download_command_is_its_file_settings(tmp_path):
    """The commands follow each profile file (every include path, its tag, its bids_root); a profile
    without a tag (podcast_ecog) fetches the latest snapshot; the active profile's overrides win."""
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"dataset": {"bids_root": "elsewhere/megmasc"}}))
    text = _dry_run(tmp_path, PROFILES / "megmasc.yaml", override)
    commands = dict(re.findall(r"(openneuro-py download --dataset=(ds\d+)[^\n]*)", text))
    commands = {accession: command for command, accession in commands.items()}
    for path in sorted(PROFILES.glob("*.yaml")):
        dataset = yaml.safe_load(path.read_text())["dataset"]
        settings = with_defaults("dataset.profile.download", dataset["profile"]["download"])
        if settings["tool"] == "osf":
            continue
        command = commands[settings["accession"]]
        assert f"--target-dir={dataset['bids_root']}" in command
        assert re.findall(r"--include=([^\s)]+)", command) == settings["include"]
        assert ("--tag=" in command) == (settings["tag"] is not None)
        if settings["tag"] is not None:
            assert f"--tag={settings['tag']} " in command + " "
    assert "osf -p ag3kj clone elsewhere/megmasc/.osf" in text  # the active profile's bids_root


def test_rule_file_has_no_inline_download_defaults():
    text = RULES.read_text()
    assert not re.search(r"""settings\.get\(""", text)
    assert "ds002345" not in text and "ag3kj" not in text  # dataset facts live in the profiles
