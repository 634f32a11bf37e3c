"""analyses.finetune settings: objectives and forecast layers."""

from __future__ import annotations

import pytest

from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError
from brainalign.finetune.objectives import FinetuneSettings, layer_at


def _section(**over):
    return {**with_defaults("analyses")["finetune"], **over}


def test_schema_defaults_keep_finetuning_off_and_give_the_three_objectives():
    section = _section()
    assert section["enabled"] is False
    settings = FinetuneSettings.from_config(section)
    assert settings.objectives == ("next_token", "long_range", "short_range")
    long, short = settings.objective("long_range", 30), settings.objective("short_range", 30)
    assert long.distance > short.distance and long.layer > short.layer
    assert settings.objective("next_token", 30).forecasts is False
    assert long.forecasts and long.weight == settings.forecast_weight
    assert settings.lora.max_steps == section["steps"] and settings.lora.lr == section["lr"]


def test_forecast_layer_follows_relative_depth():
    assert layer_at(0.63, 30) == 19 and layer_at(0.0, 12) == 0 and layer_at(1.0, 12) == 12
    settings = FinetuneSettings.from_config(_section(long_range={"distance": 20, "relative_depth": 0.63}))
    assert settings.objective("long_range", 30).layer == 19
    assert settings.objective("long_range", 30).distance == 20


def test_unknown_objective_and_bad_distance_name_the_key():
    with pytest.raises(ConfigError, match="analyses.finetune.objectives"):
        FinetuneSettings.from_config(_section(objectives=["next_token", "telepathy"]))
    with pytest.raises(ConfigError, match="analyses.finetune.long_range.distance"):
        FinetuneSettings.from_config(_section(long_range={"distance": 0, "relative_depth": 0.5}))
    with pytest.raises(ConfigError, match="not configured"):
        FinetuneSettings.from_config(_section(objectives=["next_token"])).objective("long_range", 30)
