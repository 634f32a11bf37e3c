"""The workflow on a real SLURM cluster (single node on localhost) through the project's profile.

The cluster is the one ``tests/workflow/slurm_setup.sh`` starts (Debian's slurm-wlm, munge,
slurmdbd so that ``sacct`` works). When no cluster answers, the test starts one itself if it runs as
root with ``CI`` set; otherwise it is skipped with the reason. In CI (``CI`` set) a cluster that cannot
be started is a failure, not a skip.

Snakemake is stopped with SIGINT on timeout (``timeout -s INT -k 30``): on SIGINT it cancels its
SLURM jobs, on SIGTERM it would wait for them forever.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "config" / "profiles" / "slurm"
TINY = REPO / "tests" / "workflow" / "configs" / "tiny_demo.yaml"
SETUP = REPO / "tests" / "workflow" / "slurm_setup.sh"
LIMIT_S = int(os.environ.get("BRAINALIGN_SLURM_TEST_TIMEOUT", "1500"))
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+?)\)")

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _cluster_problem() -> str | None:
    """None when a SLURM node answers idle/mixed/allocated, else why not."""
    if shutil.which("sinfo") is None:
        return "sinfo not found (SLURM client not installed)"
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    states = out.stdout.split()
    if out.returncode != 0 or not {"idle", "mix", "alloc"} & set(states):
        return f"sinfo reports no usable node ({out.stdout.strip() or out.stderr.strip()})"
    return None


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    problem = _cluster_problem()
    if problem is None:
        return
    in_ci = bool(os.environ.get("CI"))
    if os.geteuid() != 0 or not in_ci:
        why = "not root" if os.geteuid() != 0 else "CI is unset"
        pytest.skip(f"no SLURM cluster ({problem}) and {why}: start one with `sudo {SETUP.relative_to(REPO)}` "
                    "or run the tests as root with CI=1")
    setup = subprocess.run([str(SETUP)], capture_output=True, text=True, timeout=600)
    problem = _cluster_problem()
    if setup.returncode != 0 or problem:
        pytest.fail(f"could not start the local SLURM cluster: {problem}\n{setup.stdout[-3000:]}{setup.stderr[-3000:]}")


def run_on_slurm(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile") -> subprocess.CompletedProcess:
    """Run snakemake with the project's SLURM profile in ``workdir``; SIGINT on timeout."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = ["timeout", "-s", "INT", "-k", "30", str(LIMIT_S),
           sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir),
           "--profile", str(PROFILE),
           # the local node has 2 CPUs: batches of grouped jobs are sized to fit it
           "--cores", "2",
           "--slurm-init-seconds-before-status-checks", "5", "--slurm-keep-successful-logs", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=LIMIT_S + 120)


def slurm_jobs(out: subprocess.CompletedProcess) -> dict[str, str]:
    """SLURM job id -> rule or group of the job (``rule_<name>`` / ``group_<group>_<rules>``, the folder
    of its log under .snakemake/slurm_logs/), from snakemake's submission messages."""
    jobs = {}
    for jobid, log in SUBMITTED.findall(out.stdout + out.stderr):
        parts = Path(log).parts
        jobs[jobid] = parts[parts.index("slurm_logs") + 1]
    return jobs


def sacct_states(jobids: list[str]) -> dict[str, str]:
    """Final state of each job in SLURM's accounting (retried a few times: slurmdbd lags)."""
    states: dict[str, str] = {}
    for _ in range(20):
        out = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", ",".join(jobids)],
                             capture_output=True, text=True, timeout=30)
        states = dict(line.split("|", 1) for line in out.stdout.split() if "|" in line)
        if set(jobids) <= states.keys() and all(s.split()[0] in {"COMPLETED", "FAILED", "OUT_OF_MEMORY",
                                                                   "CANCELLED", "TIMEOUT"} for s in states.values()):
            break
        time.sleep(1)
    return states


