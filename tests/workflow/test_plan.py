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


def patients_tree(tmp_path: Path) -> Path:
    """Two iEEG patients of the Podcast layout (empty recordings and channel tables) and its transcript."""
    bids = tmp_path / "bids"
    for sub in ("01", "02"):
        d = bids / f"sub-{sub}" / "ieeg"
        d.mkdir(parents=True)
        (d / f"sub-{sub}_task-podcast_ieeg.edf").touch()
        (d / f"sub-{sub}_task-podcast_channels.tsv").touch()
    (bids / "stimuli").mkdir()
    (bids / "stimuli" / "podcast_transcript.csv").write_text("word,start,end\nAct,3.71,3.95\nso,4.3,4.5\n")
    return bids


def test_ieeg_patients_are_planned_per_subject_with_electrode_tables(tmp_path):
    """Two iEEG patients: the plan fits them separately (no late 'share the target space' error) and
    adds each model's electrode table and group statistics."""
    bids = patients_tree(tmp_path)
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


def test_sharded_encode_plans_shard_jobs_with_their_memory(tmp_path):
    """encoding.max_job_memory_gb: once the input check has recorded the sizes (inputs.tsv), the plan has
    one encode_shard job per (patient, channel block) of each model, each asking for the planned mem_mb,
    and encode_gather instead of encode; without the setting, the single encode job (unchanged)."""
    from brainalign.encoding.shards import plan_from_config
    from brainalign.io.inputs import COLUMNS

    bids = patients_tree(tmp_path)
    table = tmp_path / "work" / "results" / "podcast_ecog" / "inputs.tsv"
    table.parent.mkdir(parents=True)
    rows = [dict.fromkeys(COLUMNS, "n/a") | {"subject": s, "story": "podcast", "modality": "ieeg", "status": "ok",
                                              "sfreq_hz": "512", "n_samples": "1000000", "n_words": "5000",
                                              "n_targets": n} for s, n in (("01", "240"), ("02", "100"))]
    table.write_text("\t".join(COLUMNS) + "\n" + "".join("\t".join(r[c] for c in COLUMNS) + "\n" for r in rows))
    override = {"dataset": {"bids_root": str(bids)}, "encoding": {"max_job_memory_gb": 4}}
    out = _dry_run_profile(tmp_path, "podcast_ecog", override)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
    counts = dict(line.split() for line in out.stdout.splitlines() if len(line.split()) == 2
                  and line.split()[1].isdigit())
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for part in (yaml.safe_load((REPO / "config" / "datasets" / "podcast_ecog.yaml").read_text()), override):
        for key, value in part.items():
            config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    config["encoding"] = {"alphas": {"num": 11}, "subjects": "auto", **config["encoding"]}
    plan = plan_from_config(table, "ieeg", [("01", "podcast"), ("02", "podcast")], config)
    assert len(plan.shards) >= 3 and {s.subjects for s in plan.shards} == {("01",), ("02",)}
    assert counts.get("encode_shard") == str(2 * len(plan.shards)), out.stdout  # model + its control
    assert counts.get("encode_gather") == "2" and "encode" not in counts, out.stdout
    # every shard job asks for its planned memory, within the budget
    verbose = snakemake("-n", "--configfile", str(REPO / "config" / "datasets" / "podcast_ecog.yaml"),
                        str(tmp_path / "override.yaml"), cwd=tmp_path / "work")
    asked = {}
    for job in (verbose.stdout + verbose.stderr).split("rule encode_shard:")[1:]:
        job = job.split("\nrule ")[0]
        shard = job.split("shard=")[1].split()[0].rstrip(",")
        asked.setdefault(shard, set()).add(int(job.split("mem_mb=")[1].split(",")[0]))
        assert "sub-02" not in job if shard.startswith("g0-") else "sub-01" not in job  # its patient's runs only
    assert asked == {s.id: {s.mem_mb} for s in plan.shards}
    assert max(s.mem_mb for s in plan.shards) <= 4 * 1024
    single = _dry_run_profile(tmp_path / "single", "podcast_ecog", {"dataset": {"bids_root": str(bids)}})
    assert single.returncode == 0 and "encode_shard" not in single.stdout and "encode " in single.stdout


# The demo's dry run as planned before the config defaults moved to the schema alone (issue 15:
# settings.ANALYSES/FIGURES, the analyses and brainbench schema fragments, collect.py's literals):
# every job, its wildcards, outputs and params (the config sections the scripts receive).  Recorded
# with tests/workflow/plan_snapshot.py from commit bdb5e75; a change that means to alter the plan
# regenerates it (python tests/workflow/plan_snapshot.py WORKDIR OUT.json [brainbench]).
# Regenerated for preprocess.meeg.ica/ssp as blocks with defaults and strategy.n_compcor's schema
# default (only those params changed: ica/ssp null -> their default blocks, n_compcor: 5 added).
# Regenerated for the sharded refits (issue 16): forecast_scores' params.encoding is the solver settings
# without max_job_memory_gb, as encode's (the only change).
PLAN_SNAPSHOT = REPO / "tests" / "workflow" / "data" / "demo_plan.json"


@pytest.mark.parametrize("target", ["default", "brainbench"])
def test_demo_plan_and_params_are_unchanged(tmp_path, target):
    import json

    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    (work / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    # paths of the demo config are relative to the repository: its corpus and ../shared test sets
    (work / "workflow").symlink_to(REPO / "workflow")
    shared = REPO.parent / "shared"
    if target == "brainbench" and not shared.is_dir():
        pytest.skip(f"{shared} (BrainBench test sets of the demo config) is not there")
    if shared.is_dir():
        (tmp_path / "shared").symlink_to(shared)
    out = tmp_path / "plan.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    run = subprocess.run([sys.executable, str(REPO / "tests" / "workflow" / "plan_snapshot.py"), str(work), str(out),
                          *([] if target == "default" else [target])],
                         capture_output=True, text=True, timeout=300, env=env, cwd=work)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = json.loads(PLAN_SNAPSHOT.read_text())[target]
    planned = json.loads(out.read_text())
    assert [(j["rule"], j["wildcards"]) for j in planned] == [(j["rule"], j["wildcards"]) for j in expected]
    for got, want in zip(planned, expected):
        assert got == want, f"{got['rule']} {got['wildcards']}: outputs or params differ"
    rules = {j["rule"] for j in planned}
    assert {"encode", "analysis_forecast"} <= rules if target == "default" else {"brainbench_score"} <= rules
