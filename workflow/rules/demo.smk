# The built-in demo dataset: original stories, BIDS fMRI + EEG with planted ground truth.


rule demo_dataset:
    input:
        stories=expand(str(LIBRARY / "demo" / "stories" / "{story}.txt"), story=STORIES),
    output:
        bids=directory(f"results/{DATASET}/bids"),
    params:
        demo=config["demo"],
        model=lambda wc: model_entry(config["demo"]["planting_model"]),
        seed=SEED,
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: 6000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    log:
        f"results/{DATASET}/logs/demo_dataset.log",
    conda:
        "../../envs/demo.yaml"
    script:
        "../scripts/demo_dataset.py"