def _report(out: subprocess.CompletedProcess) -> str:
    return f"rc={out.returncode}\n--- stdout\n{out.stdout[-4000:]}\n--- stderr\n{out.stderr[-8000:]}"


MINI_SNAKEFILE = """
# Profile mechanics on the real cluster, in seconds: the profile's grouping of preprocessing jobs
# (rule names as in the workflow) and its retries with more memory.
rule all:
    input: expand("pre/{i}.txt", i=range(4)), "retry.txt"

rule preprocess_fmri:
    output: "pre/{i}.txt"
    threads: 1
    resources: mem_mb=lambda wc, attempt: 1000 * attempt, runtime=5
    shell: "echo job=$SLURM_JOB_ID > {output}"

rule retry:
    output: "retry.txt"
    threads: 1
    resources: mem_mb=lambda wc, attempt: 500 * attempt, runtime=5
    # fails unless it was given at least 1000 MB: only the second attempt succeeds
    shell: "test {resources.mem_mb} -ge 1000 || exit 3; echo job=$SLURM_JOB_ID mem={resources.mem_mb} > {output}"
"""


def test_profile_groups_jobs_and_retries_with_more_memory(slurm_cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(MINI_SNAKEFILE)
    out = run_on_slurm(tmp_path, snakefile=tmp_path / "Snakefile")
    assert out.returncode == 0, _report(out)
    jobs = slurm_jobs(out)
    # four preprocessing jobs, one submission (the profile's group 'preproc')
    groups = [folder for folder in jobs.values() if folder.startswith("group_preproc")]
    assert len(groups) == 1, jobs
    pre_ids = {(tmp_path / "pre" / f"{i}.txt").read_text().split("=")[1].strip() for i in range(4)}
    assert len(pre_ids) == 1 and pre_ids <= jobs.keys(), (pre_ids, jobs)
    # the retried rule: two submissions, the first failed, the second ran with twice the memory
    retry_ids = sorted((j for j, folder in jobs.items() if folder == "rule_retry"), key=int)
    assert len(retry_ids) == 2, jobs
    states = sacct_states(retry_ids)
    assert states[retry_ids[0]].startswith("FAILED") and states[retry_ids[1]].startswith("COMPLETED"), states
    assert (tmp_path / "retry.txt").read_text().split() == [f"job={retry_ids[1]}", "mem=1000"]


def test_demo_on_slurm_equals_local_run(slurm_cluster, tiny_demo, output_digest, digest_diff, tmp_path):
    """The tiny demo (every stage of the workflow) through SLURM == the same config run locally."""
    local = tiny_demo  # the uninterrupted local run (tests/conftest.py)
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    start = time.monotonic()
    out = run_on_slurm(tmp_path, "--configfile", str(TINY))
    wall = time.monotonic() - start
    assert out.returncode == 0, _report(out)
    print(f"SLURM demo wall time: {wall:.0f} s")

    jobs = slurm_jobs(out)
    assert jobs, "no job was submitted to SLURM:\n" + _report(out)
    states = sacct_states(list(jobs))
    assert all(states.get(j, "").startswith("COMPLETED") for j in jobs), states
    # every rule that did work ran inside a SLURM job (alone or in a group submission)
    ran = set(re.findall(r"^\s*rule (\w+):", out.stdout + out.stderr, flags=re.MULTILINE))
    assert {"demo_dataset", "features", "encode"} <= ran, ran
    folders = set(jobs.values())
    for rule in ran:
        assert any(rule in folder for folder in folders), f"rule {rule} has no SLURM submission: {folders}"

    differences = digest_diff(output_digest(local), output_digest(tmp_path))
    assert not differences, "SLURM outputs differ from the local run:\n" + "\n".join(differences[:50])


SHARD_ID = re.compile(r"g\d+-l\d+-t\d+")


def planned_shard_memory(out: subprocess.CompletedProcess) -> dict[str, int]:
    """Shard id -> the mem_mb snakemake gave each encode_shard job (its plan's request, first attempt)."""
    asked = {}
    for job in (out.stdout + out.stderr).split("rule encode_shard:")[1:]:
        job = job.split("rule ")[0]  # up to the next (local)rule
        asked[job.split("shard=")[1].split()[0].rstrip(",")] = int(job.split("mem_mb=")[1].split(",")[0])
    return asked


def sacct_memory(jobids: list[str]) -> dict[str, int]:
    """Memory (MB) each job asked SLURM for, from its accounting (``ReqMem``, e.g. ``460M``)."""
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,ReqMem", "-j", ",".join(jobids)],
                         capture_output=True, text=True, timeout=30)
    units = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    mem = {}
    for line in out.stdout.split():
        jobid, req = line.split("|", 1)
        value = re.fullmatch(r"([\d.]+)([KMGT])n?c?", req)
        mem[jobid] = round(float(value.group(1)) * units[value.group(2)]) if value else -1
    return mem


