# The seed analyses: (1) layer profiles and hierarchy, (2) forecast windows (and forecast depth), (3) model comparison,
# (4) model-to-model similarity, (5) context length.  Tables under results/{ds}/analyses/<analysis>/,
# figures flagged for `snakemake --report` (captions in workflow/report/analyses/).
#
# Needs from common.smk: ANALYSES_CFG, FIGURES_CFG, FIG_EXT, _an_plan, region_inputs(), design_of(),
# RESULTS, BIDS_ROOT, SEED, STORIES, MODALITIES, MODELS, BASE_MODELS, CONTROL_OF, scores_path(), features_of(),
# recordings_of(), runs_of(), subject_words_of(), model_entry().
#
# analysis_targets() lists every enabled output (the foundation figures included) for `rule all`.

from brainalign.brainbench import plan as _bb_plan

_FC = ANALYSES_CFG["forecast"]
_CMP = ANALYSES_CFG["comparison"]
_SIM = ANALYSES_CFG["similarity"]
_CTX = ANALYSES_CFG["context"]
_an_plan.check_models(ANALYSES_CFG, MODELS)
_TRAINED_WITH_CONTROL = [m for m in BASE_MODELS if m in CONTROL_OF]
_SIM_MODELS = list(_SIM["models"] or MODELS)
_BB_SET = _CMP["brainbench_testset"]
_BB_CMP_MODELS = [m for m in config["brainbench"]["models"] if m in MODELS] if _BB_SET else []

# Every enabled analysis output plus the foundation figures, for the top-level `all` rule.
analysis_targets = lambda wildcards=None: _an_plan.analysis_targets(
    RESULTS, BASE_MODELS, MODELS, MODALITIES, ANALYSES_CFG, FIGURES_CFG
)


rule analysis_hierarchy:
    input:
        regions=lambda wc: region_inputs(wc.modality),  # atlas / channel groups (analyses.regions)
        scores=lambda wc: [scores_path(m, wc.modality) for m in MODELS],
    output:
        best=_an_plan.analysis_file(RESULTS, "hierarchy", "best"),
        fraction=_an_plan.analysis_file(RESULTS, "hierarchy", "fraction"),
        correlation=_an_plan.analysis_file(RESULTS, "hierarchy", "correlation"),
        electrodes=_an_plan.analysis_file(RESULTS, "hierarchy", "electrodes"),  # iEEG: distance from A1 per electrode
        best_figure=report(
            _an_plan.analysis_file(RESULTS, "hierarchy", "best_figure", ext=FIG_EXT),
            caption="../report/analyses/hierarchy_best_depth.rst",
            category="2. Layer profiles and hierarchy",
            subcategory="{modality}",
            labels={"modality": "{modality}", "figure": "best depth per region"},
        ),
        fraction_figure=report(
            _an_plan.analysis_file(RESULTS, "hierarchy", "fraction_figure", ext=FIG_EXT),
            caption="../report/analyses/hierarchy_fraction_of_peak.rst",
            category="2. Layer profiles and hierarchy",
            subcategory="{modality}",
            labels={"modality": "{modality}", "figure": "depth reaching 95% of peak"},
        ),
        hierarchy_figure=report(
            _an_plan.analysis_file(RESULTS, "hierarchy", "hierarchy_figure", ext=FIG_EXT),
            caption="../report/analyses/hierarchy_correlation.rst",
            category="2. Layer profiles and hierarchy",
            subcategory="{modality}",
            labels={"modality": "{modality}", "figure": "hierarchy vs best depth"},
        ),
    params:
        models=MODELS,
        controls=list(CONTROL_OF.values()),
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("analysis_hierarchy", "scores"),
        runtime=input_runtime("analysis_hierarchy", "scores"),
    log:
        f"{RESULTS}/logs/analyses/hierarchy/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analyses/hierarchy/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_hierarchy.py"


