"""brainalign.finetune.plan: the fine-tuned models' names, directories and the comparison targets."""

from __future__ import annotations

import pytest

from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError
from brainalign.finetune import plan


def _section(**over):
    return {**with_defaults("analyses")["finetune"], **over}


def test_plan_names_models_and_paths():
    section = _section(enabled=True)
    models = plan.finetuned_models("results/demo", section, ["smollm2", "gpt2"])
    assert list(models) == ["smollm2-ft-next-token", "smollm2-ft-long-range", "smollm2-ft-short-range"]
    assert models["smollm2-ft-long-range"] == {"base": "smollm2", "objective": "long_range",
                                               "dir": "results/demo/finetune/smollm2/long_range/model"}
    assert plan.finetuned_models("results/demo", _section(), ["smollm2"]) == {}
    assert plan.base_model(_section(model="gpt2"), ["smollm2", "gpt2"]) == "gpt2"
    assert plan.base_model(_section(), ["smollm2", "gpt2"], default="gpt2") == "gpt2"
    with pytest.raises(ConfigError, match="analyses.finetune.model"):
        plan.base_model(_section(enabled=True, model="nope"), ["smollm2"])
    assert plan.base_model(_section(model="nope"), ["smollm2"]) == "nope"  # disabled: nothing planned
    targets = plan.targets("results/demo", section, ["smollm2"], ["fmri", "eeg"], "png")
    assert targets == ["results/demo/analyses/finetune/smollm2/fmri/finetune_comparison.tsv",
                       "results/demo/analyses/finetune/smollm2/fmri/finetune_delta_by_region.png"]
    assert plan.targets("results/demo", _section(), ["smollm2"], ["fmri"], "png") == []
    assert plan.path("R", "model") == "R/finetune/{model}/{objective}/model"
