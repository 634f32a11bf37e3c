"""Every snakemake command the docs give a user (README.md and the headers of config/datasets/*.yaml)
is run, as written, as a dry run: a documented command that Snakemake rejects fails here.

The commands run in a working directory that links the repository's Snakefile, workflow/, config/ and
envs/, so relative paths resolve as in a checkout; each profile's ``bids_root`` (``data/ds...``) holds a
small fake tree of the published layout (tests/unit/test_profiles.py), and a BIDS root named in a
``--config 'dataset={bids_root: ...}'`` override is replaced by such a tree.  Only ``-n`` is added (to
commands that would run jobs).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
from tests.unit.test_profiles import TREES  # noqa: E402  (the fake trees of each profile's published layout)

PROFILES = sorted(p.stem for p in (REPO / "config" / "datasets").glob("*.yaml"))
#: Snakemake's own check of a --config key (snakemake.cli.parse_config): no dots, no brackets.
CONFIG_KEY = re.compile(r"[a-zA-Z_][\w-]*\w$")
#: Options after which Snakemake runs no job, so it needs no --cores.
NO_JOBS = {"-n", "--dry-run", "--dryrun", "--dag", "--rulegraph", "--report", "--unlock", "--lint", "--list",
           "--summary", "--touch"}


# ----------------------------------------------------------------------------------- extraction
def _readme_commands(text: str) -> list[str]:
    """snakemake command lines of fenced code blocks, then of inline code spans (which may wrap)."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced and re.match(r"\s*(\.venv/bin/)?snakemake(\s|$)", line):
            found.append(line.strip())
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found += [" ".join(m.split()) for m in re.findall(r"`((?:\.venv/bin/)?snakemake\s[^`]*)`", prose)]
    return found


def _header_commands(text: str) -> list[str]:
    """snakemake command lines of a profile's leading comment block."""
    found = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"#\s+((\.venv/bin/)?snakemake\s.*)$", line)
        if m:
            found.append(m.group(1).strip())
    return found


def documented() -> list[tuple[str, str]]:
    """``(where, command)`` of every documented snakemake command."""
    out = [("README.md", c) for c in _readme_commands((REPO / "README.md").read_text())]
    for name in PROFILES:
        path = REPO / "config" / "datasets" / f"{name}.yaml"
        out += [(f"config/datasets/{name}.yaml", c) for c in _header_commands(path.read_text())]
    return out


def argv_of(command: str) -> list[list[str]]:
    """The argument lists of a documented command: comments, pipes and redirections cut off,
    ``<name>`` expanded to every profile, ``--cores N`` to 1."""
    tokens = shlex.split(command, comments=True)
    for stop in ("|", ">", "&&", ";"):
        if stop in tokens:
            tokens = tokens[:tokens.index(stop)]
    tokens = ["snakemake" if t == ".venv/bin/snakemake" else t for t in tokens]
    assert tokens[0] == "snakemake", command
    tokens = ["1" if t == "N" and prev in ("--cores", "-c") else t for prev, t in zip([""] + tokens, tokens)]
    if any("<name>" in t for t in tokens):
        return [[t.replace("<name>", name) for t in tokens] for name in PROFILES]
    return [tokens]


def _options(argv: list[str]) -> dict[str, str | None]:
    """``{option: value or None}`` of an argument list (``--configfile`` keeps its first value)."""
    out = {}
    for i, t in enumerate(argv):
        if t.startswith("-"):
            out[t] = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("-") else None
    return out


COMMANDS = [(where, command, argv) for where, command in documented() for argv in argv_of(command)]


# ----------------------------------------------------------------------------------- static checks
def test_the_documented_commands_are_found():
    """The extraction sees what the docs show: each profile's download and run commands, the README's
    commands and the BIDS-root override (else this file would test nothing)."""
    argvs = [" ".join(a) for _, _, a in COMMANDS]
    for name in PROFILES:
        assert f"snakemake --cores 8 --configfile config/datasets/{name}.yaml" in argvs
        assert any(f"download_{name}" in a.split() and "-s workflow/rules/download.smk" in a for a in argvs), name
    for readme in ("snakemake --cores 2", "snakemake -n", "snakemake --dag", "snakemake --report report.html",
                   "snakemake --cores 2 brainbench"):
        assert readme in argvs
    assert sum("--config" in a for a in argvs) >= 2  # README and the Narratives header


@pytest.mark.parametrize("where, command, argv", COMMANDS, ids=[f"{w}: {c}" for w, c, _ in COMMANDS])
def test_documented_command_is_well_formed(where, command, argv):
    """What Snakemake checks before it reads the workflow: --config entries are ``key=value`` with a
    plain identifier as key (``dataset.bids_root=...`` is rejected: "Config entry must start with a
    valid identifier"), nothing but entries after --config (it takes every argument), and --cores
    wherever jobs run locally ("cores have to be specified for local execution")."""
    if "--config" in argv:
        entries = argv[argv.index("--config") + 1:]
        assert entries, f"{where}: {command}: --config without an entry"
        for entry in entries:
            key = entry.split("=", 1)[0]
            assert "=" in entry and CONFIG_KEY.match(key), (
                f"{where}: {command}: --config entry {entry!r} is not key=value with a plain key; override a "
                "nested key with a YAML mapping: --config 'dataset={bids_root: /path}'")
    if "--configfile" in argv:
        # --configfile takes every argument up to the next option: a target after it is read as a file
        i = argv.index("--configfile") + 1
        files = argv[i:]
        files = files[:next((k for k, t in enumerate(files) if t.startswith("-")), len(files))]
        assert files and all(t.endswith((".yaml", ".yml", ".json")) for t in files), (
            f"{where}: {command}: {files} after --configfile are all read as config files; put targets first")
    options = _options(argv)
    if not NO_JOBS & set(options) and not {"--profile", "--executor", "-e"} & set(options):
        assert {"--cores", "-c", "--jobs", "-j"} & set(options), f"{where}: {command}: no --cores"


