# Language-model features: every layer per word, once per model and story (never per subject).


rule features:
    input:
        words=f"{RESULTS}/words/{{story}}.tsv",
        model=model_files,  # weights given by a path (gguf, local)
    output:
        directory(f"{RESULTS}/features/{{model}}/{{story}}.zarr"),
    params:
        model=lambda wc: model_entry(wc.model),
        features=config["features"],
        seed=SEED,
    threads: 2
    resources:
        # retries (SLURM profile) come back with more memory and time
        mem_mb=lambda wc, attempt: 6000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
        gpu=1 if str(config["features"]["device"]).startswith("cuda") else 0,
    log:
        f"{RESULTS}/logs/features/{{model}}/{{story}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/features/{{model}}/{{story}}.tsv",
    conda:
        "../../envs/features.yaml"
    script:
        "../scripts/features.py"