rule forecast_scores:
    input:
        base=lambda wc: scores_path(wc.model, wc.modality),  # its layers: F(d) compares the same layers
        features=lambda wc: features_of(wc.model),
        recordings=lambda wc: recordings_of(wc.modality),
        words=lambda wc: subject_words_of(wc.modality),  # per-subject onsets ([] unless per_subject)
    output:
        directory(_an_plan.analysis_file(RESULTS, "forecast", "scores")),
    params:
        stories=STORIES,
        runs=lambda wc: runs_of(wc.modality),
        forecast=_FC,
        design=design_of,
        encoding=ENCODING,  # the solver settings: sharded or not, the same scores and config hash
        seed=SEED,  # circular-shift nulls (encoding.n_permutations), as the encode rule's
        on_beyond_end=ON_BEYOND_END,
        word_tables=WORD_TABLES,
    threads: 2
    resources:
        mem_mb=job_mem_mb("forecast"),  # from the runs' sizes (inputs.tsv; brainalign.encoding.sizing)
        runtime=job_runtime("forecast"),
    log:
        f"{RESULTS}/logs/analyses/forecast/{{model}}/{{modality}}_scores.log",
    benchmark:
        f"{RESULTS}/benchmarks/forecast_scores/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_forecast_scores.py"


# With encoding.max_job_memory_gb (SHARDED): forecast_scores as shard jobs (the encode plan's subject
# groups and target blocks, sized for this analysis' design: common.smk refit_plan) and one gather
# writing the same scores (brainalign.analyses.refit_shards); without it, the single job above.
if SHARDED:

    ruleorder: forecast_gather > forecast_scores

else:

    ruleorder: forecast_scores > forecast_gather


rule forecast_shard:
    input:
        base=lambda wc: scores_path(wc.model, wc.modality),  # its layers, as the single job's
        features=lambda wc: [f"{RESULTS}/features/{wc.model}/{t}.zarr" for t in runs_stories(refit_runs("forecast", wc.modality, wc.shard))],
        recordings=lambda wc: refit_recordings("forecast", wc.modality, wc.shard),
        words=lambda wc: refit_words("forecast", wc.modality, wc.shard),
    output:
        f"{RESULTS}/shards/forecast/{{model}}/{{modality}}/{{shard}}.pkl",
    wildcard_constraints:
        shard=r"g\d+-l\d+-t\d+",
    params:
        stories=lambda wc: runs_stories(refit_runs("forecast", wc.modality, wc.shard)),
        runs=lambda wc: refit_runs("forecast", wc.modality, wc.shard),
        shard=lambda wc: refit_shard_of("forecast", wc.modality, wc.shard),
        forecast=_FC,
        design=design_of,
        encoding=ENCODING,
        seed=SEED,
        on_beyond_end=ON_BEYOND_END,
        word_tables=WORD_TABLES,
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: refit_shard_of("forecast", wc.modality, wc.shard)["mem_mb"] * attempt,
        runtime=shard_runtime("forecast"),
    log:
        f"{RESULTS}/logs/forecast_shard/{{model}}/{{modality}}/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/forecast_shard/{{model}}/{{modality}}/{{shard}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_forecast_shard.py"


rule forecast_gather:
    input:
        shards=lambda wc: refit_shard_files("forecast", wc.model, wc.modality),
    output:
        directory(_an_plan.analysis_file(RESULTS, "forecast", "scores")),
    params:
        subjects=lambda wc: subjects_of(wc.modality),
        forecast=_FC,
        design=design_of,
        encoding=ENCODING,
    threads: 1
    resources:
        mem_mb=gather_mem_mb,
        runtime=gather_runtime,
    log:
        f"{RESULTS}/logs/analyses/forecast/{{model}}/{{modality}}_scores_gather.log",
    benchmark:
        f"{RESULTS}/benchmarks/forecast_gather/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_forecast_gather.py"


