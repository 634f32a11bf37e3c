"""Bookkeeping of the BrainBench rules (workflow/rules/brainbench.smk): names, paths, runs.

Kept here, not in the rule file, so that the rules stay declarative and this logic is testable.
"""

from __future__ import annotations

import re

from ..config_sections import require

OUT = "results/brainbench"
# Output key -> file name inside results/brainbench/{model}/{testset}/ ("items" is reserved by Snakemake).
FILES = {
    "item_table": "items.csv",
    "isolated_table": "isolated_items.csv",
    "subfields": "subfields.csv",
    "calibration": "calibration.csv",
    "memorization": "memorization.csv",
    "summary": "summary.json",
}
# Output key -> file inside results/brainbench/lora/{model}/ (the LoRA adapter and its training record).
LORA_FILES = {
    "adapter_model": "adapter/adapter_model.safetensors",
    "adapter_config": "adapter/adapter_config.json",
    "history": "training_history.csv",
    "info": "training.json",
}
FIGURES = ("accuracy_per_model", "accuracy_per_subfield", "calibration_curves")
LORA_FIGURE = "base_vs_lora"
LORA_SUFFIX = "_lora"
_NAME = re.compile(r"[A-Za-z0-9-]+")


def model_entry(models: dict, name: str) -> dict:
    """``{"name", "entry", "random_init"}`` of a model name ('<key>_random' = random-init control).

    Raises
    ------
    ValueError
        If the name is not a key of ``config["models"]`` (naming the config key).
    """
    base, random_init = (name[: -len("_random")], True) if name.endswith("_random") else (name, False)
    if base not in models:
        raise ValueError(f"config key 'brainbench.models': '{name}' is not a key of 'models' ({', '.join(models)})")
    return {"name": base, "entry": dict(models[base]), "random_init": random_init}


def check_section(section: dict, models: dict) -> None:
    """Cross-key checks the JSON schema cannot express (model names exist, test-set names, corpus).

    ``section`` is the validated ``brainbench`` section (:func:`brainalign.config_validation.validated`);
    a missing key is a :class:`~brainalign.errors.ConfigError` naming it.
    """
    section = require(section, "brainbench")
    for name in section["models"]:
        model_entry(models, name)
    for name in section["testsets"]:
        if not _NAME.fullmatch(name):
            raise ValueError(f"config key 'brainbench.testsets': name '{name}' must be letters, digits and '-'")
    lora = section["lora"]
    if lora.get("enabled") and not lora.get("corpus"):
        raise ValueError("config key 'brainbench.lora.corpus': LoRA is enabled but no corpus files are listed")


def alternation(names) -> str:
    """Regex matching exactly one of ``names`` (a wildcard constraint); matches nothing if empty."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def paths(label: str, testset: str) -> dict[str, str]:
    """Output files of one scored run."""
    return {key: f"{OUT}/{label}/{testset}/{fname}" for key, fname in FILES.items()}


def lora_paths(model: str) -> dict[str, str]:
    """Output files of one LoRA adaptation (``model`` may be the ``{bbmodel}`` wildcard)."""
    return {key: f"{OUT}/lora/{model}/{fname}" for key, fname in LORA_FILES.items()}


def runs(models, testsets, lora: bool) -> list[dict]:
    """Every scored run: ``model`` (label), ``testset``, ``base_model``, ``variant`` (base|lora)."""
    out = []
    for model in models:
        for ts in testsets:
            out.append({"model": model, "testset": ts, "base_model": model, "variant": "base"})
            if lora:
                out.append({"model": f"{model}{LORA_SUFFIX}", "testset": ts, "base_model": model, "variant": "lora"})
    return out


def run_files(run_list: list[dict], key: str) -> list[str]:
    """One output file (``key`` of :data:`FILES`) of every run."""
    return [paths(r["model"], r["testset"])[key] for r in run_list]


def figures(lora: bool) -> list[str]:
    """Figure names the figures rule writes."""
    return list(FIGURES) + ([LORA_FIGURE] if lora else [])


def figure_path(name: str) -> str:
    """File of one figure (a name of :func:`figures`)."""
    return f"{OUT}/figures/{name}.png"


#: The summary of every run as an HTML table (rule table_brainbench, shown inline in the report).
SUMMARY_TABLE = f"{OUT}/tables/summary.html"
