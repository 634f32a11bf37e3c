# Quality control in the report: per-run QC figures (fMRI: tSNR, motion and confounds, carpet; MEG/EEG/iEEG:
# power spectra before/after, bad channels and segments, ICA/SSP removed), a QC summary table per modality,
# and the result tables (validation, best layer per region, d*, BrainBench summary) as HTML tables the
# report shows inline (Snakemake's report offers a .tsv only as a download).
#
# The QC jobs read the files their run's preprocessing job read (raw_inputs, through the same input check)
# and the preprocessing store it wrote: every read file is an input.
# The BrainBench summary table (rule table_brainbench) lives in brainbench.smk, which runs on its own.
# Needs from common.smk: RESULTS, MODALITIES, runs_of, raw_inputs, after_check, FIG_EXT, _TRAINED_RE, _an_plan;
# qc_targets() calls analysis_targets() (analyses.smk) when `rule all` is built, after every include.

from brainalign.qc import plan as _qc_plan

QC = f"{RESULTS}/qc"
TABLES = f"{RESULTS}/tables"

# Every run's QC figures and summary, each modality's QC table, and the result tables of the default target.
qc_targets = lambda wildcards=None: _qc_plan.qc_targets(RESULTS, {m: runs_of(m) for m in MODALITIES}, FIG_EXT) + list(
    _qc_plan.result_tables(RESULTS, KIND == "demo", analysis_targets(), FIG_EXT)
)


rule qc_fmri:
    input:
        run=after_check(raw_inputs),  # the BOLD run, its confounds and sidecars (what preprocess_fmri read)
        preproc=f"{RESULTS}/preproc/fmri/sub-{{subject}}/{{story}}.zarr",
    output:
        **{
            name: report(
                f"{QC}/fmri/sub-{{subject}}/{{story}}_{name}.{FIG_EXT}",
                caption=f"../report/qc/fmri_{name}.rst",
                category="0. Quality control",
                subcategory="fmri · sub-{subject}",
                labels={"modality": "fmri", "subject": "{subject}", "story": "{story}", "figure": label},
            )
            for name, label in _qc_plan.FMRI_FIGURES.items()
        },
        summary=f"{QC}/fmri/sub-{{subject}}/{{story}}_qc.tsv",
    params:
        bids_root=BIDS_ROOT,
        derivatives_root=config["dataset"].get("derivatives_root"),
        profile=config["dataset"]["profile"],
        options=config["preprocess"]["fmri"],
        run=lambda wc: run_info("fmri", wc.subject, wc.story),
        story_run=lambda wc: STORY_RUNS.get(wc.story),
    threads: 1
    resources:
        mem_mb=input_mem_mb("qc_fmri", "preproc"),
        runtime=input_runtime("qc_fmri", "preproc"),
    log:
        f"{RESULTS}/logs/qc/fmri/sub-{{subject}}/{{story}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/qc/fmri/sub-{{subject}}/{{story}}.tsv",
    conda:
        "../../envs/qc.yaml"
    script:
        "../scripts/qc_fmri.py"


rule qc_meeg:
    input:
        run=after_check(raw_inputs),  # the recording and its sidecars (what preprocess_meeg read)
        preproc=f"{RESULTS}/preproc/{{meeg}}/sub-{{subject}}/{{story}}.zarr",
    output:
        psd=report(
            f"{QC}/{{meeg}}/sub-{{subject}}/{{story}}_psd.{FIG_EXT}",
            caption="../report/qc/meeg_psd.rst",
            category="0. Quality control",
            subcategory="{meeg} · sub-{subject}",
            labels={"modality": "{meeg}", "subject": "{subject}", "story": "{story}", "figure": _qc_plan.MEEG_FIGURES["psd"]},
        ),
        bads=report(
            f"{QC}/{{meeg}}/sub-{{subject}}/{{story}}_bads.{FIG_EXT}",
            caption="../report/qc/meeg_bads.rst",
            category="0. Quality control",
            subcategory="{meeg} · sub-{subject}",
            labels={"modality": "{meeg}", "subject": "{subject}", "story": "{story}", "figure": _qc_plan.MEEG_FIGURES["bads"]},
        ),
        summary=f"{QC}/{{meeg}}/sub-{{subject}}/{{story}}_qc.tsv",
    params:
        profile=config["dataset"]["profile"],
        bids_root=BIDS_ROOT,
        options=lambda wc: config["preprocess"]["ieeg" if wc.meeg == "ieeg" else "meeg"],
        run=lambda wc: run_info(wc.meeg, wc.subject, wc.story),
    threads: 1
    resources:
        mem_mb=input_mem_mb("qc_meeg", "preproc"),
        runtime=input_runtime("qc_meeg", "preproc"),
    log:
        f"{RESULTS}/logs/qc/{{meeg}}/sub-{{subject}}/{{story}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/qc/{{meeg}}/sub-{{subject}}/{{story}}.tsv",
    conda:
        "../../envs/qc.yaml"
    script:
        "../scripts/qc_meeg.py"


