"""Fixtures shared by every test folder: output digests and the "is the pipeline runnable" gate."""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "workflow" / "configs" / "tiny_demo.yaml"
# Attribute names whose values legitimately differ between two runs of the same config.
VOLATILE_ATTR = re.compile(r"(time|date|created|host|duration|elapsed)", re.IGNORECASE)


def _canonical_attrs(attrs: dict, workdir: Path) -> str:
    kept = {k: v for k, v in attrs.items() if not VOLATILE_ATTR.search(k)}
    # paths recorded in provenance name the scratch working directory: compare them relative to it
    return json.dumps(kept, sort_keys=True, default=str).replace(str(workdir), "<workdir>")


def _digest_zarr(store: Path, workdir: Path) -> dict[str, str]:
    import zarr

    out: dict[str, str] = {}
    root = zarr.open_group(str(store), mode="r")
    out["@attrs"] = hashlib.sha256(_canonical_attrs(dict(root.attrs), workdir).encode()).hexdigest()
    for name, array in sorted(root.arrays()):
        values = np.asarray(array[...])
        h = hashlib.sha256(f"{values.dtype.str}{values.shape}".encode())
        h.update(values.tobytes() if values.dtype != object else repr(values.tolist()).encode())
        h.update(_canonical_attrs(dict(array.attrs), workdir).encode())
        out[name] = h.hexdigest()
    return out


def digest_outputs(workdir: Path, subdir: str = "results") -> dict[str, str]:
    """Content digest of every output under ``workdir/subdir``, for bit-identity comparisons.

    Zarr stores are compared array by array on their decoded values (dtype, shape and bytes) plus
    their attributes, with volatile attributes (timestamps, host names) left out and the working
    directory's path neutralised; every other file is compared byte for byte. Logs, benchmark files
    (measured times) and hidden leftovers (``.name.tmp-*`` of a killed writer) are not outputs and are
    skipped.
    """
    root = workdir / subdir
    digests: dict[str, str] = {}
    stores = sorted(p for p in root.rglob("*.zarr") if p.is_dir())
    for store in stores:
        if any(part.startswith(".") for part in store.relative_to(root).parts):
            continue
        for key, value in _digest_zarr(store, workdir).items():
            digests[f"{store.relative_to(root)}::{key}"] = value
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if (not path.is_file() or "logs" in rel.parts or "benchmarks" in rel.parts or any(p.startswith(".") for p in rel.parts)
                or any(s in path.parents for s in stores)):
            continue
        digests[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def diff_digests(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Human-readable differences between two digests (empty when bit-identical)."""
    lines = [f"only in first: {k}" for k in sorted(a.keys() - b.keys())]
    lines += [f"only in second: {k}" for k in sorted(b.keys() - a.keys())]
    lines += [f"differs: {k}" for k in sorted(a.keys() & b.keys()) if a[k] != b[k]]
    return lines


def pipeline_blocker() -> str | None:
    """Why the workflow cannot run yet (a library name a script imports is missing), or None.

    Every ``from brainalign... import name`` of workflow/scripts/*.py is resolved by importing it;
    the first one that fails is reported.
    """
    for script in sorted((REPO / "workflow" / "scripts").glob("*.py")):
        tree = ast.parse(script.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("brainalign"):
                try:
                    module = importlib.import_module(node.module)
                except Exception as err:  # noqa: BLE001 - any import failure blocks the run
                    return f"{script.name}: cannot import {node.module} ({type(err).__name__}: {err})"
                for alias in node.names:
                    if not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            return f"{script.name}: {node.module} has no '{alias.name}' yet"
    return None


@pytest.fixture(scope="session")
def runnable_pipeline() -> None:
    """Skip (locally) or fail (in CI, where ``CI`` is set) when the workflow cannot run yet."""
    reason = pipeline_blocker()
    if reason is None:
        return
    message = f"the workflow is not runnable yet: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def output_digest():
    """``digest_outputs`` as a fixture (see its docstring)."""
    return digest_outputs


@pytest.fixture(scope="session")
def digest_diff():
    """``diff_digests`` as a fixture (see its docstring)."""
    return diff_digests


def run_snakemake(workdir: Path, *args: str, config: Path = TINY, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in ``workdir`` (default config copied there, ``config`` over it)."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "config.yaml", workdir / "config" / "config.yaml")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", *args, "--configfile", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def tiny_demo(runnable_pipeline, tmp_path_factory) -> Path:
    """Working directory of one uninterrupted local run of the tiny demo (tests/workflow/configs/tiny_demo.yaml),
    the reference of the SLURM, resume and reproducibility tests."""
    workdir = tmp_path_factory.mktemp("tiny_demo")
    out = run_snakemake(workdir)
    if out.returncode != 0:
        pytest.fail(f"the tiny demo failed:\n{out.stdout[-3000:]}\n{out.stderr[-8000:]}")
    return workdir


@pytest.fixture(scope="session")
def snakemake_runner():
    """``run_snakemake`` as a fixture (see its docstring)."""
    return run_snakemake
