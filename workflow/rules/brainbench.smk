# BrainBench (Luo et al. 2024): score every configured model on every configured test set, adapt
# models with LoRA (BrainGPT) and compare base vs adapted.  Independent of the encoding stages.
#
#   snakemake brainbench --cores 2         everything below, for config["brainbench"]
#
# Outputs (results/brainbench/):
#   {model}/{testset}/items.csv            per item: doi, journal_section, ppl_original, ppl_altered, correct, confidence, ...
#   {model}/{testset}/isolated_items.csv   the same, isolated-sentences condition
#   {model}/{testset}/summary.json         accuracy, 95% bootstrap CI, SEM, calibration, memorization, provenance
#   {model}/{testset}/subfields.csv | calibration.csv | memorization.csv
#   lora/{model}/adapter/                  adapter_model.safetensors + adapter_config.json (nothing else)
#   {model}_lora/{testset}/...             the adapted model, same files
#   figures/*.png                          accuracy per model / subfield, calibration curves, base vs LoRA
#
# Self-contained (its own defaults and helpers, prefixed _bb) so that it also runs when included on
# its own; the main config schema fills the same defaults.

import re as _bb_re

from snakemake.utils import validate as _bb_validate

# Validated (and defaults filled) at parse time against the section's own schema fragment.
_BB = dict(config.get("brainbench") or {})
_bb_validate(_BB, schema="../brainalign/brainbench/config.schema.yaml", set_default=True)
_BB_TESTSETS = dict(_BB["testsets"])
_BB_MODELS = list(_BB["models"])
_BB_LORA = dict(_BB["lora"])
_BB_LORA_ON = bool(_BB_LORA.get("enabled", False))
_BB_OUT = "results/brainbench"
_BB_FILES = {
    "item_table": "items.csv",
    "isolated_table": "isolated_items.csv",
    "subfields": "subfields.csv",
    "calibration": "calibration.csv",
    "memorization": "memorization.csv",
    "summary": "summary.json",
}
_BB_FIGURES = ["accuracy_per_model", "accuracy_per_subfield", "calibration_curves"] + (
    ["base_vs_lora"] if _BB_LORA_ON else []
)


def _bb_error(key, message):
    raise ValueError(f"config key 'brainbench.{key}': {message}")


def _bb_model(name):
    """Config entry of a BrainBench model name ('<base>_random' = random-init control of <base>)."""
    base, random_init = (name[: -len("_random")], True) if name.endswith("_random") else (name, False)
    models = config.get("models", {})
    if base not in models:
        _bb_error("models", f"'{name}' is not a key of 'models' ({', '.join(models)})")
    return {"name": base, "entry": dict(models[base]), "random_init": random_init}


for _name in _BB_MODELS:
    _bb_model(_name)
for _name in _BB_TESTSETS:
    if not _bb_re.fullmatch(r"[A-Za-z0-9-]+", _name):
        _bb_error("testsets", f"name '{_name}' must be letters, digits and '-' (it names a directory)")
if _BB_LORA_ON and not _BB_LORA.get("corpus"):
    _bb_error("lora.corpus", "LoRA is enabled but no corpus files are listed")


def _bb_alternation(names):
    return "|".join(_bb_re.escape(n) for n in names) or "$^"  # "$^" matches nothing


def _bb_paths(label, testset):
    return {key: f"{_BB_OUT}/{label}/{testset}/{fname}" for key, fname in _BB_FILES.items()}


def _bb_runs():
    """Every (label, testset, base_model, variant) the target rule produces, in a fixed order."""
    runs = []
    for model in _BB_MODELS:
        for ts in _BB_TESTSETS:
            runs.append({"model": model, "testset": ts, "base_model": model, "variant": "base"})
            if _BB_LORA_ON:
                runs.append({"model": f"{model}_lora", "testset": ts, "base_model": model, "variant": "lora"})
    return runs


def _bb_run_files(key):
    return [_bb_paths(r["model"], r["testset"])[key] for r in _bb_runs()]


_BB_SCORE_PARAMS = dict(
    device=_BB["device"],
    batch_size=_BB["batch_size"],
    bootstrap=_BB["bootstrap"],
    n_bins=_BB["calibration_bins"],
)


rule brainbench:
    input:
        _bb_run_files("summary"),
        _bb_run_files("item_table"),
        expand(f"{_BB_OUT}/figures/{{fig}}.png", fig=_BB_FIGURES) if _BB_MODELS and _BB_TESTSETS else [],


rule brainbench_score:
    input:
        testset=lambda wc: _BB_TESTSETS[wc.testset],
        unseen=_BB["unseen"],
    output:
        **_bb_paths("{bbmodel}", "{testset}"),
    wildcard_constraints:
        bbmodel=_bb_alternation(_BB_MODELS),
        testset=_bb_alternation(_BB_TESTSETS),
    params:
        model=lambda wc: _bb_model(wc.bbmodel),
        label=lambda wc: wc.bbmodel,
        testset=lambda wc: wc.testset,
        **_BB_SCORE_PARAMS,
    threads: 2
    resources:
        mem_mb=8000,
        runtime=90,
    log:
        f"{_BB_OUT}/logs/score/{{bbmodel}}/{{testset}}.log",
    conda:
        "../../envs/brainbench.yaml"
    script:
        "../scripts/brainbench_score.py"


rule brainbench_lora:
    input:
        corpus=_BB_LORA.get("corpus", []),
        testsets=list(_BB_TESTSETS.values()),
    output:
        adapter_model=f"{_BB_OUT}/lora/{{bbmodel}}/adapter/adapter_model.safetensors",
        adapter_config=f"{_BB_OUT}/lora/{{bbmodel}}/adapter/adapter_config.json",
        history=f"{_BB_OUT}/lora/{{bbmodel}}/training_history.csv",
        info=f"{_BB_OUT}/lora/{{bbmodel}}/training.json",
    wildcard_constraints:
        bbmodel=_bb_alternation(_BB_MODELS),
    params:
        model=lambda wc: _bb_model(wc.bbmodel),
        lora=_BB_LORA,
        device=_BB["device"],
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        f"{_BB_OUT}/logs/lora/{{bbmodel}}.log",
    conda:
        "../../envs/brainbench.yaml"
    script:
        "../scripts/brainbench_lora.py"


use rule brainbench_score as brainbench_score_lora with:
    input:
        testset=lambda wc: _BB_TESTSETS[wc.testset],
        unseen=_BB["unseen"],
        adapter=f"{_BB_OUT}/lora/{{bbmodel}}/adapter/adapter_model.safetensors",
    output:
        **_bb_paths("{bbmodel}_lora", "{testset}"),
    params:
        model=lambda wc: _bb_model(wc.bbmodel),
        label=lambda wc: f"{wc.bbmodel}_lora",
        testset=lambda wc: wc.testset,
        **_BB_SCORE_PARAMS,
    log:
        f"{_BB_OUT}/logs/score/{{bbmodel}}_lora/{{testset}}.log",


rule brainbench_figures:
    input:
        summary=_bb_run_files("summary"),
        subfields=_bb_run_files("subfields"),
        calibration=_bb_run_files("calibration"),
    output:
        **{
            fig: report(
                f"{_BB_OUT}/figures/{fig}.png",
                caption=f"../report/brainbench/{fig}.rst",
                category="BrainBench",
            )
            for fig in _BB_FIGURES
        },
    params:
        runs=_bb_runs(),
        lora_models=_BB_MODELS if _BB_LORA_ON else [],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{_BB_OUT}/logs/figures.log",
    conda:
        "../../envs/brainbench.yaml"
    script:
        "../scripts/brainbench_figures.py"
