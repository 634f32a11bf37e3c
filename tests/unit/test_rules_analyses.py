"""The figure and analysis rules run end to end on synthetic stores, and `--report` collects them.

A scratch Snakefile defines the few names of common.smk the rules use and includes the real
workflow/rules/figures.smk and analyses.smk; the inputs are synthetic Scores and Features stores
with planted layer profiles.  Forecast and context re-run the encoder and are covered by the
library tests (tests/unit/analyses/) and the end-to-end workflow tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from brainalign.analyses.synthetic import make_scores
from brainalign.io.store import write_zarr

REPO = Path(__file__).resolve().parents[2]
REGIONS = {"early": {"depth": 0.2, "latency": 0.1}, "late": {"depth": 0.8, "latency": 0.3},
           "noise": {"amplitude": 0.0}}
SNAKEFILE = f"""
configfile: "config.yaml"
RESULTS = "results/demo"
BIDS_ROOT = "bids"
KIND = "bids"
SEED = 0
STORIES = ["s1", "s2"]
MODALITIES = ["fmri", "eeg"]
BASE_MODELS = ["m"]
CONTROL_OF = {{"m": "m_random"}}
MODELS = ["m", "m_random"]
scores_path = lambda model, modality: f"{{RESULTS}}/scores/{{model}}/{{modality}}.zarr"
features_of = lambda model: [f"{{RESULTS}}/features/{{model}}/{{s}}.zarr" for s in STORIES]
recordings_of = lambda modality: []
runs_of = lambda modality: []
model_entry = lambda name: {{}}
model_files = lambda wildcards: []
ON_BEYOND_END = "error"
WORD_TABLES = {{}}
ENCODING = config["encoding"]
SHARDED = False  # the refitting analyses' single jobs (their shard rules: tests/workflow/test_refit_scripts.py)
job_mem_mb = job_runtime = lambda job: lambda wildcards, input, attempt: 1000 * attempt
gather_mem_mb = gather_runtime = lambda wildcards, input, attempt: 1000 * attempt
shard_runtime = lambda job: lambda wildcards, attempt: 60 * attempt

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
include: "{REPO}/workflow/rules/analyses.smk"

rule all:
    input: analysis_targets()
"""


def _features(story: str, n_words: int, seed: int, ppl: float) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    hidden = rng.standard_normal((n_words, 5, 8)).astype(np.float32)
    return xr.Dataset(
        {"hidden": (("word", "layer", "feature"), hidden), "perplexity": ((), ppl),
         "n_tokens": ("word", np.ones(n_words, dtype=int))},
        coords={"word": np.arange(n_words), "layer": np.arange(5), "relative_depth": ("layer", np.arange(5) / 4),
                "text": ("word", [f"w{i}" for i in range(n_words)]), "story": story})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("rules")
    res = root / "results" / "demo"
    for model, amp, seed in (("m", 0.3, 0), ("m_random", 0.05, 1)):
        regions = {k: {**v, "amplitude": amp if v.get("amplitude", 1) else 0.0} for k, v in REGIONS.items()}
        write_zarr(make_scores(regions, n_layers=6, n_subjects=3, seed=seed), res / "scores" / model / "fmri.zarr")
        eeg = make_scores(regions, modality="eeg", n_layers=6, n_subjects=3, targets_per_region=8, seed=seed)
        groups = pd.DataFrame({"channel": eeg["channel"].values, "group": eeg["region"].values})
        # EEG regions come from the channel-group table found under bids/derivatives/atlas (auto).
        write_zarr(eeg.drop_vars("region"), res / "scores" / model / "eeg.zarr")
        for i, story in enumerate(("s1", "s2")):
            write_zarr(_features(story, 60, 10 * seed + i, 20.0 if model == "m" else 900.0),
                       res / "features" / model / f"{story}.zarr")
    atlas_dir = root / "bids" / "derivatives" / "atlas"
    atlas_dir.mkdir(parents=True)
    groups.to_csv(atlas_dir / "montage-test_desc-demo_channelgroups.tsv", sep="\t", index=False)
    config = {"encoding": {}, "features": {}, "design": {"fmri": {}, "meeg": {}},
              "analyses": {"forecast": {"enabled": False}, "context": {"enabled": False},
                           "similarity": {"methods": ["cka", "rsa"]}},
              "figures": {"map_kinds": ["glass"]}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    (root / "Snakefile").write_text(SNAKEFILE)
    return root


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(workdir / "Snakefile"), "-d", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_rules_run_and_report(workdir):
    run = _snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-4000:]
    fig = workdir / "results" / "demo" / "figures" / "m"
    an = workdir / "results" / "demo" / "analyses"
    for path in (fig / "fmri" / "layer_profiles_by_region.png", fig / "fmri" / "brain_score_glass.png",
                 fig / "fmri" / "best_layer_glass.png", fig / "eeg" / "topomaps_by_layer.png",
                 fig / "eeg" / "time_courses_by_region.png", fig / "fmri" / "brain_score.nii.gz",
                 an / "similarity" / "cka_layer_by_layer_all_model_pairs.png",
                 an / "comparison" / "fmri" / "trained_vs_random_init_m.png",
                 an / "hierarchy" / "eeg" / "hierarchy_position_vs_best_depth.png"):
        assert path.is_file() and path.stat().st_size > (100 if path.suffix == ".gz" else 5000), path

    best = pd.read_csv(an / "hierarchy" / "fmri" / "best_layers.tsv", sep="\t")
    trained = best[best["model"] == "m"].set_index("region")
    assert trained.loc["early", "best_relative_depth"] == pytest.approx(1 / 6, abs=0.1)
    assert trained.loc["late", "best_relative_depth"] == pytest.approx(5 / 6, abs=0.1)
    corr = pd.read_csv(an / "hierarchy" / "eeg" / "hierarchy_correlation.tsv", sep="\t")
    assert (corr["position_source"] == "latency").all()
    eeg_best = pd.read_csv(an / "hierarchy" / "eeg" / "best_layers.tsv", sep="\t")
    assert set(eeg_best["region"]) == {"early", "late", "noise"}
    control = pd.read_csv(an / "comparison" / "eeg" / "trained_vs_control.tsv", sep="\t").set_index("region")
    # mean over lags of a 0.3 (vs 0.05) peak with a 80 ms wide time course over 0-0.8 s: about 0.06
    assert control.loc["early", "difference"] > 0.04 and control.loc["late", "difference"] > 0.04
    assert abs(control.loc["noise", "difference"]) < 0.02
    quality = pd.read_csv(an / "comparison" / "fmri" / "brain_vs_quality.tsv", sep="\t")
    assert set(quality["model"]) == {"m", "m_random"} and quality["perplexity"].notna().all()
    cka = pd.read_csv(an / "similarity" / "cka.tsv", sep="\t")
    self_pairs = cka[(cka["model_a"] == "m") & (cka["model_b"] == "m") & (cka["layer_a"] == cka["layer_b"])]
    assert np.allclose(self_pairs["similarity"], 1.0, atol=1e-5)

    report = workdir / "report.html"
    rep = _snakemake(workdir, "--report", str(report))
    assert rep.returncode == 0, rep.stderr[-4000:]
    html = report.read_text(errors="replace")
    assert len(html) > 100_000
    for caption in ("Layer profile per region", "Trained model vs its random-init control",
                    "Model-to-model similarity", "Sensor topomaps"):
        assert caption in html