rule analysis_forecast:
    input:
        regions=lambda wc: region_inputs(wc.modality),  # atlas / channel groups (analyses.regions)
        base=lambda wc: scores_path(wc.model, wc.modality),
        forecast=_an_plan.analysis_file(RESULTS, "forecast", "scores"),
    output:
        table=_an_plan.analysis_file(RESULTS, "forecast", "table"),
        best=_an_plan.analysis_file(RESULTS, "forecast", "best"),
        figure=report(
            _an_plan.analysis_file(RESULTS, "forecast", "figure", ext=FIG_EXT),
            caption="../report/analyses/forecast_gain.rst",
            category="3. Forecast windows",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "F(d) per region"},
        ),
        map=report(
            _an_plan.analysis_file(RESULTS, "forecast", "map", ext=FIG_EXT),
            caption="../report/analyses/forecast_map.rst",
            category="3. Forecast windows",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "map of d*"},
        ),
        bands=_an_plan.analysis_file(RESULTS, "forecast", "bands"),
        bands_figure=report(
            _an_plan.analysis_file(RESULTS, "forecast", "bands_figure", ext=FIG_EXT),
            caption="../report/analyses/forecast_bands.rst",
            category="3. Forecast windows",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "F(d) per band"},
        ),
    params:
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("analysis_forecast", "base", "forecast"),
        runtime=input_runtime("analysis_forecast", "base", "forecast"),
    log:
        f"{RESULTS}/logs/analyses/forecast/{{model}}/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analyses/forecast/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_forecast.py"


rule forecast_depth_scores:
    input:
        base=lambda wc: scores_path(wc.model, wc.modality),  # its layers: F(d, k) compares the same present layers
        features=lambda wc: features_of(wc.model),
        recordings=lambda wc: recordings_of(wc.modality),
        words=lambda wc: subject_words_of(wc.modality),  # per-subject onsets ([] unless per_subject)
    output:
        directory(_an_plan.analysis_file(RESULTS, "forecast_depth", "scores")),
    params:
        stories=STORIES,
        runs=lambda wc: runs_of(wc.modality),
        forecast=_FC,
        design=design_of,
        encoding=ENCODING,  # the solver settings: sharded or not, the same scores and config hash
        seed=SEED,  # circular-shift nulls (encoding.n_permutations), as the encode rule's
        on_beyond_end=ON_BEYOND_END,
        word_tables=WORD_TABLES,
    threads: 2
    resources:
        mem_mb=job_mem_mb("forecast_depth"),  # from the runs' sizes (inputs.tsv; brainalign.encoding.sizing)
        runtime=job_runtime("forecast_depth"),
    log:
        f"{RESULTS}/logs/analyses/forecast_depth/{{model}}/{{modality}}_scores.log",
    benchmark:
        f"{RESULTS}/benchmarks/forecast_depth_scores/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_forecast_depth_scores.py"


# With encoding.max_job_memory_gb (SHARDED): forecast_depth_scores as shard jobs (the encode plan's subject
# groups and target blocks, sized for this analysis' design: common.smk refit_plan) and one gather
# writing the same scores (brainalign.analyses.refit_shards); without it, the single job above.
if SHARDED:

    ruleorder: forecast_depth_gather > forecast_depth_scores

else:

    ruleorder: forecast_depth_scores > forecast_depth_gather