rule qc_summary:
    input:
        lambda wc: [f"{QC}/{wc.modality}/sub-{s}/{t}_qc.tsv" for s, t in runs_of(wc.modality)],
    output:
        html=report(
            f"{QC}/{{modality}}_summary.html",
            caption="../report/qc/summary.rst",
            category="0. Quality control",
            subcategory="{modality} · all runs",
            labels={"modality": "{modality}", "table": "QC summary of every run"},
        ),
        tsv=f"{QC}/{{modality}}_summary.tsv",
    params:
        title=lambda wc: f"QC of every {wc.modality} run",
        labels=lambda wc: [{"subject": s, "story": t} for s, t in runs_of(wc.modality)],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{RESULTS}/logs/qc/{{modality}}_summary.log",
    conda:
        "../../envs/qc.yaml"
    script:
        "../scripts/report_table.py"


rule table_validation:
    input:
        f"{RESULTS}/validation.tsv",
    output:
        html=report(
            f"{TABLES}/validation.html",
            caption="../report/qc/table_validation.rst",
            category="8. Result tables",
            labels={"table": "demo validation"},
        ),
    params:
        title="Demo validation: recovered vs planted",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{RESULTS}/logs/tables/validation.log",
    conda:
        "../../envs/qc.yaml"
    script:
        "../scripts/report_table.py"


rule table_best_layers:
    input:
        _an_plan.figure_file(RESULTS, "best_layers_table"),
    output:
        html=report(
            f"{TABLES}/best_layers/{{model}}_{{modality}}.html",
            caption="../report/qc/table_best_layers.rst",
            category="8. Result tables",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "table": "best layer per region"},
        ),
    wildcard_constraints:
        model=_TRAINED_RE,
    params:
        title=lambda wc: f"Best layer per region: {wc.model}, {wc.modality}",
    threads: 1
    resources:
        mem_mb=input_mem_mb("table_best_layers"),
        runtime=input_runtime("table_best_layers"),
    log:
        f"{RESULTS}/logs/tables/best_layers/{{model}}_{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/tables/best_layers/{{model}}_{{modality}}.tsv",
    conda:
        "../../envs/qc.yaml"
    script:
        "../scripts/report_table.py"


rule table_best_distance:
    input:
        _an_plan.analysis_file(RESULTS, "forecast", "best"),
    output:
        html=report(
            f"{TABLES}/best_distance/{{model}}_{{modality}}.html",
            caption="../report/qc/table_best_distance.rst",
            category="8. Result tables",
            subcategory="{model} · {modality}",
            labels={"model": "{model}", "modality": "{modality}", "table": "d* per region"},
        ),
    wildcard_constraints:
        model=_TRAINED_RE,
    params:
        title=lambda wc: f"Best forecast distance d* per region: {wc.model}, {wc.modality}",
    threads: 1
    resources:
        mem_mb=input_mem_mb("table_best_distance"),
        runtime=input_runtime("table_best_distance"),
    log:
        f"{RESULTS}/logs/tables/best_distance/{{model}}_{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/tables/best_distance/{{model}}_{{modality}}.tsv",
    conda:
        "../../envs/qc.yaml"
    script:
        "../scripts/report_table.py"

