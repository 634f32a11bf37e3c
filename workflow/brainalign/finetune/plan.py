"""Names and paths of the fine-tuning rules (workflow/rules/finetune.smk), kept testable here."""

from __future__ import annotations

from typing import Mapping, Sequence

from brainalign.errors import ConfigError

#: Fine-tuned model names: ``<base>-ft-<objective with '-' for '_'>`` (model wildcards allow no '_').
SEPARATOR = "-ft-"

FILES = {
    "model": "{results}/finetune/{model}/{objective}/model",
    "history": "{results}/finetune/{model}/{objective}/history.tsv",
    "table": "{results}/analyses/finetune/{model}/{modality}/finetune_comparison.tsv",
    "figure": "{results}/analyses/finetune/{model}/{modality}/finetune_delta_by_region.{ext}",
}


def model_name(base: str, objective: str) -> str:
    """The fine-tuned model's name (a ``{model}`` wildcard value)."""
    return f"{base}{SEPARATOR}{objective.replace('_', '-')}"


def base_model(section: Mapping, models: Sequence[str], default: str | None = None) -> str:
    """The model fine-tuned: ``analyses.finetune.model``, else ``default``, else the first model.

    Raises
    ------
    ConfigError
        Naming ``analyses.finetune.model`` when it is not a key of ``models`` (only when the analysis
        is enabled: a disabled section plans nothing).
    """
    name = section.get("model") or default or (models[0] if models else None)
    if section.get("enabled") and name not in models:
        raise ConfigError("analyses.finetune.model", f"{name!r} is not a model",
                          expected=f"a key of 'models' ({', '.join(models)})")
    return name


def finetuned_models(results: str, section: Mapping, models: Sequence[str],
                     default: str | None = None) -> dict[str, dict]:
    """Fine-tuned model name -> ``{"base", "objective", "dir"}`` (empty unless the analysis is enabled).

    ``dir`` is the merged model directory that rule ``finetune`` writes and rule ``features`` loads
    as a ``source: local`` model.
    """
    if not section.get("enabled"):
        return {}
    base = base_model(section, models, default)
    return {model_name(base, obj): {"base": base, "objective": obj,
                                    "dir": path(results, "model", model=base, objective=obj)}
            for obj in section["objectives"]}


def path(results: str, key: str, **fields: str) -> str:
    """One output of the fine-tuning rules; fields not given stay Snakemake wildcards."""
    class _Keep(dict):
        def __missing__(self, k: str) -> str:
            return "{" + k + "}"

    return FILES[key].format_map(_Keep(results=results, **fields))


def targets(results: str, section: Mapping, models: Sequence[str], modalities: Sequence[str], ext: str,
            default: str | None = None) -> list[str]:
    """The comparison tables and figures of every selected modality (none unless enabled)."""
    if not section.get("enabled"):
        return []
    base = base_model(section, models, default)
    mods = [m for m in (section.get("modalities") or modalities) if m in modalities]
    return [path(results, key, model=base, modality=m, ext=ext) for m in mods for key in ("table", "figure")]