rule forecast_depth_shard:
    input:
        base=lambda wc: scores_path(wc.model, wc.modality),  # its layers, as the single job's
        features=lambda wc: [f"{RESULTS}/features/{wc.model}/{t}.zarr" for t in runs_stories(refit_runs("forecast_depth", wc.modality, wc.shard))],
        recordings=lambda wc: refit_recordings("forecast_depth", wc.modality, wc.shard),
        words=lambda wc: refit_words("forecast_depth", wc.modality, wc.shard),
    output:
        f"{RESULTS}/shards/forecast_depth/{{model}}/{{modality}}/{{shard}}.pkl",
    wildcard_constraints:
        shard=r"g\d+-l\d+-t\d+",
    params:
        stories=lambda wc: runs_stories(refit_runs("forecast_depth", wc.modality, wc.shard)),
        runs=lambda wc: refit_runs("forecast_depth", wc.modality, wc.shard),
        shard=lambda wc: refit_shard_of("forecast_depth", wc.modality, wc.shard),
        forecast=_FC,
        design=design_of,
        encoding=ENCODING,
        seed=SEED,
        on_beyond_end=ON_BEYOND_END,
        word_tables=WORD_TABLES,
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: refit_shard_of("forecast_depth", wc.modality, wc.shard)["mem_mb"] * attempt,
        runtime=shard_runtime("forecast_depth"),
    log:
        f"{RESULTS}/logs/forecast_depth_shard/{{model}}/{{modality}}/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/forecast_depth_shard/{{model}}/{{modality}}/{{shard}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_forecast_depth_shard.py"


rule forecast_depth_gather:
    input:
        shards=lambda wc: refit_shard_files("forecast_depth", wc.model, wc.modality),
    output:
        directory(_an_plan.analysis_file(RESULTS, "forecast_depth", "scores")),
    params:
        subjects=lambda wc: subjects_of(wc.modality),
        forecast=_FC,
        design=design_of,
        encoding=ENCODING,
    threads: 1
    resources:
        mem_mb=gather_mem_mb,
        runtime=gather_runtime,
    log:
        f"{RESULTS}/logs/analyses/forecast_depth/{{model}}/{{modality}}_scores_gather.log",
    benchmark:
        f"{RESULTS}/benchmarks/forecast_depth_gather/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_forecast_depth_gather.py"


rule analysis_forecast_depth:
    input:
        regions=lambda wc: region_inputs(wc.modality),  # atlas / channel groups (analyses.regions)
        base=lambda wc: scores_path(wc.model, wc.modality),
        scores=_an_plan.analysis_file(RESULTS, "forecast_depth", "scores"),
    output:
        table=_an_plan.analysis_file(RESULTS, "forecast_depth", "table"),
        best=_an_plan.analysis_file(RESULTS, "forecast_depth", "best"),
        correlation=_an_plan.analysis_file(RESULTS, "forecast_depth", "correlation"),
        figure=report(
            _an_plan.analysis_file(RESULTS, "forecast_depth", "figure", ext=FIG_EXT),
            caption="../report/analyses/forecast_depth.rst",
            category="3. Forecast windows",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "F(d, k) per region"},
        ),
    params:
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("analysis_forecast_depth", "base", "scores"),
        runtime=input_runtime("analysis_forecast_depth", "base", "scores"),
    log:
        f"{RESULTS}/logs/analyses/forecast_depth/{{model}}/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analyses/forecast_depth/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_forecast_depth.py"


