"""Dry-run time of a Narratives-sized plan: 300 subjects x 4 stories x 10 models (fMRI, BIDS).

Builds, in a temporary folder, a fake BIDS dataset of empty files in the raw + fMRIPrep derivatives
layout (bold, events, confounds), writes a config for it (dataset.kind: bids, 10 models) and times
``snakemake -n`` on the repository's Snakefile. Nothing is computed: the DAG is planned only.

    .venv/bin/python benchmarks/dag.py [--subjects 300] [--stories 4] [--models 10] [--profile]

``--profile`` also runs the dry run in-process under cProfile and prints the top functions, to see
what the parse / DAG building spends its time on. The last line is
``RESULT jobs=<planned jobs> dry_run_s=<wall seconds of the dry run>``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SPACE = "MNI152NLin2009cAsym"


def fake_bids(root: Path, subjects: list[str], stories: list[str]) -> int:
    """Empty files in BIDS raw + fMRIPrep layout; returns the number of files written."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text('{"Name": "fake", "BIDSVersion": "1.9.0"}\n')
    prep = root / "derivatives" / "fmriprep"
    prep.mkdir(parents=True)
    (prep / "dataset_description.json").write_text(
        '{"Name": "fMRIPrep", "BIDSVersion": "1.9.0", "DatasetType": "derivative"}\n')
    n = 2
    for sub in subjects:
        raw, der = root / f"sub-{sub}" / "func", prep / f"sub-{sub}" / "func"
        raw.mkdir(parents=True)
        der.mkdir(parents=True)
        for story in stories:
            stem = f"sub-{sub}_task-{story}"
            for path in (raw / f"{stem}_bold.nii.gz", raw / f"{stem}_events.tsv",
                         der / f"{stem}_space-{SPACE}_desc-preproc_bold.nii.gz",
                         der / f"{stem}_space-{SPACE}_desc-brain_mask.nii.gz",
                         der / f"{stem}_desc-confounds_timeseries.tsv"):
                path.touch()
                n += 1
    return n


def big_config(root: Path, subjects: list[str], stories: list[str], n_models: int, controls: bool) -> dict:
    """A config for the fake dataset: every subject and story, ``n_models`` language models."""
    models = {f"lm{i:02d}": {"source": "hub", "id": f"example-org/lm-{i:02d}", "revision": "main",
                             "random_control": controls} for i in range(n_models)}
    return {
        "seed": 0,
        "dataset": {
            "name": "bigdag", "kind": "bids", "modalities": ["fmri"], "bids_root": str(root),
            "derivatives_root": str(root / "derivatives" / "fmriprep"),
            "stories": stories,
            "timings": {"format": "bids_events", "path": "{root}/sub-" + subjects[0] + "/func/sub-"
                        + subjects[0] + "_task-{story}_events.tsv"},
        },
        "models": models,
    }


def dry_run(workdir: Path) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "-n", "--cores", "2"]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - start, out


def count_jobs(text: str) -> int:
    """Total of snakemake's 'Job stats' table."""
    match = re.search(r"^total\s+(\d+)", text, flags=re.MULTILINE)
    if not match:
        raise RuntimeError(f"no 'Job stats' total in snakemake's output:\n{text[-3000:]}")
    return int(match.group(1))


def profile_in_process(workdir: Path, top: int = 25) -> None:
    """cProfile of the same dry run inside this process (parse + DAG), top functions by cumtime."""
    import cProfile
    import pstats

    from snakemake.cli import main as snakemake_main

    prof = cProfile.Profile()
    argv = ["-s", str(REPO / "Snakefile"), "--directory", str(workdir), "-n", "--cores", "2", "--quiet"]
    prof.enable()
    try:
        snakemake_main(argv)
    except SystemExit:
        pass
    prof.disable()
    stats = pstats.Stats(prof).sort_stats("cumulative")
    stats.print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=300)
    parser.add_argument("--stories", type=int, default=4)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--random-controls", action="store_true", help="also plan each model's random-init control")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the dry run")
    args = parser.parse_args(argv)

    subjects = [f"{i + 1:03d}" for i in range(args.subjects)]
    stories = [f"story{i + 1}" for i in range(args.stories)]
    with tempfile.TemporaryDirectory(prefix="brainalign-dag-") as tmp:
        tmp = Path(tmp)
        n_files = fake_bids(tmp / "bids", subjects, stories)
        work = tmp / "work"
        (work / "config").mkdir(parents=True)
        # the config replaces the default one (a --configfile would be merged into it, adding its model)
        config = big_config(tmp / "bids", subjects, stories, args.models, args.random_controls)
        (work / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        print(f"fake BIDS: {args.subjects} subjects x {args.stories} stories, {n_files} empty files; "
              f"{args.models} models")
        seconds, out = dry_run(work)
        if out.returncode != 0:
            sys.exit(f"dry run failed (rc={out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
        text = out.stdout + out.stderr
        stats = text[text.find("Job stats"):].split("\n\n")[0] if "Job stats" in text else ""
        print(stats)
        jobs = count_jobs(text)
        if args.profile:
            profile_in_process(work)
    print(f"RESULT jobs={jobs} dry_run_s={seconds:.2f}")


if __name__ == "__main__":
    main()
