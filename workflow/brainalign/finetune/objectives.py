"""The fine-tuning objectives and their settings (config section ``analyses.finetune``).

Every objective keeps the language-modelling loss (next token).  The forecast objectives add,
with weight ``forecast_weight``, a regression of a frozen copy of the base model's representation
of the word ``distance`` words ahead, at layer ``layer``, from the fine-tuned model's own hidden
state of the present word at the same layer, through a linear projection head (Caucheteux et al.
2023: a long-range, high-level forecast raised brain scores in frontoparietal regions; a
short-range, low-level one did not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from brainalign.brainbench.lora import LoraSettings
from brainalign.errors import ConfigError

#: Objective name -> the config block giving its forecast (None: next token only).
OBJECTIVES: dict[str, str | None] = {"next_token": None, "long_range": "long_range", "short_range": "short_range"}


@dataclass(frozen=True)
class Objective:
    """One training objective.

    Attributes
    ----------
    name
        ``next_token``, ``long_range`` or ``short_range``.
    distance
        Words ahead of the forecast target (0: no forecast, next token only).
    layer
        Layer (0 = embeddings, as in the feature stores) whose future representation is predicted,
        and whose present hidden state the projection head reads.
    weight
        Weight of the forecast loss added to the next-token loss.
    """

    name: str
    distance: int = 0
    layer: int = 0
    weight: float = 0.0

    @property
    def forecasts(self) -> bool:
        """Whether the objective adds a forecast loss."""
        return self.distance > 0 and self.weight > 0


def layer_at(relative_depth: float, n_layers: int) -> int:
    """The layer at ``relative_depth`` of a model with ``n_layers`` blocks (0 = embeddings)."""
    return int(round(float(relative_depth) * n_layers))


@dataclass(frozen=True)
class FinetuneSettings:
    """The ``analyses.finetune`` section, checked (schema defaults filled in by the workflow).

    Attributes
    ----------
    objectives
        Objective names, in config order.
    forecasts
        Objective name -> ``{"distance": int, "relative_depth": float}`` of its forecast.
    forecast_weight
        Weight of the forecast loss.
    lora
        LoRA and optimiser settings (:class:`brainalign.brainbench.lora.LoraSettings`).
    """

    objectives: tuple[str, ...]
    forecasts: Mapping[str, Mapping[str, float]]
    forecast_weight: float
    lora: LoraSettings

    @classmethod
    def from_config(cls, section: Mapping) -> "FinetuneSettings":
        """Build from the validated ``analyses.finetune`` mapping.

        Raises
        ------
        ConfigError
            An unknown objective, or a forecast without distance (naming the key).
        """
        objectives = tuple(section["objectives"])
        for name in objectives:
            if name not in OBJECTIVES:
                raise ConfigError("analyses.finetune.objectives", f"unknown objective {name!r}",
                                  expected=f"some of {sorted(OBJECTIVES)}")
        forecasts = {}
        for name in objectives:
            block = OBJECTIVES[name]
            if block is None:
                continue
            spec = section[block]
            if int(spec["distance"]) < 1:
                raise ConfigError(f"analyses.finetune.{block}.distance", f"got {spec['distance']!r}",
                                  expected="an integer >= 1 (words ahead)")
            if not 0 <= float(spec["relative_depth"]) <= 1:
                raise ConfigError(f"analyses.finetune.{block}.relative_depth", f"got {spec['relative_depth']!r}",
                                  expected="a number in [0, 1]")
            forecasts[name] = {"distance": int(spec["distance"]), "relative_depth": float(spec["relative_depth"])}
        lora = LoraSettings(rank=int(section["rank"]), alpha=int(section["alpha"]), dropout=float(section["dropout"]),
                            target_modules=tuple(section["target_modules"]) if section["target_modules"] else None,
                            max_steps=int(section["steps"]), lr=float(section["lr"]),
                            batch_size=int(section["batch_size"]), max_length=int(section["max_length"]),
                            warmup_steps=int(section["warmup_steps"]), seed=int(section["seed"]))
        return cls(objectives=objectives, forecasts=forecasts, forecast_weight=float(section["forecast_weight"]),
                   lora=lora)

    def objective(self, name: str, n_layers: int) -> Objective:
        """The objective ``name`` for a model with ``n_layers`` blocks (its forecast layer resolved)."""
        if name not in self.objectives:
            raise ConfigError("analyses.finetune.objectives", f"{name!r} is not configured",
                              expected=f"one of {list(self.objectives)}")
        spec = self.forecasts.get(name)
        if spec is None:
            return Objective(name)
        return Objective(name, distance=int(spec["distance"]), layer=layer_at(spec["relative_depth"], n_layers),
                         weight=self.forecast_weight)
