"""Scale: a Narratives-sized encode within a per-job memory budget, and the plan of full Narratives.

Part 1 (synthetic, generated on the fly, no BIDS): ``--subjects`` x ``--stories`` x ``--trs`` x
``--voxels`` fMRI recordings (float32 Zarr stores chunked along voxels, as preprocessing writes them)
and one model's features (``--layers`` x ``--features`` per word).  Then, every job a fresh Python
process (as a Snakemake job is), its CPU time read from ``getrusage(RUSAGE_CHILDREN)`` around it and
its peak resident memory from the kernel's high-water mark of its own pages (``VmHWM``):

- the unsharded path (``encode_dataset``: one job holding every subject) on the most subjects whose
  estimated peak fits ``--unsharded-max-gb`` (all of them when it fits; 40 x 2 x 600 x 20,000 needs
  ~30 GB);
- the sharded plan (:func:`brainalign.encoding.shards.plan_shards` with ``--budget-gb``) on those same
  subjects: its CPU overhead over the unsharded job and the max |dr| between the two (alphas compared);
- the sharded plan on every subject: each shard's and the gather's peak against its request and the
  budget, and the throughput (target columns x samples per CPU second) that ``docs/slurm.md`` sizes
  runs with.

Part 2: the dry run of full Narratives on fsaverage6 (the release's 345 subjects, every task and run in
``../shared/data/narratives-metadata``, every story unit but the schema task, 10 models, sharded with
``--narratives-budget-gb``): placeholder GIFTI files with the real vertex count (81,924) and as many volumes as
each run's events span, the real input check (``check_inputs``) run once, then ``snakemake -n`` timed;
job count and the largest ``mem_mb`` any job asks for.

    PYTHONPATH=workflow .venv/bin/python benchmarks/scale.py [--subjects 40] [--voxels 20000] ...
        [--skip-synthetic] [--skip-narratives] [--keep DIR]

Last line: ``RESULT subjects=... targets=... max_job_rss_mb=... budget_mb=... cpu_overhead=...
max_abs_dr=... narratives_jobs=... narratives_max_mem_mb=... dry_run_s=...``.
Targets: every job's peak within its request and the budget; CPU overhead <= 15 %; Narratives'
largest request <= 16 GB; its dry run <= 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

TR = 1.5
META = REPO.parent / "shared" / "data" / "narratives-metadata"
if not META.is_dir():
    META = Path("/work/shared/data/narratives-metadata")
FSAVERAGE6_HEMI = 40962  # vertices per hemisphere (81,924 in all)

# One job: read its spec (JSON), run it, print its peak resident memory (VmHWM: this process's own
# pages; ru_maxrss would also count the parent's pages, which Linux carries across fork + exec).
_CHILD = r"""
import json, sys, time

def peak_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

spec = json.loads(open(sys.argv[1]).read())
sys.path.insert(0, spec["repo"] + "/workflow")
sys.path.insert(0, spec["repo"] + "/benchmarks")
import scale
start = time.perf_counter()
out = getattr(scale, "job_" + spec["kind"])(spec)
print("JOB " + json.dumps(dict(out or {}, peak_mb=peak_mb(), wall_s=time.perf_counter() - start)))
"""


# ------------------------------------------------------------------------------------ synthetic data
def make_features(root: Path, stories: list[str], n_trs: int, n_layers: int, n_features: int, seed: int) -> None:
    """One model's word features per story (words ~0.4 s apart over the run), Features contract."""
    import xarray as xr

    from brainalign.io.store import write_zarr

    rng = np.random.default_rng(seed)
    for story in stories:
        onset = np.cumsum(rng.uniform(0.3, 0.5, int(n_trs * TR / 0.4)))
        onset = onset[onset < (n_trs - 12) * TR] + 2.0
        hidden = rng.standard_normal((onset.size, n_layers, n_features)).astype(np.float32)
        ds = xr.Dataset({"hidden": (("word", "layer", "feature"), hidden)},
                        coords={"word": np.arange(onset.size), "onset": ("word", onset), "layer": np.arange(n_layers),
                                "relative_depth": ("layer", np.arange(n_layers) / max(1, n_layers - 1))})
        write_zarr(ds, root / "features" / f"{story}.zarr")


