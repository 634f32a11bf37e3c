"""End to end: the Podcast ECoG profile on a multi-patient iEEG tree in the image of the release.

Three patients with their real metadata (sub-01 and sub-08 at 512 Hz, sub-07 at 2,048 Hz; real channel
lists with bad channels, grid, strip and depth contacts, both electrode spaces) and synthetic
recordings of the podcast's first words (tests/podcast_ieeg_tree.py): a high-gamma response driven by
SmolLM2's layer ``PLANTED_LAYER`` is planted in six grid contacts of each patient, at a lag of its
own, and sub-07 carries an electrode pop on three other contacts. The profile runs as shipped, with
only the BIDS root, the story's length and the encoded layers overridden; the test checks that the
planted electrodes are found in the right patient at the right layer and lag, per patient and
pooled, that the pop was marked before referencing, and that the electrodes are drawn on a brain.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "config" / "datasets" / "podcast_ecog.yaml"
sys.path.insert(0, str(REPO / "tests"))

from podcast_ieeg_tree import (METADATA, Patient, Planted, Transient, channel_table,  # noqa: E402
                               podcast_words, write_podcast_tree)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not METADATA.exists(), reason="shared Podcast metadata missing")]

N_WORDS = 1000  # ~5.5 min of speech: folds of ~200 words give the circular-shift test its power
PLANTED_LAYER = 16
LAYERS = [0, 4, 8, 12, 16, 20, 24, 28]
LAGS = {"01": 0.2, "07": 0.3, "08": 0.2}
POP_ONSET = 40.0


def _good_grid(subject: str) -> list[str]:
    table = channel_table(subject)
    return [n for n, t, s in zip(table["name"], table["type"], table["status"])
            if t == "ECOG" and s == "good" and n.startswith("G") and n[1:].isdigit()]


def _driver(words: pd.DataFrame) -> np.ndarray:
    """Two latents of SmolLM2's layer PLANTED_LAYER (the demo's planting: top PCs, projected, with the
    neighbouring layers' explainable part removed so the layer is identifiable)."""
    from brainalign.demo.drivers import region_latents
    from brainalign.features import extract_features
    from brainalign.models import ModelSpec, load_model

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    spec = ModelSpec.from_config("smollm2", config["models"]["smollm2"], random_init=False, seed=0, device="cpu")
    table = pd.DataFrame({"story": "podcast", "word_index": np.arange(len(words)), "word": words["word"],
                          "onset": words["start"], "offset": words["end"], "flags": ""})
    features = extract_features(load_model(spec), table, mode="story", context=512, length=1024, stride=512,
                                pooling="last", batch_size=8, layers=None)
    latents = region_latents({"podcast": features}, PLANTED_LAYER, n_latents=2, n_pcs=8, specificity=0.9,
                             specificity_distance=4, forecast_distance=0, rng=np.random.default_rng(3))
    return latents["podcast"]


@pytest.fixture(scope="module")
def podcast_run(tmp_path_factory, runnable_pipeline):
    """The profile run end to end on the tree; returns (working directory, planted contacts)."""
    work = tmp_path_factory.mktemp("podcast")
    words = podcast_words(N_WORDS)
    driver = _driver(words)
    planted, patients = {}, []
    for i, sub in enumerate(("01", "07", "08")):
        grid = _good_grid(sub)
        planted[sub] = grid[2:8]
        pops = [Transient(grid[10:13], POP_ONSET)] if sub == "07" else []
        patients.append(Patient(sub, Planted(planted[sub], driver, lag=LAGS[sub], gain=0.8), pops))
    bids = write_podcast_tree(work / "bids", patients, words, seed=11)
    override = work / "override.yaml"
    override.write_text(yaml.safe_dump({
        "dataset": {"bids_root": str(bids)},
        "encoding": {"layers": LAYERS},
    }))
    (work / "config").mkdir(exist_ok=True)
    (work / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work),
           "--cores", "2", "--benchmark-extended", "--configfile", str(PROFILE), str(override)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3000, env=env)
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-8000:]}"
    return work, planted


def _results(work: Path) -> Path:
    return work / "results" / "podcast_ecog"


