# What can this dataset resolve? Signals planted from the model's own features at chosen depths and
# SNRs are added to the real preprocessed recordings and encoded like the real data
# (brainalign.analyses.sensitivity): power table, score-vs-SNR curve, the real data's SNR, figure.
# Off by default (analyses.sensitivity.enabled).
#
# Needs from common.smk: ANALYSES_CFG, FIGURES_CFG, FIG_EXT, _an_plan, region_inputs(), design_of(), RESULTS,
# BIDS_ROOT, KIND, SEED, STORIES, MODALITIES, MODELS, BASE_MODELS, scores_path(), features_of(), recordings_of(),
# runs_of(), subject_words_of().

_SENS = ANALYSES_CFG["sensitivity"]
_SENS_MODEL = _an_plan.sensitivity_model(
    ANALYSES_CFG, MODELS, config["demo"]["planting_model"] if KIND == "demo" else BASE_MODELS[0]
)

# The sensitivity outputs of every selected modality (none unless analyses.sensitivity.enabled).
sensitivity_targets = lambda wildcards=None: _an_plan.sensitivity_targets(RESULTS, _SENS_MODEL, MODALITIES, ANALYSES_CFG)


rule analysis_sensitivity:
    input:
        bids=BIDS_ROOT,  # atlas / channel groups for regions (analyses.regions: auto)
        regions=lambda wc: region_inputs(wc.modality),  # atlas / channel groups (analyses.regions)
        scores=lambda wc: scores_path(wc.model, wc.modality),  # the real scores: hosts and the real SNR
        features=lambda wc: features_of(wc.model),
        recordings=lambda wc: recordings_of(wc.modality),
        words=lambda wc: subject_words_of(wc.modality),  # per-subject onsets ([] unless per_subject)
    output:
        power=_an_plan.analysis_file(RESULTS, "sensitivity", "power"),
        curve=_an_plan.analysis_file(RESULTS, "sensitivity", "curve"),
        observed=_an_plan.analysis_file(RESULTS, "sensitivity", "observed"),
        targets=_an_plan.analysis_file(RESULTS, "sensitivity", "targets"),
        summary=_an_plan.analysis_file(RESULTS, "sensitivity", "summary"),
        figure=report(
            _an_plan.analysis_file(RESULTS, "sensitivity", "figure", ext=FIG_EXT),
            caption="../report/analyses/sensitivity.rst",
            category="7. What can this dataset resolve?",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "power curve"},
        ),
    params:
        stories=STORIES,
        runs=lambda wc: runs_of(wc.modality),
        sensitivity=_SENS,
        design=design_of,
        encoding=config["encoding"],
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
        seed=SEED,
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    log:
        f"{RESULTS}/logs/analyses/sensitivity/{{model}}/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analysis_sensitivity/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/sensitivity.yaml"
    script:
        "../scripts/analysis_sensitivity.py"
