# BrainBench (Luo et al. 2024): score every configured model on every configured test set, adapt
# models with LoRA (BrainGPT) and compare base vs adapted.  Independent of the encoding stages.
#
#   snakemake brainbench --cores 2         everything below, for config["brainbench"]
#
# Outputs (results/brainbench/):
#   {model}/{testset}/items.csv            per item: doi, journal_section, ppl_original, ppl_altered, correct, confidence, ...
#   {model}/{testset}/isolated_items.csv   the same, isolated-sentences condition (rows whose markup parses;
#                                          the others are flagged in items.csv, column markup_problem)
#   {model}/{testset}/summary.json         accuracy, 95% bootstrap CI, SEM, calibration, memorization, provenance
#   {model}/{testset}/subfields.csv | calibration.csv | memorization.csv
#   lora/{model}/adapter/                  adapter_model.safetensors + adapter_config.json (nothing else)
#   {model}_lora/{testset}/...             the adapted model, same files
#   figures/*.png                          accuracy per model / subfield, calibration curves, base vs LoRA
#
# Self-contained, so that it also runs on its own (snakemake -s workflow/rules/brainbench.smk): it
# validates its config section against the `brainbench` section of workflow/schemas/config.schema.yaml
# (filling defaults; a no-op after the main Snakefile's validation), and its bookkeeping (names,
# paths, runs) lives in brainalign.brainbench.plan. Globals are prefixed _bb/_BB.

from pathlib import Path as _BbPath

from brainalign.brainbench import plan as _bb
from brainalign.checkout import use_checkout as _bb_use_checkout
from brainalign.config_validation import validated as _bb_validated

# The installed library must be this checkout's; its root is exported for the env's post-deploy script.
_bb_use_checkout(_BbPath(workflow.current_basedir).parents[1])
# Validated (and defaults filled) at parse time against the main schema's `brainbench` section.
_BB = _bb_validated(config, "brainbench")
_bb.check_section(_BB, config.get("models", {}))
_BB_TESTSETS = dict(_BB["testsets"])
_BB_MODELS = list(_BB["models"])
_BB_LORA = dict(_BB["lora"])
_BB_LORA_ON = bool(_BB_LORA["enabled"])
_BB_RUNS = _bb.runs(_BB_MODELS, _BB_TESTSETS, _BB_LORA_ON)
_BB_OUT = _bb.OUT
_BB_SCORE_PARAMS = dict(
    device=_BB["device"],
    batch_size=_BB["batch_size"],
    bootstrap=_BB["bootstrap"],
    n_bins=_BB["calibration_bins"],
)


rule brainbench:
    input:
        _bb.run_files(_BB_RUNS, "summary"),
        _bb.run_files(_BB_RUNS, "item_table"),
        [_bb.figure_path(fig) for fig in _bb.figures(_BB_LORA_ON)] if _BB_MODELS and _BB_TESTSETS else [],
        [_bb.SUMMARY_TABLE] if _BB_MODELS and _BB_TESTSETS else [],  # rule table_brainbench


rule brainbench_score:
    input:
        testset=lambda wc: _BB_TESTSETS[wc.testset],
        unseen=_BB["unseen"],
    output:
        **_bb.paths("{bbmodel}", "{testset}"),
    wildcard_constraints:
        bbmodel=_bb.alternation(_BB_MODELS),
        testset=_bb.alternation(_BB_TESTSETS),
    params:
        model=lambda wc: _bb.model_entry(config["models"], wc.bbmodel),
        label=lambda wc: wc.bbmodel,
        testset=lambda wc: wc.testset,
        **_BB_SCORE_PARAMS,
    threads: _BB["threads"]
    resources:
        mem_mb=8000,
        runtime=90,
    log:
        f"{_BB_OUT}/logs/score/{{bbmodel}}/{{testset}}.log",
    benchmark:
        f"{_BB_OUT}/benchmarks/brainbench_score/{{bbmodel}}/{{testset}}.tsv",
    conda:
        "../../envs/brainbench.yaml"
    script:
        "../scripts/brainbench_score.py"


rule brainbench_lora:
    input:
        corpus=_BB_LORA["corpus"],
        testsets=list(_BB_TESTSETS.values()),
    output:
        **_bb.lora_paths("{bbmodel}"),
    wildcard_constraints:
        bbmodel=_bb.alternation(_BB_MODELS),
    params:
        model=lambda wc: _bb.model_entry(config["models"], wc.bbmodel),
        lora=_BB_LORA,
        device=_BB["device"],
    threads: _BB["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        f"{_BB_OUT}/logs/lora/{{bbmodel}}.log",
    benchmark:
        f"{_BB_OUT}/benchmarks/brainbench_lora/{{bbmodel}}.tsv",
    conda:
        "../../envs/brainbench.yaml"
    script:
        "../scripts/brainbench_lora.py"


use rule brainbench_score as brainbench_score_lora with:
    input:
        testset=lambda wc: _BB_TESTSETS[wc.testset],
        unseen=_BB["unseen"],
        adapter=_bb.lora_paths("{bbmodel}")["adapter_model"],
    output:
        **_bb.paths("{bbmodel}_lora", "{testset}"),
    params:
        model=lambda wc: _bb.model_entry(config["models"], wc.bbmodel),
        label=lambda wc: f"{wc.bbmodel}_lora",
        testset=lambda wc: wc.testset,
        **_BB_SCORE_PARAMS,
    log:
        f"{_BB_OUT}/logs/score/{{bbmodel}}_lora/{{testset}}.log",


rule brainbench_figures:
    input:
        summary=_bb.run_files(_BB_RUNS, "summary"),
        subfields=_bb.run_files(_BB_RUNS, "subfields"),
        calibration=_bb.run_files(_BB_RUNS, "calibration"),
    output:
        **{
            fig: report(
                _bb.figure_path(fig),
                caption=f"../report/brainbench/{fig}.rst",
                category="BrainBench",
            )
            for fig in _bb.figures(_BB_LORA_ON)
        },
    params:
        runs=_BB_RUNS,
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


# The summary of every run as a table the report shows inline (the script and env of the QC tables, qc.smk).
rule table_brainbench:
    input:
        _bb.run_files(_BB_RUNS, "summary"),
    output:
        html=report(
            _bb.SUMMARY_TABLE,
            caption="../report/qc/table_brainbench.rst",
            category="BrainBench",
            labels={"table": "BrainBench summary"},
        ),
    params:
        title="BrainBench: accuracy per model and test set",
        labels=[{"model": r["model"], "testset": r["testset"]} for r in _BB_RUNS],
        prefer=["n", "n_correct", "accuracy", "ci_low", "ci_high", "sem", "n_ties", "isolated.n", "isolated.accuracy",
                "isolated.ci_low", "isolated.ci_high", "accuracy_where_reference_parse_agrees", "calibration.",
                "human_experts", "llm_mean", "seconds_full_condition"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{_BB_OUT}/logs/tables/summary.log",
    conda:
        "../../envs/qc.yaml"
    script:
        "../scripts/report_table.py"
