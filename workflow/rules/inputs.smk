# The input check: every run's metadata and word timings, read once (headers only), before any compute.
#
#   snakemake check_inputs      results/{ds}/inputs.tsv (one row per subject x story x modality), or one
#                               error listing every blocking problem of the dataset
#
# Also the first job of every run: a checkpoint that words and preprocessing jobs wait for (after_check in
# common.smk), which orders them without re-running them when only the check re-runs.


checkpoint check_inputs:
    input:
        check_inputs_files,
    output:
        f"{RESULTS}/inputs.tsv",
    params:
        kind=KIND,
        bids_root=BIDS_ROOT,
        specs=RUN_SPECS,
        subjects=SUBJECTS,
        stories=STORIES,
        story_runs=STORY_RUNS,
        missing=config["dataset"]["missing_run"],
        dataset=config["dataset"],
        timings=config["dataset"]["timings"],
        profile=config["dataset"]["profile"],
        first_subject={t: first_subject_of(t) for t in STORIES},
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        f"{RESULTS}/logs/check_inputs.log",
    conda:
        "../../envs/inputs.yaml"
    script:
        "../scripts/check_inputs.py"
