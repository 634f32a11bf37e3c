# Cross-validated encoders: all subjects that heard the same stories are fitted in one job (subjects
# with their own channels, encoding.subjects: separate / iEEG, in the same job and the same solves).


rule encode:
    input:
        features=lambda wc: features_of(wc.model),
        recordings=lambda wc: recordings_of(wc.modality),
        words=lambda wc: subject_words_of(wc.modality),  # per-subject onsets, runs_of order; [] if not per_subject
        ceiling=lambda wc: repeat_ceiling_of(wc.modality),  # repeat ceilings (repeats.smk); [] without repetitions
    output:
        scores=directory(f"{RESULTS}/scores/{{model}}/{{modality}}.zarr"),
        table=f"{RESULTS}/scores/{{model}}/{{modality}}.csv",
    params:
        stories=STORIES,
        runs=lambda wc: runs_of(wc.modality),
        design=design_of,
        encoding=ENCODING,
        seed=SEED,
        on_beyond_end=ON_BEYOND_END,
        word_tables=WORD_TABLES,
        subject_fits=lambda wc: SUBJECT_FITS[wc.modality],  # joint / separate (encoding.subjects), in the plan
    threads: 2
    resources:
        mem_mb=job_mem_mb("encode"),  # from the runs' sizes (inputs.tsv; brainalign.encoding.sizing)
        runtime=job_runtime("encode"),
    log:
        f"{RESULTS}/logs/encode/{{model}}/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/encode/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/encode.yaml"
    script:
        "../scripts/encode.py"


# With encoding.max_job_memory_gb (SHARDED, common.smk): the same scores from shard jobs, each a block of
# targets of the subjects sharing them (one joint solve) or of one subject, within the budget
# (brainalign.encoding.shards); encode_gather joins them. Without it, the single encode job above.
if SHARDED:

    ruleorder: encode_gather > encode

else:

    ruleorder: encode > encode_gather


rule encode_shard:
    input:
        features=lambda wc: [f"{RESULTS}/features/{wc.model}/{t}.zarr" for t in runs_stories(shard_runs(wc.modality, wc.shard))],
        recordings=lambda wc: shard_recordings(wc.modality, wc.shard),
        words=lambda wc: shard_words(wc.modality, wc.shard),
    output:
        f"{RESULTS}/shards/encode/{{model}}/{{modality}}/{{shard}}.pkl",
    wildcard_constraints:
        shard=r"g\d+-l\d+-t\d+",
    params:
        stories=lambda wc: runs_stories(shard_runs(wc.modality, wc.shard)),
        runs=lambda wc: shard_runs(wc.modality, wc.shard),
        shard=lambda wc: shard_of(wc.modality, wc.shard),
        design=design_of,
        encoding=ENCODING,
        seed=SEED,
        on_beyond_end=ON_BEYOND_END,
        word_tables=WORD_TABLES,
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: shard_of(wc.modality, wc.shard)["mem_mb"] * attempt,
        runtime=shard_runtime("encode"),
    log:
        f"{RESULTS}/logs/encode_shard/{{model}}/{{modality}}/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/encode_shard/{{model}}/{{modality}}/{{shard}}.tsv",
    conda:
        "../../envs/encode.yaml"
    script:
        "../scripts/encode_shard.py"


rule encode_gather:
    input:
        shards=lambda wc: shard_files(wc.model, wc.modality),
        features=lambda wc: features_of(wc.model),
        ceiling=lambda wc: repeat_ceiling_of(wc.modality),  # repeat ceilings (repeats.smk); [] without repetitions
    output:
        scores=directory(f"{RESULTS}/scores/{{model}}/{{modality}}.zarr"),
        table=f"{RESULTS}/scores/{{model}}/{{modality}}.csv",
    params:
        subjects=lambda wc: subjects_of(wc.modality),
        design=design_of,
        encoding=ENCODING,
        seed=SEED,
    threads: 1
    resources:
        mem_mb=gather_mem_mb,
        runtime=gather_runtime,
    log:
        f"{RESULTS}/logs/encode_gather/{{model}}/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/encode_gather/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/encode.yaml"
    script:
        "../scripts/encode_gather.py"


# Modalities fitted per subject (iEEG patients): one row per electrode across patients and group
# statistics over electrodes and patients (brainalign.encoding.electrodes).
rule electrodes:
    input:
        scores=f"{RESULTS}/scores/{{model}}/{{modality}}.zarr",
        regions=lambda wc: region_inputs(wc.modality),  # atlas / labelled electrodes.tsv (analyses.regions)
    output:
        table=f"{RESULTS}/scores/{{model}}/{{modality}}_electrodes.tsv",
        stats=f"{RESULTS}/scores/{{model}}/{{modality}}_electrode_stats.tsv",
    params:
        bids_root=BIDS_ROOT,  # analyses.regions paths may hold {bids_root}
        analyses=ANALYSES_CFG,
    threads: 1
    resources:
        mem_mb=input_mem_mb("electrodes", "scores"),
        runtime=input_runtime("electrodes", "scores"),
    log:
        f"{RESULTS}/logs/electrodes/{{model}}/{{modality}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/electrodes/{{model}}/{{modality}}.tsv",
    conda:
        "../../envs/encode.yaml"
    script:
        "../scripts/electrodes.py"


rule validate_demo:
    localrule: True
    input:
        bids=BIDS_ROOT,
        scores=[scores_path(m, mod) for m in MODELS for mod in MODALITIES],
    output:
        f"{RESULTS}/validation.tsv",
    params:
        model=config["demo"]["planting_model"],
        control_of=CONTROL_OF,
        modalities=MODALITIES,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    log:
        f"{RESULTS}/logs/validate_demo.log",
    conda:
        "../../envs/validate.yaml"
    script:
        "../scripts/validate_demo.py"