rule analysis_comparison:
    input:
        regions=lambda wc: region_inputs(wc.modality),  # atlas / channel groups (analyses.regions)
        scores=lambda wc: [scores_path(m, wc.modality) for m in MODELS],
        features=[path for m in MODELS for path in features_of(m)],  # model-major, story-minor
        brainbench=[_bb_plan.paths(m, _BB_SET)["summary"] for m in _BB_CMP_MODELS],
    output:
        table=_an_plan.analysis_file(RESULTS, "comparison", "table"),
        correlations=_an_plan.analysis_file(RESULTS, "comparison", "correlations"),
        control=_an_plan.analysis_file(RESULTS, "comparison", "control"),
        perplexity_figure=report(
            _an_plan.analysis_file(RESULTS, "comparison", "perplexity_figure", ext=FIG_EXT),
            caption="../report/analyses/comparison_quality.rst",
            category="4. Model comparison",
            subcategory="{modality}",
            labels={"modality": "{modality}", "figure": "brain score vs perplexity"},
        ),
        brainbench_figure=report(
            _an_plan.analysis_file(RESULTS, "comparison", "brainbench_figure", ext=FIG_EXT),
            caption="../report/analyses/comparison_quality.rst",
            category="4. Model comparison",
            subcategory="{modality}",
            labels={"modality": "{modality}", "figure": "brain score vs BrainBench"},
        ),
        control_figures=[
            report(
                _an_plan.analysis_file(RESULTS, "comparison", "control_figure", trained=m, ext=FIG_EXT),
                caption="../report/analyses/comparison_control.rst",
                category="4. Model comparison",
                subcategory="{modality}",
                labels={"modality": "{modality}", "figure": f"{m} vs random-init control"},
            )
            for m in _TRAINED_WITH_CONTROL
        ],
    params:
        models=MODELS,
        stories=STORIES,
        trained=_TRAINED_WITH_CONTROL,
        controls=[CONTROL_OF[m] for m in _TRAINED_WITH_CONTROL],
        brainbench_models=_BB_CMP_MODELS,
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("analysis_comparison", "scores", "features"),
        runtime=input_runtime("analysis_comparison", "scores", "features"),
    log:
        f"{RESULTS}/logs/analyses/comparison/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analyses/comparison/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_comparison.py"


rule analysis_similarity:
    input:
        features=[path for m in _SIM_MODELS for path in features_of(m)],  # model-major, story-minor
    output:
        tables=expand(_an_plan.analysis_file(RESULTS, "similarity", "table"), method=_SIM["methods"]),
        figures=[
            report(
                _an_plan.analysis_file(RESULTS, "similarity", "figure", method=method, ext=FIG_EXT),
                caption="../report/analyses/similarity.rst",
                category="5. Model-to-model similarity",
                labels={"method": method, "figure": "layer-by-layer similarity"},
            )
            for method in _SIM["methods"]
        ],
    params:
        models=_SIM_MODELS,
        stories=STORIES,
        similarity=_SIM,
        seed=SEED,
    threads: 2
    resources:
        mem_mb=lambda wc: 2000 + int(len(_SIM_MODELS) * 40 * (_SIM["max_words"] or 3000) ** 2 * 4 / 1e6),
        runtime=30,
    log:
        f"{RESULTS}/logs/analyses/similarity.log",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_similarity.py"


rule context_features:
    input:
        words=expand(f"{RESULTS}/words/{{story}}.tsv", story=STORIES),
        model=model_files,  # weights given by a path (gguf, local)
    output:
        [directory(_an_plan.analysis_file(RESULTS, "context", "features", story=story)) for story in STORIES],
    wildcard_constraints:
        context=r"\d+",
    params:
        model=lambda wc: model_entry(wc.model),
        features=config["features"],
        layers=_CTX["layers"],
        n_layers=_CTX["n_layers"],
        stories=STORIES,
        seed=SEED,
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
    log:
        f"{RESULTS}/logs/analyses/context/{{model}}/features_ctx{{context}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/context_features/{{model}}/ctx{{context}}.tsv",
    conda:
        "../../envs/features.yaml"
    script:
        "../scripts/analysis_context_features.py"


rule context_scores:
    input:
        features=[_an_plan.analysis_file(RESULTS, "context", "features", story=story) for story in STORIES],
        recordings=lambda wc: recordings_of(wc.modality),
        words=lambda wc: subject_words_of(wc.modality),  # per-subject onsets ([] unless per_subject)
    output:
        directory(_an_plan.analysis_file(RESULTS, "context", "scores")),
    wildcard_constraints:
        context=r"\d+",
    params:
        stories=STORIES,
        runs=lambda wc: runs_of(wc.modality),
        design=design_of,
        encoding=ENCODING,  # the solver settings: sharded or not, the same scores and config hash
        seed=SEED,  # circular-shift nulls (encoding.n_permutations), as the encode rule's
        on_beyond_end=ON_BEYOND_END,
        word_tables=WORD_TABLES,
    threads: 2
    resources:
        mem_mb=job_mem_mb("context"),  # from the runs' sizes (inputs.tsv; brainalign.encoding.sizing)
        runtime=job_runtime("context"),
    log:
        f"{RESULTS}/logs/analyses/context/{{model}}/{{modality}}_scores_ctx{{context}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/context_scores/{{model}}/{{modality}}_ctx{{context}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_context_scores.py"


