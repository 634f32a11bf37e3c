"""The electrodes.tsv and coordsystem.json of preprocess.ieeg.electrodes_space are inputs of the iEEG
preprocessing job (editing them reruns it), and the other space's files are not.

A dry run of the Podcast ECoG profile on a tree holding the real sub-01 tables of both spaces
(``../shared/data/podcast-ecog-metadata``) beside an empty recording: planning reads no recording.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_plan import REPO, snakemake

META = REPO.parent / "shared" / "data" / "podcast-ecog-metadata" / "sub-01" / "ieeg"
MNI = "MNI152NLin2009aSym"


def _tree(root: Path) -> Path:
    d = root / "sub-01" / "ieeg"
    d.mkdir(parents=True)
    (d / "sub-01_task-podcast_ieeg.edf").touch()
    shutil.copy(META / "sub-01_task-podcast_channels.tsv", d)
    for p in META.glob("*_space-*"):
        shutil.copy(p, d)
    (root / "stimuli").mkdir()
    (root / "stimuli" / "podcast_transcript.csv").write_text("word,start,end\nAct,3.71,3.95\nso,4.3,4.5\n")
    return root


def _preprocess_inputs(tmp_path: Path, space: str | None) -> list[str]:
    work = tmp_path / f"work-{space}"
    (work / "config").mkdir(parents=True)
    (work / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    override = {"dataset": {"bids_root": str(tmp_path / "bids"), "subjects": ["01"]}}
    if space is not None:
        override["preprocess"] = {"ieeg": {"electrodes_space": space}}
    extra = work / "override.yaml"
    extra.write_text(yaml.safe_dump(override))
    out: subprocess.CompletedProcess = snakemake(
        "-n", "--configfile", str(REPO / "config" / "datasets" / "podcast_ecog.yaml"), str(extra), cwd=work)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    block = text[text.index("rule preprocess_meeg:"):]
    line = next(ln for ln in block.splitlines() if ln.strip().startswith("input:"))
    return [Path(p.strip()).name for p in line.split(":", 1)[1].split(",")]


@pytest.mark.parametrize("space, chosen, other", [(None, MNI, "Other"), ("Other", "Other", MNI)])
def test_chosen_space_is_the_jobs_input(tmp_path, space, chosen, other):
    _tree(tmp_path / "bids")
    files = _preprocess_inputs(tmp_path, space)
    assert f"sub-01_space-{chosen}_electrodes.tsv" in files and f"sub-01_space-{chosen}_coordsystem.json" in files
    assert f"sub-01_space-{other}_electrodes.tsv" not in files and f"sub-01_space-{other}_coordsystem.json" not in files
    assert "sub-01_task-podcast_channels.tsv" in files
