"""Every file a job reads is one of its inputs: editing it re-runs exactly the jobs that read it.

A small synthetic BIDS dataset (tests/synthetic_bids.py: fMRI + BrainVision EEG, 2 subjects x 2
stories) is planned with the real Snakefile, every output is created empty and marked up to date
(``--touch``), then each file the dataset and the config provide is edited in a copy of that state.
The input check is the checkpoint every data job waits for: it is marked as run and passed
(``--touch check_inputs``; whether it had to re-run is noted), and Snakemake's summary then says,
as it does once the real check has passed, which jobs must re-run
because *their own* input changed (status ``updated input files``; their downstream jobs follow
from the DAG).  Nothing else is computed.

A second test watches the files the preprocessing library opens while it reads one run (an audit
hook sees every ``open``) and checks that each one under the dataset is listed in the run's
``files`` (what the workflow makes the job's inputs).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from tests import synthetic_bids as synth
import yaml

REPO = Path(__file__).resolve().parents[2]
RES = "results/synth"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]

# One process answers every case (a Snakemake start costs seconds; a parse in a warm process ~0.5 s):
# mark the input check (the checkpoint the data jobs wait for) as passed, note whether it had to re-run,
# then the summary.
DRIVER = r"""
import contextlib, io, json, os, sys
from snakemake.cli import main
snakefile, cases, check = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]

