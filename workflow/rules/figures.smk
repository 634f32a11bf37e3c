# Foundation figures of every trained model: layer profiles per region (with the random-init control),
# fMRI brain maps of the peak brain score and of the best layer, MEG/EEG topomaps per layer, iEEG
# electrodes on a glass brain (a scalp topomap would interpolate across the head between implanted
# contacts), score time courses of MEG/EEG/iEEG channel groups.
# Each figure is flagged for `snakemake --report` with a caption under workflow/report/figures/.
#
# Needs from common.smk: RESULTS, BIDS_ROOT, BASE_MODELS, CONTROL_OF, MODALITIES, scores_path(), ANALYSES_CFG,
# FIGURES_CFG, FIG_EXT, _TRAINED_RE, _an_plan, region_inputs().

# Every foundation figure of every trained model and modality.
figure_targets = lambda wildcards=None: _an_plan.figure_targets(RESULTS, BASE_MODELS, MODALITIES, FIGURES_CFG)


rule figure_layer_profiles:
    input:
        regions=lambda wc: region_inputs(wc.modality),  # atlas / channel groups (analyses.regions)
        scores=lambda wc: scores_path(wc.model, wc.modality),
        control=lambda wc: [scores_path(CONTROL_OF[wc.model], wc.modality)] if wc.model in CONTROL_OF else [],
    output:
        profiles=report(
            _an_plan.figure_file(RESULTS, "layer_profiles", ext=FIG_EXT),
            caption="../report/figures/layer_profiles.rst",
            category="1. Foundation figures",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "layer profiles"},
        ),
        best=report(
            _an_plan.figure_file(RESULTS, "best_layers", ext=FIG_EXT),
            caption="../report/figures/best_layers.rst",
            category="1. Foundation figures",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "figure": "best layer per region"},
        ),
        table=_an_plan.figure_file(RESULTS, "layer_profiles_table"),
        best_table=_an_plan.figure_file(RESULTS, "best_layers_table"),
    wildcard_constraints:
        model=_TRAINED_RE,
    params:
        control=lambda wc: CONTROL_OF.get(wc.model),
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("figure_layer_profiles", "scores", "control"),
        runtime=input_runtime("figure_layer_profiles", "scores", "control"),
    log:
        f"{RESULTS}/logs/figures/{{model}}/{{modality}}/layer_profiles.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{model}}/{{modality}}/layer_profiles.tsv",
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/figure_layer_profiles.py"


rule figure_brain_maps:
    input:
        scores=lambda wc: scores_path(wc.model, "fmri"),
    output:
        score_maps=[
            report(
                _an_plan.figure_file(RESULTS, "brain_score_map", kind=kind, ext=FIG_EXT),
                caption="../report/figures/brain_score_map.rst",
                category="1. Foundation figures",
                subcategory="{model} · fmri",
                labels={"model": "{model}", "modality": "fmri", "figure": f"brain score map ({kind})"},
            )
            for kind in FIGURES_CFG["map_kinds"]
        ],
        depth_maps=[
            report(
                _an_plan.figure_file(RESULTS, "best_layer_map", kind=kind, ext=FIG_EXT),
                caption="../report/figures/best_layer_map.rst",
                category="1. Foundation figures",
                subcategory="{model} · fmri",
                labels={"model": "{model}", "modality": "fmri", "figure": f"best layer map ({kind})"},
            )
            for kind in FIGURES_CFG["map_kinds"]
        ],
        score_nifti=_an_plan.figure_file(RESULTS, "brain_score_nifti"),
        depth_nifti=_an_plan.figure_file(RESULTS, "depth_nifti"),
    wildcard_constraints:
        model=_TRAINED_RE,
    params:
        kinds=FIGURES_CFG["map_kinds"],
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("figure_brain_maps", "scores"),
        runtime=input_runtime("figure_brain_maps", "scores"),
    log:
        f"{RESULTS}/logs/figures/{{model}}/fmri/brain_maps.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{model}}/fmri/brain_maps.tsv",
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/figure_brain_maps.py"


rule figure_sensors:
    input:
        regions=lambda wc: region_inputs(wc.meeg),  # channel groups (analyses.regions)
        scores=lambda wc: scores_path(wc.model, wc.meeg),
    output:
        time_courses=report(
            _an_plan.figure_file(RESULTS, "time_courses", modality="{meeg}", ext=FIG_EXT),
            caption="../report/figures/time_courses.rst",
            category="1. Foundation figures",
            subcategory="{model} · {meeg}",
            labels={"model": "{model}", "modality": "{meeg}", "figure": "score time courses"},
        ),
        table=_an_plan.figure_file(RESULTS, "time_courses_table", modality="{meeg}"),
    wildcard_constraints:
        model=_TRAINED_RE,
    params:
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("figure_sensors", "scores"),
        runtime=input_runtime("figure_sensors", "scores"),
    log:
        f"{RESULTS}/logs/figures/{{model}}/{{meeg}}/sensors.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{model}}/{{meeg}}/sensors.tsv",
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/figure_sensors.py"


# Scalp sensors only: iEEG electrodes are drawn where they were implanted (figure_electrodes).
rule figure_topomaps:
    input:
        scores=lambda wc: scores_path(wc.model, wc.meeg),
    output:
        topomaps=report(
            _an_plan.figure_file(RESULTS, "topomaps", modality="{meeg}", ext=FIG_EXT),
            caption="../report/figures/topomaps.rst",
            category="1. Foundation figures",
            subcategory="{model} · {meeg}",
            labels={"model": "{model}", "modality": "{meeg}", "figure": "topomaps per layer"},
        ),
    wildcard_constraints:
        model=_TRAINED_RE,
        meeg="meg|eeg",
    params:
        analyses=ANALYSES_CFG,
        figures=FIGURES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("figure_topomaps", "scores"),
        runtime=input_runtime("figure_topomaps", "scores"),
    log:
        f"{RESULTS}/logs/figures/{{model}}/{{meeg}}/topomaps.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{model}}/{{meeg}}/topomaps.tsv",
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/figure_topomaps.py"


# iEEG: every patient's electrodes on a glass brain (MNI mm), from the electrode table of rule
# `electrodes` (encode.smk), pooled and per patient, significant electrodes marked.
rule figure_electrodes:
    input:
        table=f"{RESULTS}/scores/{{model}}/ieeg_electrodes.tsv",
    output:
        electrodes=report(
            _an_plan.figure_file(RESULTS, "electrodes", ext=FIG_EXT),
            caption="../report/figures/electrodes.rst",
            category="1. Foundation figures",
            subcategory="{model} · ieeg",
            labels={"model": "{model}", "modality": "ieeg", "figure": "electrodes on the brain"},
        ),
    wildcard_constraints:
        model=_TRAINED_RE,
    threads: 1
    resources:
        mem_mb=input_mem_mb("figure_electrodes", "table"),
        runtime=input_runtime("figure_electrodes", "table"),
    log:
        f"{RESULTS}/logs/figures/{{model}}/ieeg/electrodes.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{model}}/ieeg/electrodes.tsv",
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/figure_electrodes.py"
