"""The BrainBench rules end to end on a tiny model: score, LoRA, score the adapted model, figures.

Runs workflow/rules/brainbench.smk through a minimal Snakefile in a scratch directory (the rules are
self-contained), on five real test cases (one per subfield) and a random-weight GPT-2 saved as a local
model directory. Also checks a corpus that leaks a test abstract stops the LoRA rule.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from brainalign.brainbench.testing import save_tiny_model

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "brainbench" / "BrainBench_GPT-4_v0.1.csv"
RULES = REPO / "workflow" / "rules" / "brainbench.smk"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not SHARED.is_file(), reason="shared BrainBench CSV not available")]


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(workdir / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("brainbench")
    df = pd.read_csv(SHARED).groupby("journal_section").head(1)
    df.to_csv(wd / "tiny.csv", index=False)
    save_tiny_model(wd / "model", texts=list(df["original_abstract"]))
    (wd / "Snakefile").write_text(f'configfile: "config.yaml"\ninclude: "{RULES}"\n')
    corpus = sorted(str(p) for p in (REPO / "workflow" / "brainalign" / "brainbench" / "corpus").glob("*.txt"))[:2]
    config = {
        "models": {"tiny": {"source": "local", "id": str(wd / "model")}},
        "brainbench": {
            "testsets": {"tiny": "tiny.csv"}, "models": ["tiny"], "batch_size": 4,
            "bootstrap": {"n": 200, "seed": 1},
            "unseen": [str(p) for p in (REPO / "workflow" / "brainalign" / "brainbench" / "corpus" / "heldout").glob("*.txt")],
            "lora": {"enabled": True, "corpus": corpus, "rank": 2, "alpha": 4, "dropout": 0.0,
                     "max_steps": 3, "lr": 1e-3, "batch_size": 2, "max_length": 32},
        },
    }
    (wd / "config.yaml").write_text(yaml.safe_dump(config))
    out = _snakemake(wd, "brainbench")
    if out.returncode != 0:
        pytest.fail(f"snakemake brainbench failed:\n{out.stdout[-3000:]}\n{out.stderr[-6000:]}")
    return wd


def test_items_and_summary(workdir):
    for label in ("tiny", "tiny_lora"):
        run = workdir / "results" / "brainbench" / label / "tiny"
        items = pd.read_csv(run / "items.csv")
        assert list(items.columns[:6]) == ["doi", "journal_section", "ppl_original", "ppl_altered", "correct",
                                           "confidence"]
        assert len(items) == 5 and items["journal_section"].nunique() == 5
        summary = json.loads((run / "summary.json").read_text())
        assert summary["n"] == 5 and summary["accuracy"] == pytest.approx(items["correct"].mean())
        assert summary["ci_low"] <= summary["accuracy"] <= summary["ci_high"]
        assert summary["model"] == label and "memorization" in summary and "isolated" in summary
        assert summary["memorization"]["per_source"]["unseen"]["n"] >= 1
        for name in ("isolated_items.csv", "subfields.csv", "calibration.csv", "memorization.csv"):
            assert (run / name).stat().st_size > 0
        assert (summary["model_info"]["adapter"] is None) == (label == "tiny")
    base = pd.read_csv(workdir / "results/brainbench/tiny/tiny/items.csv")
    lora = pd.read_csv(workdir / "results/brainbench/tiny_lora/tiny/items.csv")
    assert not (base["ppl_original"] == lora["ppl_original"]).all()  # the adapter is applied


def test_adapter_only_and_figures(workdir):
    adapter = workdir / "results" / "brainbench" / "lora" / "tiny" / "adapter"
    assert sorted(p.name for p in adapter.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    history = pd.read_csv(workdir / "results/brainbench/lora/tiny/training_history.csv")
    assert list(history["step"]) == [1, 2, 3]
    for fig in ("accuracy_per_model", "accuracy_per_subfield", "calibration_curves", "base_vs_lora"):
        assert (workdir / "results" / "brainbench" / "figures" / f"{fig}.png").stat().st_size > 1000
    # the summary as a report table: one row per run, labelled by the plan
    table = (workdir / "results" / "brainbench" / "tables" / "summary.html").read_text()
    assert ">tiny<" in table and ">tiny_lora<" in table and ">accuracy<" in table and "2 rows" in table


def test_nothing_left_to_do_and_leaky_corpus_refused(workdir):
    dry = _snakemake(workdir, "brainbench", "-n")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
    leak = workdir / "leak.txt"
    leak.write_text("Some text.\n\n" + pd.read_csv(workdir / "tiny.csv")["original_abstract"][0][:400])
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["brainbench"]["lora"]["corpus"].append(str(leak))
    (workdir / "leaky.yaml").write_text(yaml.safe_dump(config))
    out = _snakemake(workdir, "--configfile", str(workdir / "leaky.yaml"), "--forcerun", "brainbench_lora",
                     "results/brainbench/lora/tiny/training.json")
    assert out.returncode != 0
    assert "CorpusLeakError" in out.stderr + out.stdout and "shares 13 consecutive words" in out.stderr + out.stdout