def test_sharded_encode_on_slurm_equals_local_unsharded(slurm_cluster, tiny_demo, tmp_path):
    """encoding.max_job_memory_gb on the cluster: each shard is its own SLURM job asking for its planned
    memory, and the gathered scores equal the local single encode job's (max |dr| <= 1e-6, same alphas)."""
    import numpy as np
    import yaml

    from brainalign.io.store import read_zarr

    scores = "results/demo/scores"
    work = tmp_path / "work"
    shutil.copytree(tiny_demo, work, symlinks=True)  # every input of the encoding, up to date
    shutil.rmtree(work / scores)
    config = yaml.safe_load(TINY.read_text())
    # the tiny demo's one subject (78 volumes, ~45,000 voxels in its BOLD grid, an FIR design of 4 x 4096
    # planned features): 0.45 GB holds a third of its voxels per shard
    config["encoding"]["max_job_memory_gb"] = 0.45
    sharded = tmp_path / "sharded.yaml"
    sharded.write_text(yaml.safe_dump(config))
    out = run_on_slurm(work, f"{scores}/smollm2/fmri.csv", "--configfile", str(sharded))
    assert out.returncode == 0, _report(out)

    jobs = slurm_jobs(out)
    shard_jobs = {j: folder for j, folder in jobs.items() if folder == "rule_encode_shard"}
    assert [f for f in jobs.values() if f == "rule_encode_gather"] == ["rule_encode_gather"], jobs
    assert "rule_encode" not in jobs.values(), jobs  # gathered, not the single job
    logs = dict(SUBMITTED.findall(out.stdout + out.stderr))
    shard_of_job = {j: SHARD_ID.search(logs[j]).group(0) for j in shard_jobs}
    planned = planned_shard_memory(out)
    files = sorted(p.stem for p in (work / "results/demo/shards/encode/smollm2/fmri").glob("*.pkl"))
    # one SLURM job per shard of the plan, several shards
    assert len(files) >= 2 and sorted(shard_of_job.values()) == files == sorted(planned), (shard_of_job, files, planned)
    states = sacct_states(list(jobs))
    assert all(states.get(j, "").startswith("COMPLETED") for j in jobs), states
    # each asked SLURM for the memory its plan gave it
    requested = sacct_memory(list(shard_jobs))
    assert {shard_of_job[j]: mb for j, mb in requested.items()} == planned, (requested, planned)
    assert len(set(planned.values())) == 1  # one plan: every block the same size

    local = read_zarr(tiny_demo / scores / "smollm2" / "fmri.zarr", load=True)
    gathered = read_zarr(work / scores / "smollm2" / "fmri.zarr", load=True)
    assert gathered.r.shape == local.r.shape
    dr = float(np.nanmax(np.abs(gathered.r.values - local.r.values)))
    assert dr <= 1e-6, dr
    np.testing.assert_array_equal(gathered.alpha.values, local.alpha.values)
    print(f"sharded on SLURM: {len(shard_jobs)} shard jobs of {sorted(set(planned.values()))} MB; max |dr| {dr:.3g}")