def test_every_documented_config_override_has_a_plain_key():
    """Also a bare ``--config ...`` fragment (a header line that is not a whole command) gives
    entries that Snakemake accepts: the Narratives header once said ``--config dataset.bids_root=...``."""
    texts = {"README.md": (REPO / "README.md").read_text()}
    for name in PROFILES:
        header = []
        for line in (REPO / "config" / "datasets" / f"{name}.yaml").read_text().splitlines():
            if not line.startswith("#"):
                break
            header.append(line)
        texts[f"config/datasets/{name}.yaml"] = "\n".join(header)
    found = 0
    for where, text in texts.items():
        for m in re.finditer(r"--config\s+('[^']*'|\"[^\"]*\"|[^\s`]+)", text):
            entry = shlex.split(m.group(1))[0]
            found += 1
            assert "=" in entry and CONFIG_KEY.match(entry.split("=", 1)[0]), (
                f"{where}: --config {entry!r}: Snakemake accepts only key=value with a plain key; override a "
                "nested key with a YAML mapping: --config 'dataset={bids_root: /path}'")
    assert found >= 2


# ----------------------------------------------------------------------------------- dry runs
def _workdir(tmp_path: Path) -> Path:
    """A checkout's layout: the workflow's files linked, ../shared beside it (the BrainBench test set)."""
    work = tmp_path / "work"
    work.mkdir()
    for name in ("Snakefile", "workflow", "config", "envs"):
        if (REPO / name).exists():
            (work / name).symlink_to(REPO / name)
    if (REPO.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(REPO.parent / "shared")
    return work


def _prepare(argv: list[str], work: Path) -> list[str]:
    """The fake BIDS tree the command reads (the profile's bids_root, or the root its --config names),
    and the argument list to run (``-n`` added where the command would run jobs)."""
    argv = list(argv)
    configfile = _options(argv).get("--configfile")
    if configfile and Path(configfile).stem in TREES:
        name = Path(configfile).stem
        root = yaml.safe_load((REPO / configfile).read_text())["dataset"]["bids_root"]
        if "--config" in argv:  # a documented override: its root becomes a fake tree elsewhere
            i = argv.index("--config") + 1
            key, value = argv[i].split("=", 1)
            override = yaml.safe_load(value)
            assert key == "dataset" and "bids_root" in override, argv
            root = str(work.parent / "elsewhere" / Path(override["bids_root"]).name)
            argv[i] = f"dataset={{bids_root: {root}}}"
        tree = work / root
        if not tree.exists():
            tree.mkdir(parents=True)
            TREES[name](tree)
    # --dag, --report, --unlock run no job: they are run as written (with -n, --dag would print
    # Snakemake's log into the graph that the README pipes into dot)
    dry = [] if NO_JOBS & set(argv) else ["-n"]
    return [sys.executable, "-m", *argv[:1], *dry, *argv[1:]]


def _runnable(argv: list[str]) -> list[str]:
    """``--sdm conda`` left out where conda is missing (CI): the rest of the command (profile,
    options, targets) is still run."""
    if "--sdm" in argv and shutil.which("conda") is None:
        i = argv.index("--sdm")
        return argv[:i] + argv[i + 2:]
    return list(argv)


def _run(argv: list[str], work: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=300, env=env)


def _unique(commands):
    """One run per distinct command (ignoring --cores and -n, which a dry run does not use)."""
    seen: dict[tuple, tuple[list[str], list[str]]] = {}
    for where, command, argv in commands:
        argv = _runnable(argv)
        key = tuple(t for i, t in enumerate(argv) if t not in ("-n", "--cores") and argv[i - 1] != "--cores")
        seen.setdefault(key, ([], argv))[0].append(f"{where}: {command}")
    return [(sources, argv) for sources, argv in seen.values()]


DOWNLOADS = _unique([c for c in COMMANDS if any(t.startswith("download_") for t in c[2])])
RUNS = _unique([c for c in COMMANDS if not any(t.startswith("download_") for t in c[2])])


@pytest.mark.parametrize("sources, argv", DOWNLOADS, ids=[" ".join(a) for _, a in DOWNLOADS])
def test_documented_download_command_dry_runs(tmp_path, sources, argv):
    """The download commands work before the dataset exists (no tree is built for them)."""
    out = _run([sys.executable, "-m", "snakemake", "-n", *argv[1:]], _workdir(tmp_path))
    assert out.returncode == 0, f"{sources}:\n{out.stderr[-3000:]}"
    assert re.search(r"^download_\w+\s+1$", out.stdout + out.stderr, re.M), out.stdout[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("sources, argv", RUNS, ids=[" ".join(a) for _, a in RUNS])
def test_documented_command_dry_runs(tmp_path, sources, argv):
    """Each documented workflow command plans (dry run) on the demo config or on a profile's fake tree."""
    work = _workdir(tmp_path)
    out = _run(_prepare(argv, work), work)
    text = out.stdout + out.stderr
    if "--report" in argv:
        # a report is made from a finished run: before one, the only complaint allowed is the
        # missing figures (the command line, config and workflow were all accepted)
        assert out.returncode != 0 and "marked for report but does not exist" in text, f"{sources}:\n{text[-3000:]}"
        return
    assert out.returncode == 0, f"{sources}:\n{out.stderr[-3000:]}\n{out.stdout[-1500:]}"
    if "--dag" in argv:
        assert out.stdout.lstrip().startswith("digraph"), out.stdout[:500]
    elif "--unlock" not in argv:
        assert "This was a dry-run" in text, text[-2000:]
