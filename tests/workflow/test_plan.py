"""The workflow's plan: dry run, DAG, lint, and config validation at parse time."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    # the Snakefile's default configfile is resolved against the working directory
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    return tmp_path


def test_dry_run_plans_every_stage(workdir):
    out = snakemake("-n", cwd=workdir)
    assert out.returncode == 0, out.stderr + out.stdout
    text = out.stdout + out.stderr
    for rule in ("demo_dataset", "words", "features", "preprocess_fmri", "preprocess_meeg", "encode",
                 "validate_demo"):
        assert rule in text, f"rule {rule} missing from the plan"


def test_dag_is_graphviz(workdir):
    out = snakemake("--dag", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.lstrip().startswith("digraph") and "encode" in out.stdout


def test_lint_is_clean(workdir):
    out = snakemake("--lint", cwd=workdir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lints for" not in out.stdout + out.stderr, out.stdout + out.stderr


@pytest.mark.parametrize(
    "override, key",
    [
        ({"features": {"context": {"mode": "bogus"}}}, "mode"),
        ({"features": {"pooling": "max"}}, "pooling"),
        ({"encoding": {"inner_folds": 1}}, "inner_folds"),
        ({"colour": "blue"}, "colour"),
        ({"demo": {"stories": ["lighthouse", "nosuchstory"]}}, "demo.stories"),
        ({"demo": {"planting_model": "gpt9"}}, "demo.planting_model"),
        ({"models": {"x": {"source": "ftp"}}}, "source"),
    ],
)
def test_bad_config_is_rejected_naming_the_key(workdir, override, key):
    bad = workdir / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    out = snakemake("-n", "--configfile", str(bad), cwd=workdir)
    assert out.returncode != 0
    assert key in out.stdout + out.stderr, out.stdout + out.stderr


def _dry_run_profile(tmp_path: Path, profile: str, override: dict) -> subprocess.CompletedProcess:
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    (work / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    extra = tmp_path / "override.yaml"
    extra.write_text(yaml.safe_dump(override))
    return snakemake("-n", "--configfile", str(REPO / "config" / "datasets" / f"{profile}.yaml"), str(extra),
                     "--quiet", "rules", cwd=work)


def test_ieeg_patients_are_planned_per_subject_with_electrode_tables(tmp_path):
    """Two iEEG patients: the plan fits them separately (no late 'share the target space' error) and
    adds each model's electrode table and group statistics."""
    bids = tmp_path / "bids"
    for sub in ("01", "02"):
        d = bids / f"sub-{sub}" / "ieeg"
        d.mkdir(parents=True)
        (d / f"sub-{sub}_task-podcast_ieeg.edf").touch()
        (d / f"sub-{sub}_task-podcast_channels.tsv").touch()
    (bids / "stimuli").mkdir()
    (bids / "stimuli" / "podcast_transcript.csv").write_text("word,start,end\nAct,3.71,3.95\nso,4.3,4.5\n")
    out = _dry_run_profile(tmp_path, "podcast_ecog", {"dataset": {"bids_root": str(bids)}})
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
    counts = dict(line.split() for line in out.stdout.splitlines() if len(line.split()) == 2
                  and line.split()[1].isdigit())
    assert counts.get("encode") == "2" and counts.get("electrodes") == "2", out.stdout  # model + its control
    # iEEG is drawn as electrodes on a glass brain (the trained model), never as scalp topomaps
    assert counts.get("figure_electrodes") == "1" and "figure_topomaps" not in counts, out.stdout
    joint = _dry_run_profile(tmp_path / "joint", "podcast_ecog",
                             {"dataset": {"bids_root": str(bids)}, "encoding": {"subjects": "joint"}})
    assert joint.returncode == 0, joint.stderr[-3000:]
    joint_counts = dict(line.split() for line in joint.stdout.splitlines() if len(line.split()) == 2
                        and line.split()[1].isdigit())
    # a joint fit adds no electrode tables of its own: only the one its glass-brain figure reads
    assert joint_counts.get("electrodes") == "1" and joint_counts.get("figure_electrodes") == "1", joint.stdout


def test_per_run_epi_masks_stop_the_plan(tmp_path):
    """fMRI with an 'epi' mask and several runs cannot share one voxel grid: the dry run stops naming
    preprocess.fmri.mask, before any preprocessing."""
    bids = tmp_path / "bids"
    tasks = ("wheretheressmoke", "adollshouse", "adventuresinsayingyes", "alternateithicatom")
    for sub in ("UTS01", "UTS02"):
        for i, task in enumerate(tasks):
            d = bids / f"sub-{sub}" / f"ses-{i + 2}" / "func"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"sub-{sub}_ses-{i + 2}_task-{task}_bold.nii.gz").touch()
    out = _dry_run_profile(tmp_path, "lebel2023", {"dataset": {"bids_root": str(bids), "subjects": ["UTS01", "UTS02"],
                                                               "profile": {"responses": "bold"}}})
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "config key 'preprocess.fmri.mask': 'epi' computes a mask from each run, so the 8 runs" in text, text[-2000:]
    assert "responses: hf5" in text  # the way out for this dataset


def _lebel_tree(bids: Path, subjects: tuple[str, ...], stories: tuple[str, ...]) -> None:
    """Raw BOLD (one session per story, as ds003020) and the authors' .hf5 responses."""
    for sub in subjects:
        for i, task in enumerate(stories):
            d = bids / f"sub-{sub}" / f"ses-{i + 2}" / "func"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"sub-{sub}_ses-{i + 2}_task-{task}_bold.nii.gz").touch()
            h = bids / "derivative" / "preprocessed_data" / sub
            h.mkdir(parents=True, exist_ok=True)
            (h / f"{task}.hf5").touch()
    tg = bids / "derivative" / "TextGrids"
    tg.mkdir(parents=True, exist_ok=True)
    for task in stories:
        (tg / f"{task}.TextGrid").write_text(
            'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n2\n<exists>\n1\n"IntervalTier"\n"word"\n'
            '0\n2\n2\n0\n0.5\n"sp"\n0.5\n2\n"I"\n')


def test_lebel_profile_plans_hf5_responses_of_one_subject(tmp_path):
    """The LeBel profile as shipped: the authors' .hf5 responses (one voxel set per subject, aligned
    across sessions) of its one subject, every story stacked, with the profile's 'epi' mask left to
    responses: bold; a second subject in native space still stops the plan (no shared grid)."""
    bids = tmp_path / "bids"
    stories = ("wheretheressmoke", "adollshouse", "adventuresinsayingyes", "alternateithicatom")
    _lebel_tree(bids, ("UTS01", "UTS02"), stories)
    out = _dry_run_profile(tmp_path, "lebel2023", {"dataset": {"bids_root": str(bids)}})
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
    counts = dict(line.split() for line in out.stdout.splitlines() if len(line.split()) == 2
                  and line.split()[1].isdigit())
    assert counts.get("preprocess_fmri") == str(len(stories)), out.stdout
    two = _dry_run_profile(tmp_path / "two", "lebel2023", {"dataset": {"bids_root": str(bids),
                                                                       "subjects": ["UTS01", "UTS02"]}})
    assert two.returncode != 0
    assert "config key 'dataset.profile.responses'" in two.stdout + two.stderr, two.stderr[-2000:]
