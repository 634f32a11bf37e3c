"""iEEG gets electrodes on a glass brain, not scalp topomaps (workflow/rules/figures.smk, analyses.plan).

A scratch Snakefile defines the few names of common.smk that figures.smk uses and includes the real
rules; the electrode table is a synthetic one as rule `electrodes` writes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from brainalign.analyses import plan
from brainalign.config_sections import with_defaults
from brainalign.io.tsv import write_bids_tsv

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = f"""
configfile: "config.yaml"
RESULTS = "results/demo"
BIDS_ROOT = "bids"
KIND = "demo"
MODALITIES = ["eeg", "ieeg"]
BASE_MODELS = ["m"]
CONTROL_OF = {{}}
scores_path = lambda model, modality: f"{{RESULTS}}/scores/{{model}}/{{modality}}.zarr"

# as common.smk: the shared analyses/figures settings and helpers
from brainalign.analyses import plan as _an_plan
from brainalign.analyses.regions import region_input_files
from brainalign.config_validation import validated
from brainalign.resources import input_mem_mb, input_runtime
ANALYSES_CFG = validated(config, "analyses")
FIGURES_CFG = validated(config, "figures")
FIG_EXT = FIGURES_CFG["format"]
_TRAINED_RE = _an_plan.alternation(BASE_MODELS)
_REGION_FILES, ANALYSES_CFG["regions"] = region_input_files(BIDS_ROOT, ANALYSES_CFG["regions"], demo=KIND == "demo")
region_inputs = lambda modality: _REGION_FILES[modality]
design_of = lambda wildcards: config["design"]["fmri" if wildcards.modality == "fmri" else "meeg"]

wildcard_constraints:
    model=r"[A-Za-z0-9-]+(_random)?",
    modality=r"fmri|meg|eeg|ieeg",
    meeg=r"meg|eeg|ieeg",

include: "{REPO}/workflow/rules/figures.smk"

rule all:
    input: figure_targets()
"""


def test_plan_draws_ieeg_electrodes_and_scalp_topomaps():
    fig = with_defaults("figures")
    out = plan.figure_targets("r", ["m"], ["meg", "eeg", "ieeg"], fig)
    assert "r/figures/m/ieeg/electrodes_on_brain.png" in out
    assert "r/figures/m/ieeg/time_courses_by_region.png" in out
    assert not any("ieeg/topomaps" in p for p in out)
    for scalp in ("meg", "eeg"):
        assert f"r/figures/m/{scalp}/topomaps_by_layer.png" in out
        assert not any(f"/{scalp}/electrodes" in p for p in out)


def _electrode_table(path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [{"subject": s, "channel": f"G{c}", "target": f"{s}_G{c}", "ch_type": "ecog",
             "pos_x": -0.06, "pos_y": -0.02 + 0.004 * c, "pos_z": 0.0 if c else np.nan,
             "best_layer": c % 4, "best_relative_depth": (c % 4) / 3, "best_lag": 0.1 * (c % 3),
             "r_best": rng.normal(0.1, 0.05), "significant": c < 2,
             **{f"r_layer_{layer}": 0.1 for layer in range(4)}}
            for s in ("01", "02") for c in range(6)]
    write_bids_tsv(pd.DataFrame(rows), path)


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(workdir / "Snakefile"), "-d", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def test_ieeg_rule_draws_electrodes_not_topomaps(tmp_path):
    (tmp_path / "bids").mkdir()
    scores = tmp_path / "results" / "demo" / "scores" / "m"
    for modality in ("eeg", "ieeg"):
        (scores / f"{modality}.zarr").mkdir(parents=True)
    _electrode_table(scores / "ieeg_electrodes.tsv")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"figures": {}, "analyses": {}}))
    (tmp_path / "Snakefile").write_text(SNAKEFILE)

    dry = _snakemake(tmp_path, "-n", "--quiet", "rules")
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = dict(line.split() for line in dry.stdout.splitlines() if len(line.split()) == 2
                  and line.split()[1].isdigit())
    assert counts.get("figure_electrodes") == "1" and counts.get("figure_topomaps") == "1", dry.stdout
    assert counts.get("figure_sensors") == "2", dry.stdout  # time courses of both modalities
    asked = _snakemake(tmp_path, "-n", "results/demo/figures/m/ieeg/topomaps_by_layer.png")
    assert asked.returncode != 0 and "MissingRuleException" in asked.stderr + asked.stdout

    target = "results/demo/figures/m/ieeg/electrodes_on_brain.png"
    run = _snakemake(tmp_path, "--cores", "1", target)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / target).read_bytes()[:4] == b"\x89PNG" and (tmp_path / target).stat().st_size > 20_000
    log = (tmp_path / "results" / "demo" / "logs" / "figures" / "m" / "ieeg" / "electrodes.log").read_text()
    assert "10 of 12 electrodes drawn, 4 significant" in log
    assert "subject 01: 1 electrode(s) without a position are not drawn" in log