def make_recordings(root: Path, subjects: list[str], stories: list[str], n_trs: int, n_voxels: int,
                    seed: int) -> None:
    """fMRI runs: a shared stimulus-driven part on a tenth of the voxels plus each subject's noise."""
    import xarray as xr

    from brainalign.design.fmri import apply_operator, fmri_operator
    from brainalign.io.store import read_zarr, target_chunks, write_zarr

    rng = np.random.default_rng(seed + 1)
    times = (np.arange(n_trs) + 0.5) * TR
    n_drive = max(1, n_voxels // 10)
    weights = rng.standard_normal((0, n_drive))
    signal = {}
    for story in stories:
        feats = read_zarr(root / "features" / f"{story}.zarr")
        sig = apply_operator(fmri_operator(feats.onset.values, times, TR), feats.hidden.isel(layer=-1)).values
        if weights.shape[0] != sig.shape[1]:
            weights = rng.standard_normal((sig.shape[1], n_drive)) / np.sqrt(sig.shape[1])
        drive = sig @ weights
        signal[story] = (drive / drive.std(0)).astype(np.float32)
    coords = {"time": times, "x": ("voxel", np.arange(n_voxels, dtype=float)),
              "y": ("voxel", np.zeros(n_voxels)), "z": ("voxel", np.zeros(n_voxels))}
    for sub in subjects:
        for story in stories:
            data = rng.standard_normal((n_trs, n_voxels), dtype=np.float32)
            data[:, :n_drive] += signal[story]
            da = xr.DataArray(data, dims=("time", "voxel"), coords=coords, attrs={"tr": TR}, name="data")
            write_zarr(da, root / "preproc" / f"sub-{sub}" / f"{story}.zarr", encoding=target_chunks(da))


# ------------------------------------------------------------------------------ the jobs (children)
def _inputs(spec: dict, subjects: list[str]):
    from brainalign.io.store import read_zarr

    root = Path(spec["root"])
    features = {s: read_zarr(root / "features" / f"{s}.zarr") for s in spec["stories"]}
    recordings = {sub: {s: read_zarr(root / "preproc" / f"sub-{sub}" / f"{s}.zarr")["data"] for s in spec["stories"]}
                  for sub in subjects}
    return features, recordings


def job_unsharded(spec: dict) -> dict:
    """The single encode job: every subject of the spec, one ``encode_dataset`` call."""
    from brainalign.encoding import encode_dataset, scores_to_frame
    from brainalign.io.store import atomic_write_table, write_zarr

    features, recordings = _inputs(spec, spec["subjects"])
    scores = encode_dataset(features, recordings, modality="fmri", design=spec["design"], encoding=spec["encoding"])
    write_zarr(scores, spec["out"])
    atomic_write_table(scores_to_frame(scores), spec["out"].replace(".zarr", ".csv"))  # as the encode rule
    return {}


def job_shard(spec: dict) -> dict:
    """One shard (its subjects' target block), written as the encode_shard rule writes it."""
    from brainalign.encoding.shards import Shard, fit_shard, write_shard

    shard = Shard(**dict(spec["shard"], subjects=tuple(spec["shard"]["subjects"])))
    features, recordings = _inputs(spec, list(shard.subjects))
    result = fit_shard(features, recordings, shard, modality="fmri", design=spec["design"], encoding=spec["encoding"])
    write_shard(result, spec["out"])
    return {}


def job_gather(spec: dict) -> dict:
    """The gather: every shard read, the scores assembled and written (store and CSV), as encode_gather."""
    from brainalign.encoding import scores_to_frame
    from brainalign.encoding.shards import gather_shards, read_shard
    from brainalign.io.store import atomic_write_table, write_zarr

    scores = gather_shards([read_shard(p) for p in spec["shards"]], subjects=spec["subjects"])
    write_zarr(scores, spec["out"])
    atomic_write_table(scores_to_frame(scores), spec["out"].replace(".zarr", ".csv"))
    return {}


def run_job(spec: dict, work: Path, env: dict) -> dict:
    """Run one job in a fresh interpreter; its peak RSS (MB), CPU (user + system s) and wall time."""
    path = work / f"job-{os.getpid()}-{time.perf_counter_ns()}.json"
    path.write_text(json.dumps(dict(spec, repo=str(REPO))))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    path.unlink()
    if out.returncode != 0:
        sys.exit(f"{spec['kind']} job failed (rc={out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    line = next(ln for ln in out.stdout.splitlines()[::-1] if ln.startswith("JOB "))
    res = json.loads(line[4:])
    res["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return res


# ------------------------------------------------------------------------------ sharded vs unsharded
def run_sharded(root: Path, work: Path, base: dict, subjects: list[str], budget_gb: float, n_trs: int,
                n_voxels: int, env: dict, tag: str) -> tuple[list[dict], Path]:
    """Plan the shards of ``subjects`` within ``budget_gb``, run every shard and the gather; per job records."""
    from brainalign.encoding.shards import design_width, gather_mem_mb, plan_shards

    n_features = base["n_features"]
    sizes = {s: {"rows": n_trs * len(base["stories"]), "targets": n_voxels} for s in subjects}
    plan = plan_shards(sizes, subject_fits="joint", max_job_memory_gb=budget_gb,
                       design_width=design_width("fmri", base["design"], n_features),
                       n_alphas=len(base["encoding"]["alphas"]), n_permutations=base["encoding"]["n_permutations"])
    print(f"[{tag}] {len(subjects)} subjects: {len(plan.shards)} shards of {plan.shards[0].mem_mb} MB planned "
          f"(budget {plan.budget_mb} MB)", flush=True)
    jobs, files = [], []
    for shard in plan.shards:
        from dataclasses import asdict

        out = work / tag / f"{shard.id}.pkl"
        out.parent.mkdir(parents=True, exist_ok=True)
        res = run_job(dict(base, kind="shard", shard=asdict(shard), out=str(out)), work, env)
        jobs.append(dict(res, job=f"shard {shard.id}", mem_mb=shard.mem_mb))
        files.append(out)
        print(f"  shard {shard.id}: peak {res['peak_mb']:.0f} / {shard.mem_mb} MB, cpu {res['cpu_s']:.1f} s",
              flush=True)
    scores = work / tag / "scores.zarr"
    request = gather_mem_mb(sum(f.stat().st_size for f in files))
    res = run_job(dict(base, kind="gather", shards=[str(f) for f in files], subjects=subjects, out=str(scores)),
                  work, env)
    jobs.append(dict(res, job="gather", mem_mb=request))
    print(f"  gather: peak {res['peak_mb']:.0f} / {request} MB, cpu {res['cpu_s']:.1f} s", flush=True)
    return jobs, scores


def max_abs_dr(a: Path, b: Path) -> tuple[float, bool]:
    """max |r_a - r_b| over the subjects of ``b`` and whether the chosen alphas are the same."""
    from brainalign.io.store import read_zarr

    sa, sb = read_zarr(a, load=True), read_zarr(b, load=True)
    sa = sa.sel(subject=sb.subject.values)
    dr = float(np.nanmax(np.abs(sa.r.values - sb.r.values)))
    same_alpha = bool(np.array_equal(sa.alpha.values, sb.alpha.values, equal_nan=True))
    return dr, same_alpha


def synthetic(args, work: Path) -> dict:
    """Part 1: generate, run unsharded vs sharded, return the figures of the RESULT line."""
    from brainalign.config_sections import with_defaults
    from brainalign.encoding.settings import encoding_settings
    from brainalign.encoding.shards import design_width, estimate_mb

    subjects = [f"{i + 1:03d}" for i in range(args.subjects)]
    stories = [f"story{i + 1}" for i in range(args.stories)]
    root = work / "data"
    t0 = time.perf_counter()
    make_features(root, stories, args.trs, args.layers, args.features, args.seed)
    make_recordings(root, subjects, stories, args.trs, args.voxels, args.seed)
    print(f"generated {args.subjects} subjects x {args.stories} stories x {args.trs} TRs x {args.voxels} voxels "
          f"({args.subjects * args.stories * args.trs * args.voxels * 4 / 2**30:.2f} GiB float32) in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    encoding, _, _ = encoding_settings(with_defaults("encoding", {"n_permutations": args.permutations}), args.seed)
    design = with_defaults("design")["fmri"]
    base = {"root": str(root), "stories": stories, "design": design, "encoding": encoding, "n_features": args.features}
    # one thread per job, as each job would get on a shared node; the same for both paths
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(REPO / "workflow"))
    rows = args.trs * args.stories
    width = design_width("fmri", design, args.features)
    est = {k: estimate_mb(rows, k * args.voxels, design_width=width, n_alphas=len(encoding["alphas"]),
                          n_permutations=args.permutations) for k in range(1, args.subjects + 1)}
    k = max([n for n, mb in est.items() if mb <= args.unsharded_max_gb * 1024] or [1])
    print(f"unsharded: {k} of {args.subjects} subjects fit {args.unsharded_max_gb} GB (estimated {est[k]} MB; all "
          f"{args.subjects}: {est[args.subjects]} MB)", flush=True)
    whole = work / "unsharded.zarr"
    single = run_job(dict(base, kind="unsharded", subjects=subjects[:k], out=str(whole)), work, env)
    print(f"  unsharded job: peak {single['peak_mb']:.0f} MB, cpu {single['cpu_s']:.1f} s", flush=True)
    same, same_scores = run_sharded(root, work, base, subjects[:k], args.budget_gb, args.trs, args.voxels, env,
                                    "same")
    cpu_same = sum(j["cpu_s"] for j in same)
    dr, same_alpha = max_abs_dr(same_scores, whole)
    full, full_scores = (same, same_scores) if k == args.subjects else run_sharded(
        root, work, base, subjects, args.budget_gb, args.trs, args.voxels, env, "all")
    if k < args.subjects:
        dr_all, alpha_all = max_abs_dr(full_scores, whole)
        dr, same_alpha = max(dr, dr_all), same_alpha and alpha_all
    budget = int(args.budget_gb * 1024)
    over = [j for j in full + same if j["peak_mb"] > min(j["mem_mb"], budget)]
    cpu_full = sum(j["cpu_s"] for j in full)
    throughput = args.subjects * args.voxels * rows * args.layers / cpu_full
    print(f"sharded, {args.subjects} subjects: {len(full)} jobs, cpu {cpu_full:.1f} s, wall "
          f"{sum(j['wall_s'] for j in full):.1f} s; throughput {throughput:.3g} target-samples x layers per CPU s",
          flush=True)
    print(f"same {k} subjects: unsharded cpu {single['cpu_s']:.1f} s, sharded cpu {cpu_same:.1f} s; max |dr| {dr:.3g}, "
          f"same alphas: {same_alpha}; jobs over their request or the budget: {len(over)}", flush=True)
    for j in over:
        print(f"  OVER: {j['job']} peak {j['peak_mb']:.0f} MB, request {j['mem_mb']} MB, budget {budget} MB")
    return {"subjects": args.subjects, "targets": args.voxels,
            "max_job_rss_mb": round(max(j["peak_mb"] for j in full + same)), "budget_mb": budget,
            "cpu_overhead": round(cpu_same / single["cpu_s"] - 1, 4), "max_abs_dr": float(f"{dr:.3g}"),
            "same_alphas": same_alpha, "unsharded_subjects": k, "throughput": float(f"{throughput:.4g}")}


# ------------------------------------------------------------------------------ Narratives dry run
def placeholder_gifti(n_volumes: int, n_vertices: int) -> bytes:
    """A GIFTI func file's XML with ``n_volumes`` DataArray elements of ``n_vertices`` (no data: the
    input check reads the element count and ``Dim0`` only)."""
    array = (f'<DataArray Intent="NIFTI_INTENT_TIME_SERIES" DataType="NIFTI_TYPE_FLOAT32" ArrayIndexingOrder='
             f'"RowMajorOrder" Dimensionality="1" Dim0="{n_vertices}" Encoding="GZipBase64Binary" Endian='
             f'"LittleEndian" ExternalFileName="" ExternalFileOffset=""><Data></Data></DataArray>\n')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<GIFTI Version="1.0" NumberOfDataArrays="{n_volumes}">\n'
            + array * n_volumes + "</GIFTI>\n").encode()


def narratives_tree(root: Path) -> tuple[list[str], int]:
    """The release's metadata as a BIDS tree with fsaverage6 placeholder derivatives; the tasks and runs."""
    import pandas as pd

    for name in ("participants.tsv", "participants.json", "dataset_description.json", "README"):
        if (META / name).exists():
            shutil.copy(META / name, root / name)
    deriv = root / "derivatives" / "fmriprep"
    n_runs, tasks = 0, set()
    for sub_dir in sorted(META.glob("sub-*")):
        func, dfunc = root / sub_dir.name / "func", deriv / sub_dir.name / "func"
        func.mkdir(parents=True)
        dfunc.mkdir(parents=True)
        for f in sorted((sub_dir / "func").iterdir()):
            shutil.copy(f, func / f.name)
            if not f.name.endswith("_events.tsv"):
                continue
            stem = f.name[: -len("_events.tsv")]
            events = pd.read_csv(f, sep="\t")
            end = float((events["onset"] + events["duration"].fillna(0)).max())
            n_vol = int(np.ceil(end / TR)) + 10  # the run covers its events
            tasks.add(stem.split("_task-")[1].split("_")[0])
            (func / f"{stem}_bold.nii.gz").touch()
            for hemi in ("L", "R"):
                (dfunc / f"{stem}_hemi-{hemi}_space-fsaverage6_bold.func.gii").write_bytes(
                    placeholder_gifti(n_vol, FSAVERAGE6_HEMI))
            (dfunc / f"{stem}_desc-confounds_timeseries.tsv").write_text(
                "csf\twhite_matter\n" + "0\t0\n" * n_vol)
            n_runs += 1
    # placeholder Gentle alignments (the mirror has none): two words 30 s into each audio file (and 30 s
    # into slumlordreach's second story, which the profile cuts at 950 s)
    stims = {t for t in tasks if t not in ("milkyway", "schema")}
    for name in stims | {"milkywayoriginal", "milkywayvodka", "milkywaysynonyms"}:
        g = root / "stimuli" / "gentle" / name / "align.json"
        g.parent.mkdir(parents=True, exist_ok=True)
        starts = [30.5, 30.8] + ([1000.5, 1000.8] if name == "slumlordreach" else [])
        words = [{"case": "success", "start": s, "end": s + 0.2, "startOffset": 5 * i, "endOffset": 5 * i + 4,
                  "word": "word", "alignedWord": "word"} for i, s in enumerate(starts)]
        g.write_text(json.dumps({"transcript": "word " * len(words), "words": words}))
    return sorted(tasks), n_runs


#: Story units of the tasks whose subjects heard different versions or orders (participants.tsv
#: conditions); the profile defines milkyway's and prettymouth's, slumlord's and reach's (story_runs).
UNITS = {
    "merlin": {"task": "merlin", "condition": ["movie", "naive"]},
    "sherlock": {"task": "sherlock", "condition": ["movie", "naive"]},
    "notthefallintact": {"task": "notthefallintact", "condition": ["intact", "intact-shortscram", "intact-longscram"]},
    "shapesphysical": {"task": "shapesphysical", "condition": [
        "social-movie-physical", "movie-physical-social", "physical-social-movie", "movie-social-physical",
        "physical-movie-social", "social-physical-movie"]},
}
UNITS["shapessocial"] = {"task": "shapessocial", "condition": UNITS["shapesphysical"]["condition"]}
#: Runs whose events contradict themselves (story row inside the music row): a fixed onset instead.
FIXED_ONSETS = {"038/milkywayvodka": 0.0, "038/prettymouthaffair": 0.0, "105/milkywayoriginal": 0.0,
                "105/prettymouthparanoia": 0.0}


def narratives_config(root: Path, tasks: list[str], n_models: int, budget_gb: float) -> dict:
    """The Narratives profile on fsaverage6: every story unit of the release (all but schema), 10 models."""
    import yaml

    config = yaml.safe_load((REPO / "config" / "datasets" / "narratives.yaml").read_text())
    ds = config["dataset"]
    units = dict(ds["conditions"]["units"], **UNITS)
    split = {u["task"] for u in units.values()} | {"schema", "slumlordreach"}
    stories = [t for t in tasks if t not in split] + list(units) + list(ds["story_runs"])
    ds.update(bids_root=str(root), derivatives_root=str(root / "derivatives" / "fmriprep"), stories=stories)
    ds["conditions"]["units"] = units
    ds["stimulus_onset"]["runs"] = FIXED_ONSETS
    ds["profile"]["space"] = "fsaverage6"
    config["models"] = {f"lm{i:02d}": {"source": "hub", "id": f"example-org/lm-{i:02d}", "revision": "main"}
                        for i in range(n_models)}
    config.setdefault("encoding", {})["max_job_memory_gb"] = budget_gb
    return config


def snakemake(work: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "--directory", str(work),
           "--cores", "1"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "workflow"))
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time too: on a shared machine the wall time also counts the other processes' turns
    out.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - start, out


def narratives(args, work: Path) -> dict:
    """Part 2: check the Narratives tree once, then time the dry run; jobs and the largest request."""
    import yaml

    root = work / "ds002345"
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    tasks, n_runs = narratives_tree(root)
    config = narratives_config(root, tasks, args.models, args.narratives_budget_gb)
    (work / "config").mkdir()
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"Narratives tree: {n_runs} runs of {len(tasks)} tasks, {len(config['dataset']['stories'])} stories, "
          f"{args.models} models, fsaverage6 placeholders ({time.perf_counter() - t0:.0f} s)", flush=True)
    seconds, out = snakemake(work, "results/narratives/inputs.tsv")
    if out.returncode != 0:
        sys.exit(f"check_inputs failed:\n{out.stdout[-3000:]}\n{out.stderr[-6000:]}")
    print(f"check_inputs: {seconds:.0f} s", flush=True)
    seconds, out = snakemake(work, "-n")
    text = out.stdout + out.stderr
    if out.returncode != 0:
        sys.exit(f"dry run failed:\n{text[-6000:]}")
    stats = text[text.find("Job stats"):].split("\n\n")[0]
    print(stats)
    jobs = int(re.search(r"^total\s+(\d+)", stats, flags=re.MULTILINE).group(1))
    mems = [int(m) for m in re.findall(r"mem_mb=(\d+)", text)]
    shards = len(re.findall(r"^rule encode_shard:", text, flags=re.MULTILINE))
    print(f"dry run: {jobs} jobs ({shards} encode_shard), largest mem_mb {max(mems)}, {seconds:.1f} s wall, "
          f"{out.cpu_s:.1f} s CPU", flush=True)
    return {"narratives_jobs": jobs, "narratives_max_mem_mb": max(mems), "dry_run_s": round(seconds, 2),
            "narratives_shards": shards}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--stories", type=int, default=2)
    parser.add_argument("--trs", type=int, default=600, help="volumes per story")
    parser.add_argument("--voxels", type=int, default=20000)
    parser.add_argument("--layers", type=int, default=2, help="layers of the synthetic model")
    parser.add_argument("--features", type=int, default=64, help="hidden size of the synthetic model")
    parser.add_argument("--permutations", type=int, default=0, help="encoding.n_permutations")
    parser.add_argument("--budget-gb", type=float, default=2.0, help="encoding.max_job_memory_gb of the sharded runs")
    parser.add_argument("--unsharded-max-gb", type=float, default=6.0,
                        help="largest estimated peak the unsharded job may have (it runs on that many subjects)")
    parser.add_argument("--models", type=int, default=10, help="models of the Narratives plan")
    parser.add_argument("--narratives-budget-gb", type=float, default=12.0,
                        help="encoding.max_job_memory_gb of the Narratives plan (one layer's design of a 4,096-feature "
                             "model over a subject's ~4,000 volumes needs ~4.3 GB alone)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-narratives", action="store_true")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="brainalign-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    result = {}
    try:
        if not args.skip_synthetic:
            result.update(synthetic(args, work / "synthetic"))
        if not args.skip_narratives:
            result.update(narratives(args, work / "narratives"))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    keys = ["subjects", "targets", "max_job_rss_mb", "budget_mb", "cpu_overhead", "max_abs_dr", "narratives_jobs",
            "narratives_max_mem_mb", "dry_run_s"]
    print("RESULT " + " ".join(f"{k}={result.get(k, 'na')}" for k in keys))


if __name__ == "__main__":
    main()
