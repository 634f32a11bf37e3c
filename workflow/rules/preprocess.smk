# Preprocessing of each subject's run of each story.


rule preprocess_fmri:
    input:
        after_check(raw_inputs),
        story_run_inputs,
    output:
        directory(f"{RESULTS}/preproc/fmri/sub-{{subject}}/{{story}}.zarr"),
    params:
        kind=KIND,
        bids_root=BIDS_ROOT,
        derivatives_root=config["dataset"].get("derivatives_root"),
        profile=config["dataset"]["profile"],
        options=config["preprocess"]["fmri"],
        story_run=lambda wc: STORY_RUNS.get(wc.story),
        words=lambda wc: story_run_inputs(wc)[0] if wc.story in STORY_RUNS else None,
        run=lambda wc: run_info("fmri", wc.subject, wc.story),  # task, session, run label, condition
        stimulus=lambda wc: stimulus_spec_of(wc.story),  # dataset.stimulus_onset (None: demo)
    threads: 1
    resources:
        mem_mb=preprocess_mem_mb,  # from the run's size (common.smk, brainalign.preprocess.resources)
        runtime=preprocess_runtime,
    log:
        f"{RESULTS}/logs/preproc/fmri/sub-{{subject}}/{{story}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/preprocess_fmri/sub-{{subject}}/{{story}}.tsv",
    conda:
        "../../envs/preprocess.yaml"
    script:
        "../scripts/preprocess_fmri.py"


rule preprocess_meeg:
    input:
        after_check(raw_inputs),
    output:
        directory(f"{RESULTS}/preproc/{{meeg}}/sub-{{subject}}/{{story}}.zarr"),
    params:
        kind=KIND,
        bids_root=BIDS_ROOT,
        profile=config["dataset"]["profile"],
        options=lambda wc: config["preprocess"]["ieeg" if wc.meeg == "ieeg" else "meeg"],
        run=lambda wc: run_info(wc.meeg, wc.subject, wc.story),  # task, session, run label, condition
    threads: 1
    resources:
        mem_mb=preprocess_mem_mb,  # from the run's size (common.smk, brainalign.preprocess.resources)
        runtime=preprocess_runtime,
    log:
        f"{RESULTS}/logs/preproc/{{meeg}}/sub-{{subject}}/{{story}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/preprocess_meeg/{{meeg}}/sub-{{subject}}/{{story}}.tsv",
    conda:
        "../../envs/preprocess.yaml"
    script:
        "../scripts/preprocess_meeg.py"