def snakemake(case, *args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            main(["-s", snakefile, "-d", case, "--quiet", *args])
        except SystemExit as exit:
            if exit.code:
                raise RuntimeError(f"{case}: snakemake {args} failed") from None
    return buf.getvalue()

for case in cases:
    before = os.stat(f"{case}/{check}").st_mtime_ns
    snakemake(case, "--cores", "1", "--touch", "check_inputs")  # as if the check had run and passed
    reran = os.stat(f"{case}/{check}").st_mtime_ns != before
    with open(f"{case}/summary.tsv", "w") as fh:
        fh.write(snakemake(case, "--summary"))
    with open(f"{case}/check_reran", "w") as fh:
        fh.write(str(reran))
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([*SNAKEMAKE, "-d", str(cwd), *args], capture_output=True, text=True, timeout=600, env=env)


def _summary(text: str) -> pd.DataFrame:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("output_file\t"))
    rows = [line.split("\t") for line in lines[start + 1:] if line.count("\t") >= 5]
    return pd.DataFrame(rows, columns=lines[start].split("\t")[:6] + [f"x{i}" for i in range(max(0, len(rows[0]) - 6))]
                        if rows else lines[start].split("\t"))


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> Path:
    """A working directory whose whole plan is marked up to date: bids/ (relative, so that copies of the
    directory are the same plan), config/config.yaml = the default config + the synthetic dataset."""
    work = tmp_path_factory.mktemp("planned")
    root = synth.make_dataset(work / "bids")
    (root / "README").write_text("synthetic\n")
    groups = root / "derivatives" / "groups" / "eeg_groups.tsv"
    groups.parent.mkdir(parents=True)
    groups.write_text("name\tregion\n" + "".join(f"{c}\t{'front' if i < 4 else 'back'}\n"
                                                  for i, c in enumerate(synth.CHANNELS)))
    atlas_dir = root / "derivatives" / "atlas"
    atlas_dir.mkdir(parents=True)
    shutil.copy(synth.mask_path(root), atlas_dir / "space-synth_desc-test_dseg.nii.gz")
    (atlas_dir / "space-synth_desc-test_dseg.tsv").write_text("index\tname\n1\tall\n")
    (atlas_dir / "montage-synth_desc-test_channelgroups.tsv").write_text(groups.read_text().replace("name\tregion",
                                                                                                    "channel\tgroup"))
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(synth.bids_config(Path("bids")))
    config["models"]["smollm2"]["random_control"] = False
    # a model given by a path: its weights file is an input of its feature jobs (a placeholder: nothing runs)
    (root / "derivatives" / "models").mkdir(parents=True)
    (root / "derivatives" / "models" / "tiny.gguf").write_bytes(b"GGUF")
    config["models"]["tiny"] = {"source": "gguf", "id": "bids/derivatives/models/tiny.gguf", "random_control": False}
    config["preprocess"]["fmri"]["mask"] = str(synth.mask_path(Path("bids")))
    config["preprocess"]["meeg"]["channel_groups"] = "bids/derivatives/groups/eeg_groups.tsv"
    (work / "config").mkdir()
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # the input check for real: the encoder jobs size their requests from its table (encoding.sizing), so an
    # empty placeholder would stop them; every other output is a placeholder (touch keeps the table's content)
    check = _run(CHECK, "--cores", "1", cwd=work)
    assert check.returncode == 0, check.stderr[-3000:]
    plan = _run("--summary", cwd=work)
    assert plan.returncode == 0, plan.stderr[-3000:]
    for out in _summary(plan.stdout)["output_file"]:
        path = work / out
        if out.endswith(".zarr"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    touched = _run("--touch", "--cores", "1", cwd=work)
    assert touched.returncode == 0, touched.stderr[-3000:]
    nothing = _run("-n", cwd=work)
    assert "Nothing to be done" in nothing.stdout + nothing.stderr, nothing.stdout[-3000:]
    return work


FMRI = f"{RES}/preproc/fmri"
EEG = f"{RES}/preproc/eeg"
CHECK = f"{RES}/inputs.tsv"
EEG_ALL = [f"{EEG}/sub-{s}/{t}.zarr" for s in ("01", "02") for t in ("a", "b")]
FMRI_ALL = [f"{FMRI}/sub-{s}/{t}.zarr" for s in ("01", "02") for t in ("a", "b")]
REGION_RULES = ("figure_layer_profiles", "figure_sensors", "analysis_hierarchy", "analysis_forecast",
                "analysis_comparison")

# file edited (relative to the working directory) -> outputs of the jobs that read it
CASES = {
    "bids/sub-01/func/sub-01_task-a_bold.nii.gz": [CHECK, f"{FMRI}/sub-01/a.zarr"],
    "bids/sub-01/func/sub-01_task-a_bold.json": [CHECK, f"{FMRI}/sub-01/a.zarr"],
    "bids/derivatives/fmriprep/sub-01/func/sub-01_task-a_desc-confounds_timeseries.tsv": [CHECK, f"{FMRI}/sub-01/a.zarr"],
    "bids/sub-01/func/sub-01_task-a_events.tsv": [CHECK, f"{RES}/words/a.tsv"],  # story a's word timings
    "bids/sub-02/func/sub-02_task-b_events.tsv": [CHECK],  # only the check compares it with the recording
    "bids/sub-01/eeg/sub-01_task-a_eeg.vhdr": [CHECK, f"{EEG}/sub-01/a.zarr"],
    "bids/sub-01/eeg/sub-01_task-a_eeg.eeg": [CHECK, f"{EEG}/sub-01/a.zarr"],
    "bids/sub-01/eeg/sub-01_task-a_eeg.vmrk": [CHECK, f"{EEG}/sub-01/a.zarr"],
    "bids/sub-01/eeg/sub-01_task-a_eeg.json": [CHECK, f"{EEG}/sub-01/a.zarr"],
    "bids/sub-01/eeg/sub-01_task-a_channels.tsv": [CHECK, f"{EEG}/sub-01/a.zarr"],
    "bids/sub-01/eeg/sub-01_task-a_events.tsv": [CHECK, f"{EEG}/sub-01/a.zarr"],
    "bids/sub-01/eeg/sub-01_task-a_events.json": [CHECK, f"{EEG}/sub-01/a.zarr"],
    "bids/sub-02/eeg/sub-02_space-CapTrak_electrodes.tsv": [CHECK, f"{EEG}/sub-02/a.zarr", f"{EEG}/sub-02/b.zarr"],
    "bids/sub-02/eeg/sub-02_space-CapTrak_coordsystem.json": [CHECK, f"{EEG}/sub-02/a.zarr", f"{EEG}/sub-02/b.zarr"],
    "bids/sub-02/sub-02_scans.tsv": [CHECK, f"{EEG}/sub-02/a.zarr", f"{EEG}/sub-02/b.zarr"],
    "bids/participants.tsv": [CHECK, *EEG_ALL],  # mne-bids reads it into every EEG run's subject info
    "bids/derivatives/masks/space-synth_desc-brain_mask.nii.gz": [CHECK, *FMRI_ALL],  # preprocess.fmri.mask
    "bids/derivatives/groups/eeg_groups.tsv": [CHECK, *EEG_ALL],  # preprocess.meeg.channel_groups
    "bids/derivatives/atlas/space-synth_desc-test_dseg.nii.gz": ("regions", "fmri"),  # analyses.regions: auto
    "bids/derivatives/atlas/space-synth_desc-test_dseg.tsv": ("regions", "fmri"),
    "bids/derivatives/atlas/montage-synth_desc-test_channelgroups.tsv": ("regions", "eeg"),
    "bids/derivatives/models/tiny.gguf": [f"{RES}/features/tiny/a.zarr", f"{RES}/features/tiny/b.zarr"],
    "bids/README": [],  # read by no job
    "bids/dataset_description.json": [],
}


@pytest.fixture(scope="module")
def summaries(planned, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """Each case: a copy of the planned directory (mtimes and .snakemake metadata kept), one file edited."""
    base = tmp_path_factory.mktemp("cases")
    newest = max(p.stat().st_mtime for p in (planned / "results").rglob("*"))
    stamp = newest + 1.0
    while time.time() < stamp + 0.5:
        time.sleep(0.1)
    dirs = {}
    for i, edited in enumerate(CASES):
        case = base / f"case{i:02d}"
        shutil.copytree(planned, case, symlinks=True)
        path = case / edited
        assert path.is_file(), edited
        # a content change that keeps the file valid (the check must pass): Snakemake compares the
        # checksums it recorded for small inputs, so a bare touch of an unchanged file re-runs nothing
        with open(path, "ab") as fh:
            if edited.endswith(".gz"):
                fh.write(gzip.compress(b""))  # an empty gzip member: same voxels
            elif edited.endswith(".eeg"):
                fh.write(bytes(4 * len(synth.CHANNELS)))  # one more sample (float32 per channel)
            else:
                fh.write(b"\n")
        # newer than every output of the plan, yet in the past: the driver's `--touch check_inputs`
        # stamps the check "now", and an input newer than that would read as clock skew
        os.utime(path, (stamp, stamp))
        dirs[edited] = case
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", DRIVER, str(REPO / "Snakefile"), json.dumps([str(d) for d in dirs.values()]),
                          CHECK], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = {}
    for edited, case in dirs.items():
        table = _summary((case / "summary.tsv").read_text())
        table.attrs["check_reran"] = (case / "check_reran").read_text() == "True"
        result[edited] = table
    return result


@pytest.mark.parametrize("edited", list(CASES))
def test_edit_reruns_exactly_its_readers(summaries, edited):
    """Editing one file makes exactly the jobs that read it out of date (and their downstream jobs)."""
    table = summaries[edited]
    direct = sorted(table.loc[table["status"].str.contains("updated input"), "output_file"])
    if table.attrs["check_reran"]:
        direct = sorted([CHECK, *direct])
    expected = CASES[edited]
    if isinstance(expected, tuple):  # region tables: the figures and analyses of one modality
        modality = expected[1]
        expected = sorted(table.loc[table["rule"].isin(REGION_RULES)
                                    & table["output_file"].str.contains(f"/{modality}/"), "output_file"])
        assert expected, "no region-labelled output planned"
    assert direct == sorted(expected), f"{edited}: re-runs {direct}"
    pending = set(table.loc[table["plan"] == "update pending", "output_file"])
    assert set(expected) - {CHECK} <= pending
    if not expected:
        assert not pending, f"{edited}: {sorted(pending)}"
    # downstream of a preprocessing job: that modality's encoder, never the other's
    for modality, other in (("fmri", "eeg"), ("eeg", "fmri")):
        if any(f"/preproc/{modality}/" in p for p in expected):
            assert f"{RES}/scores/smollm2/{modality}.zarr" in pending
            assert f"{RES}/scores/smollm2/{other}.zarr" not in pending


# ------------------------------------------------------------------ what the readers open
@pytest.fixture()
def opened():
    """Files opened (``open`` audit events) while the fixture is active."""
    seen: list[str] = []
    state = {"on": True}

    def hook(event, args):
        if state["on"] and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(args[0]))
            if not path.endswith(".lock"):  # mne-bids' file locks beside the sidecars it reads: not data
                seen.append(path)

    sys.addaudithook(hook)  # cannot be removed: switched off below
    yield seen
    state["on"] = False