# With encoding.max_job_memory_gb (SHARDED): context_scores as shard jobs (the encode plan's subject
# groups and target blocks, sized for this analysis' design: common.smk refit_plan) and one gather
# writing the same scores (brainalign.analyses.refit_shards); without it, the single job above.
if SHARDED:

    ruleorder: context_gather > context_scores

else:

    ruleorder: context_scores > context_gather


rule context_shard:
    input:
        features=[_an_plan.analysis_file(RESULTS, "context", "features", story=story) for story in STORIES],
        recordings=lambda wc: refit_recordings("context", wc.modality, wc.shard),
        words=lambda wc: refit_words("context", wc.modality, wc.shard),
    output:
        f"{RESULTS}/shards/context/{{model}}/{{modality}}_ctx{{context}}/{{shard}}.pkl",
    wildcard_constraints:
        shard=r"g\d+-l\d+-t\d+",
        context=r"\d+",
    params:
        stories=STORIES,
        runs=lambda wc: refit_runs("context", wc.modality, wc.shard),
        shard=lambda wc: refit_shard_of("context", wc.modality, wc.shard),
        design=design_of,
        encoding=ENCODING,
        seed=SEED,
        on_beyond_end=ON_BEYOND_END,
        word_tables=WORD_TABLES,
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: refit_shard_of("context", wc.modality, wc.shard)["mem_mb"] * attempt,
        runtime=shard_runtime("context"),
    log:
        f"{RESULTS}/logs/context_shard/{{model}}/{{modality}}_ctx{{context}}/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/context_shard/{{model}}/{{modality}}_ctx{{context}}/{{shard}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_context_shard.py"


rule context_gather:
    input:
        shards=lambda wc: refit_shard_files("context", wc.model, wc.modality, wc.context),
    output:
        directory(_an_plan.analysis_file(RESULTS, "context", "scores")),
    wildcard_constraints:
        context=r"\d+",
    params:
        subjects=lambda wc: subjects_of(wc.modality),
        design=design_of,
        encoding=ENCODING,
    threads: 1
    resources:
        mem_mb=gather_mem_mb,
        runtime=gather_runtime,
    log:
        f"{RESULTS}/logs/analyses/context/{{model}}/{{modality}}_scores_ctx{{context}}_gather.log",
    benchmark:
        f"{RESULTS}/benchmarks/context_gather/{{model}}/{{modality}}_ctx{{context}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_context_gather.py"


rule analysis_context:
    input:
        regions=lambda wc: region_inputs(wc.modality),  # atlas / channel groups (analyses.regions)
        scores=[_an_plan.analysis_file(RESULTS, "context", "scores", context=length) for length in _CTX["lengths"]],
    output:
        table=_an_plan.analysis_file(RESULTS, "context", "table"),
        gain=_an_plan.analysis_file(RESULTS, "context", "gain"),
        figure=report(
            _an_plan.analysis_file(RESULTS, "context", "figure", ext=FIG_EXT),
            caption="../report/analyses/context.rst",
            category="6. Context length",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "score vs context"},
        ),
    params:
        lengths=_CTX["lengths"],
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("analysis_context", "scores"),
        runtime=input_runtime("analysis_context", "scores"),
    log:
        f"{RESULTS}/logs/analyses/context/{{model}}/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analyses/context/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/analyses.yaml"
    script:
        "../scripts/analysis_context.py"
