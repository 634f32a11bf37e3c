# Language-model features: every layer per word, once per model and story (never per subject).


rule features:
    input:
        words=f"{RESULTS}/words/{{story}}.tsv",
    output:
        directory(f"{RESULTS}/features/{{model}}/{{story}}.zarr"),
    params:
        model=lambda wc: model_entry(wc.model),
        features=config["features"],
        seed=SEED,
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    log:
        f"{RESULTS}/logs/features/{{model}}/{{story}}.log",
    conda:
        "../../envs/features.yaml"
    script:
        "../scripts/features.py"
