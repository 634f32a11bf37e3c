# Making a model more brain-like (Caucheteux et al. 2023; brainalign.finetune): the model is fine-tuned
# with LoRA once per objective (next token; + long-range high-level forecast; + short-range low-level
# forecast), each fine-tuned model '<model>-ft-<objective>' is scored by the ordinary features and encode
# rules (common.smk's model_entry points it at the merged model directory), and its brain scores are
# compared with the base model's per region. Off by default (analyses.finetune.enabled).
#
# Include after figures.smk (shares ANALYSES_CFG, FIGURES_CFG, FIG_EXT, region_inputs). Needs from
# common.smk: RESULTS, BIDS_ROOT, SEED, STORIES, MODALITIES, FINETUNED, FT_BASE, model_entry(),
# model_files(), scores_path().

from brainalign.finetune import plan as _ft_plan

_FT = ANALYSES_CFG["finetune"]

# The comparison tables and figures (none unless analyses.finetune.enabled).
finetune_targets = lambda wildcards=None: _ft_plan.targets(RESULTS, _FT, [FT_BASE], MODALITIES, FIG_EXT)


rule finetune:
    input:
        words=[] if _FT["corpus"] else [f"{RESULTS}/words/{s}.tsv" for s in STORIES],
        corpus=_FT["corpus"],
        model=model_files,  # base weights given by a path (gguf, local)
    output:
        model=directory(_ft_plan.path(RESULTS, "model")),
        history=_ft_plan.path(RESULTS, "history"),
    wildcard_constraints:
        objective="next_token|long_range|short_range",
    params:
        model=lambda wc: model_entry(wc.model),
        finetune=_FT,
        seed=SEED,
        device=config["features"]["device"],
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 120 * attempt,
        gpu=1 if str(config["features"]["device"]).startswith("cuda") else 0,
    log:
        f"{RESULTS}/logs/finetune/{{model}}/{{objective}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/finetune/{{model}}/{{objective}}.tsv",
    conda:
        "../../envs/finetune.yaml"
    script:
        "../scripts/finetune.py"


rule analysis_finetune:
    input:
        regions=lambda wc: region_inputs(wc.modality),  # atlas / channel groups (analyses.regions)
        base=lambda wc: scores_path(wc.model, wc.modality),
        tuned=lambda wc: [scores_path(_ft_plan.model_name(wc.model, o), wc.modality) for o in _FT["objectives"]],
    output:
        table=_ft_plan.path(RESULTS, "table"),
        figure=report(
            _ft_plan.path(RESULTS, "figure", ext=FIG_EXT),
            caption="../report/analyses/finetune.rst",
            category="8. Making a model more brain-like",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "fine-tuned vs base"},
        ),
    params:
        objectives=list(_FT["objectives"]),
        names=lambda wc: [_ft_plan.model_name(wc.model, o) for o in _FT["objectives"]],
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("analysis_finetune", "base", "tuned"),
        runtime=input_runtime("analysis_finetune", "base", "tuned"),
    log:
        f"{RESULTS}/logs/analyses/finetune/{{model}}/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analysis_finetune/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_finetune.py"
