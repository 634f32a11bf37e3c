"""Peak memory of the rules sized from their inputs (``brainalign.resources``) against what they request.

The analysis and figure rules ask for ``base_mb + copies x input MB`` (the uncompressed bytes of the
score stores they read).  This benchmark measures ``copies`` and checks the requests: it takes a
finished demo (``make demo``: ``results/demo`` with the fMRI scores of the demo model and its random
control) and, for each replication factor K (``--factors``), builds a scratch work folder whose
``results/demo`` hard-links the demo's files except the fMRI score stores, rewritten with K copies of
every subject (ids suffixed, scores unchanged).  Each rule (``--rules``) then runs once on it through
Snakemake (``--forcerun <rule> --until <rule> --allowed-rules <rule> --benchmark-extended``); its
benchmark file gives the job's peak resident memory (``max_rss``) and the ``mem_mb`` it asked for.

Per rule and K it prints the input MB, the peak and the request; ``copies`` is the slope of the peak over
the input between the smallest and the largest K.  Last line:

    RESULT rules=... max_input_mb=... max_peak_mb=... max_peak_over_request=... max_copies=...

Target: every peak within its request (``max_peak_over_request`` < 1), and each rule's measured slope
at most the ``copies`` it is sized with.

    .venv/bin/python benchmarks/rule_memory.py [--demo .] [--factors 1 40 120] [--rules ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from brainalign.jobstats import read_benchmarks  # noqa: E402
from brainalign.resources import RULE_SIZES, input_bytes  # noqa: E402

MODELS = ("smollm2", "smollm2_random")
RULES = ("figure_layer_profiles", "analysis_hierarchy", "figure_brain_maps")
#: The inputs each rule is sized from (as in its ``input_mem_mb`` call), as paths under results/demo.
SIZED_INPUTS = {
    "figure_layer_profiles": ["scores/smollm2/fmri.zarr", "scores/smollm2_random/fmri.zarr"],
    "analysis_hierarchy": [f"scores/{m}/fmri.zarr" for m in MODELS],
    "figure_brain_maps": ["scores/smollm2/fmri.zarr"],
}


def replicate(store: Path, out: Path, factor: int) -> None:
    """Write ``store`` with every subject repeated ``factor`` times (ids ``<id>r<k>``)."""
    import xarray as xr

    from brainalign.io.store import read_zarr, write_zarr

    ds = read_zarr(store, load=True)
    if factor > 1:
        copies = [ds.assign_coords(subject=[f"{s}r{k}" for s in ds["subject"].values]) for k in range(factor)]
        ds = xr.concat(copies, dim="subject", data_vars="minimal", coords="minimal", compat="override",
                       join="override", combine_attrs="override")
    write_zarr(ds, out)


def work_folder(demo: Path, factor: int, root: Path) -> Path:
    """A work folder with the demo's results hard-linked and its fMRI score stores replicated."""
    work = root / f"x{factor}"
    shutil.copytree(demo / "results", work / "results", copy_function=os.link, symlinks=True)
    for name in ("config",):
        shutil.copytree(demo / name, work / name, symlinks=True) if (demo / name).is_dir() else None
    for model in MODELS:
        store = work / "results" / "demo" / "scores" / model / "fmri.zarr"
        shutil.rmtree(store)
        replicate(demo / "results" / "demo" / "scores" / model / "fmri.zarr", store, factor)
    shutil.rmtree(work / "results" / "demo" / "benchmarks", ignore_errors=True)
    return work


def run_rule(work: Path, rule: str) -> None:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work),
           "--cores", "1", "--forcerun", rule, "--until", rule, "--allowed-rules", rule,
           "--benchmark-extended", "--rerun-triggers", "mtime", "--quiet", "rules"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO / "workflow")))
    if out.returncode != 0:
        sys.exit(f"{rule} failed in {work}:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=REPO, help="folder holding a finished demo's results/demo")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 40, 120])
    parser.add_argument("--rules", nargs="+", default=list(RULES))
    parser.add_argument("--keep", type=Path, help="keep the work folders here")
    args = parser.parse_args(argv)
    demo = args.demo.resolve()
    missing = [m for m in MODELS if not (demo / "results" / "demo" / "scores" / m / "fmri.zarr").is_dir()]
    if missing:
        sys.exit(f"{demo}/results/demo lacks the fMRI scores of {missing}: run `make demo` first")
    root = Path(tempfile.mkdtemp(prefix="rule_memory-", dir=args.keep))
    rows = []
    try:
        for factor in args.factors:
            work = work_folder(demo, factor, root)
            for rule in args.rules:
                n_bytes = input_bytes([work / "results" / "demo" / p for p in SIZED_INPUTS[rule]])
                run_rule(work, rule)
                jobs = read_benchmarks([work / "results" / "demo"])
                job = jobs[jobs["rule"] == rule].iloc[-1]
                rows.append({"rule": rule, "factor": factor, "input_mb": n_bytes / 2**20,
                             "peak_mb": float(job["max_rss_mb"]), "request_mb": float(job["requested_mem_mb"]),
                             "wall_s": float(job["wall_s"])})
                r = rows[-1]
                print(f"{rule:24s} x{factor:<4d} input {r['input_mb']:8.1f} MB  peak {r['peak_mb']:7.0f} MB  "
                      f"request {r['request_mb']:7.0f} MB  {r['wall_s']:6.1f} s", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    import pandas as pd

    table = pd.DataFrame(rows)
    slopes = {}
    for rule, group in table.groupby("rule"):
        lo, hi = group.loc[group["factor"].idxmin()], group.loc[group["factor"].idxmax()]
        slopes[rule] = (hi["peak_mb"] - lo["peak_mb"]) / max(hi["input_mb"] - lo["input_mb"], 1e-9)
        print(f"{rule}: measured copies {slopes[rule]:.2f} (sized with {RULE_SIZES[rule].copies}), "
              f"base peak {lo['peak_mb']:.0f} MB (sized with {RULE_SIZES[rule].base_mb})")
    ratio = (table["peak_mb"] / table["request_mb"]).max()
    print(f"RESULT rules={len(slopes)} max_input_mb={table['input_mb'].max():.1f} "
          f"max_peak_mb={table['peak_mb'].max():.0f} max_peak_over_request={ratio:.2f} "
          f"max_copies={max(slopes.values()):.2f}")


if __name__ == "__main__":
    main()
