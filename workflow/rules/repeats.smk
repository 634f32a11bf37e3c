# Repeat-based noise ceilings (encoding.repeat_ceiling): the repetitions of a story that
# dataset.repeated_runs leaves out (REPEAT_RUNS, common.smk) are preprocessed by the same scripts as
# the encoded run, and rule repeat_ceiling turns each repeated subject's runs of a story into a ceiling
# per target (brainalign.encoding.group) that the encode rules write into the scores. Nothing here is
# planned for data without repetitions (the demo, datasets heard once). Helpers: common.smk.


rule preprocess_fmri_repeat:
    input:
        after_check(repeat_raw_inputs),
        story_run_inputs,
    output:
        directory(f"{RESULTS}/preproc_repeats/fmri/sub-{{subject}}/{{story}}/{{repeat}}.zarr"),
    wildcard_constraints:
        repeat=r"[A-Za-z0-9_-]+",
    params:
        kind=KIND,
        bids_root=BIDS_ROOT,
        derivatives_root=config["dataset"].get("derivatives_root"),
        profile=config["dataset"]["profile"],
        options=config["preprocess"]["fmri"],
        story_run=lambda wc: STORY_RUNS.get(wc.story),
        words=lambda wc: story_run_inputs(wc)[0] if wc.story in STORY_RUNS else None,
        run=lambda wc: run_info("fmri", wc.subject, wc.story, wc.repeat),  # the repetition's session / run
        stimulus=lambda wc: stimulus_spec_of(wc.story),
    threads: 1
    resources:
        mem_mb=preprocess_mem_mb,  # sized from the encoded run of the same subject and story
        runtime=preprocess_runtime,
    log:
        f"{RESULTS}/logs/preproc_repeats/fmri/sub-{{subject}}/{{story}}/{{repeat}}.log",
    conda:
        "../../envs/preprocess.yaml"
    script:
        "../scripts/preprocess_fmri.py"


rule preprocess_meeg_repeat:
    input:
        after_check(repeat_raw_inputs),
    output:
        directory(f"{RESULTS}/preproc_repeats/{{meeg}}/sub-{{subject}}/{{story}}/{{repeat}}.zarr"),
    wildcard_constraints:
        repeat=r"[A-Za-z0-9_-]+",
    params:
        kind=KIND,
        bids_root=BIDS_ROOT,
        profile=config["dataset"]["profile"],
        options=lambda wc: config["preprocess"]["ieeg" if wc.meeg == "ieeg" else "meeg"],
        run=lambda wc: run_info(wc.meeg, wc.subject, wc.story, wc.repeat),
    threads: 1
    resources:
        mem_mb=preprocess_mem_mb,
        runtime=preprocess_runtime,
    log:
        f"{RESULTS}/logs/preproc_repeats/{{meeg}}/sub-{{subject}}/{{story}}/{{repeat}}.log",
    conda:
        "../../envs/preprocess.yaml"
    script:
        "../scripts/preprocess_meeg.py"


rule repeat_ceiling:
    input:
        encoded=lambda wc: [f"{RESULTS}/preproc/{wc.modality}/sub-{s}/{t}.zarr"
                            for s, t in repeated_encoded_runs(wc.modality)],
        repeats=lambda wc: repeat_recordings_of(wc.modality),
    output:
        directory(f"{RESULTS}/ceilings/{{modality}}.zarr"),
    params:
        encoded=lambda wc: repeated_encoded_runs(wc.modality),
        repeats=lambda wc: repeat_runs_of(wc.modality),
    threads: 1
    resources:
        mem_mb=input_mem_mb("repeat_ceiling"),
        runtime=input_runtime("repeat_ceiling"),
    log:
        f"{RESULTS}/logs/repeat_ceiling/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/repeat_ceiling/{{modality}}.tsv",
    conda:
        "../../envs/encode.yaml"
    script:
        "../scripts/repeat_ceiling.py"
