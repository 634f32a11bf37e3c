# Word timings of each story, in one table format whatever the source.


rule words:
    input:
        raw_inputs,
    output:
        f"{RESULTS}/words/{{story}}.tsv",
    params:
        kind=KIND,
        bids_root=BIDS_ROOT,
        timings=config["dataset"].get("timings", {}),
        subject=SUBJECTS[0],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{RESULTS}/logs/words/{{story}}.log",
    conda:
        "../../envs/words.yaml"
    script:
        "../scripts/words.py"