def test_planted_electrodes_layer_and_lag_per_patient(podcast_run):
    """In each patient the planted contacts stand out (the highest scores, the smallest permutation
    p-values, at the floor the 1000 shifts allow or near it), at the planted layer (within one encoded
    step) and lag; no other contact is significant."""
    work, planted = podcast_run
    table = pd.read_csv(_results(work) / "scores" / "smollm2" / "ieeg_electrodes.tsv", sep="\t")
    assert set(table["subject"].astype(str).str.zfill(2)) == {"01", "07", "08"}
    table["subject"] = table["subject"].astype(str).str.zfill(2)
    for sub, chans in planted.items():
        mine = table[table["subject"] == sub]
        hit, others = mine[mine["channel"].isin(chans)], mine[~mine["channel"].isin(chans)]
        assert len(hit) == len(chans), (sub, sorted(mine["channel"]))
        assert hit["r_best"].min() > 2 * others["r_best"].max(), (hit["r_best"], others["r_best"].max())
        assert hit["p_electrode"].max() <= 0.02 < others["p_electrode"].min(), (hit["p_electrode"],
                                                                               others["p_electrode"].min())
        assert (hit["best_layer"] - PLANTED_LAYER).abs().max() <= 4, hit[["channel", "best_layer"]]
        assert (hit["best_lag"] - LAGS[sub]).abs().max() <= 0.06, hit[["channel", "best_lag"]]
        assert not others["significant"].any(), others[others["significant"]][["channel", "r_best"]]


def test_pooled_statistics(podcast_run):
    """Over the electrodes of all patients and over patients: the significant electrodes are planted
    ones, at the planted layer's relative depth (within one encoded step)."""
    work, planted = podcast_run
    stats = pd.read_csv(_results(work) / "scores" / "smollm2" / "ieeg_electrode_stats.tsv", sep="\t")
    step, depth = 4 / 30, PLANTED_LAYER / 30  # SmolLM2: 30 blocks, every 4th layer encoded
    pooled = stats[(stats["scope"] == "electrodes") & (stats["statistic"] == "n_significant")]
    assert 0 < pooled["value"].item() <= sum(len(c) for c in planted.values()), pooled
    best = stats[(stats["scope"] == "electrodes") & (stats["statistic"] == "best_relative_depth")]
    assert abs(best["value"].item() - depth) <= step, best
    over = stats[(stats["scope"] == "subjects") & (stats["statistic"] == "best_relative_depth")]
    assert over["n"].item() >= 1 and abs(over["value"].item() - depth) <= step, over


def test_regions_and_hierarchy_coordinate(podcast_run):
    """Electrodes take their Harvard-Oxford label at their MNI position and their distance from
    primary auditory cortex; the planted temporal grid contacts of sub-01 and sub-08 are temporal."""
    work, planted = podcast_run
    table = pd.read_csv(_results(work) / "scores" / "smollm2" / "ieeg_electrodes.tsv", sep="\t")
    table["subject"] = table["subject"].astype(str).str.zfill(2)
    assert (table["region"].astype(str) != "all").all()
    from brainalign.analyses.hierarchy import distance_to_a1

    xyz = table[["pos_x", "pos_y", "pos_z"]].to_numpy(float)
    np.testing.assert_allclose(table["distance_a1_mm"], distance_to_a1(xyz))
    assert (table["distance_a1_mm"] > 0).all()
    for sub in ("01", "08"):
        regions = table[(table["subject"] == sub) & table["channel"].isin(planted[sub])]["region"]
        assert regions.str.contains("Temporal").mean() >= 0.5, regions.tolist()


def test_preprocessing_memory_within_its_request(podcast_run):
    """Each preprocessing job's measured peak lies within the mem_mb it asked for (sized from its
    channels x samples: sub-07 at 2,048 Hz asks for more than the 512 Hz patients)."""
    from brainalign.jobstats import read_benchmarks

    work, _ = podcast_run
    jobs = read_benchmarks([_results(work)])
    pre = jobs[jobs["rule"] == "preprocess_meeg"]
    assert len(pre) == 3, jobs
    assert (pre["max_rss_mb"] <= pre["requested_mem_mb"]).all(), pre
    request = dict(zip(pre["job"].str.extract(r"sub-(\d+)")[0], pre["requested_mem_mb"]))
    assert request["07"] > request["01"], request


def test_transient_marked_before_referencing(podcast_run):
    from brainalign.io.store import read_zarr

    work, _ = podcast_run
    attrs = read_zarr(_results(work) / "preproc" / "ieeg" / "sub-07" / "podcast.zarr")["data"].attrs
    segments = np.asarray(attrs["artifact_segments"], float).reshape(-1, 2)
    assert any(a <= POP_ONSET + 0.1 and b >= POP_ONSET for a, b in segments), segments


def test_electrodes_drawn_on_a_brain(podcast_run):
    work, _ = podcast_run
    figures = sorted(_results(work).rglob("electrodes_on_brain.*"))
    assert figures and figures[0].stat().st_size > 20_000, figures