def _under(paths, root: Path) -> set[str]:
    root = str(root.resolve())
    return {p for p in paths if p.startswith(root + os.sep)}


@pytest.mark.parametrize("modality", ["fmri", "eeg"])
def test_readers_open_only_listed_files(tmp_path, opened, modality):
    """The preprocessing of one run opens only files that run discovery lists for it (its job's inputs)."""
    from brainalign.io.bids import locate_run
    from brainalign.preprocess.fmri import preprocess_run
    from brainalign.preprocess.meeg import preprocess_meeg

    root = synth.make_dataset(tmp_path / "bids", subjects=("01",), modalities=(modality,))
    (root / "task-a_bold.json").write_text('{"RepetitionTime": 2.0}')  # inherited, shadowed by the run's own
    run = locate_run(root, "01", "a", modality)
    opened.clear()
    if modality == "fmri":
        from brainalign.config_sections import with_defaults

        options = with_defaults("preprocess.fmri", {"mask": str(synth.mask_path(root)), "strategy": {"motion": "basic"}})
        preprocess_run(run, options=options, story="a")
        listed = {*run["files"], str(synth.mask_path(root))}  # + preprocess.fmri.mask, added by common.smk
    else:
        preprocess_meeg(run["bids_path"], l_freq=None, h_freq=None, notch=None, resample=None)
        listed = set(run["files"])
    read = _under(opened, root)
    assert read, "the audit hook saw no file"
    assert read <= {os.path.abspath(p) for p in listed}, sorted(read - {os.path.abspath(p) for p in listed})


def test_input_check_opens_only_its_inputs(tmp_path, opened):
    """The input check opens only the runs' listed files, their events and the word-timing files (its job's inputs)."""
    from brainalign.config_sections import with_defaults
    from brainalign.io.inputs import check_dataset, select_dataset_runs

    root = synth.make_dataset(tmp_path / "bids")
    timings = with_defaults("dataset.timings", synth.bids_config(root)["dataset"]["timings"])
    runs = select_dataset_runs(root, {"fmri": {"modality": "fmri"}, "eeg": {"modality": "eeg"}}, ["01", "02"], ["a", "b"])
    listed = {p for table in runs.values() for row in table.itertuples() for p in (*row.files, row.events) if p}
    listed |= {timings["path"].format(root=root, story=t) for t in ("a", "b")}
    opened.clear()
    table = check_dataset(runs, root=root, kind="bids", timings=timings)
    assert (table["status"] == "ok").all(), table["problems"].tolist()
    read = _under(opened, root)
    assert read and read <= {os.path.abspath(p) for p in listed}, sorted(read - {os.path.abspath(p) for p in listed})
