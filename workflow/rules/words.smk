# Word timings of each story, in one table format whatever the source.


# A story of dataset.story_runs with `timings_path` reads its window of a shared alignment (Narratives'
# slumlordreach), moved to the story's clock.  Files named per subject are read from the first subject
# that has the story's run (dataset.missing_run: drop may leave SUBJECTS[0] without it); every other
# subject's file (demo: func events.tsv; a {subject} timing path) must list the same words at the same
# onsets (timing_files_of in common.smk), else the job fails naming the file and the first difference.
rule words:
    input:
        after_check(words_inputs),
    output:
        f"{RESULTS}/words/{{story}}.tsv",
    params:
        kind=KIND,
        bids_root=BIDS_ROOT,
        timings=config["dataset"]["timings"],
        story_run=lambda wc: timing_entry(wc.story),
        timing_files=lambda wc: timing_files_of(wc.story),
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


# Each subject's onsets of the story's words (dataset.timings.per_subject: MEG-MASC plays a story as
# several sound files with gaps, so every recording has its own clock).  The story table above still
# defines the words the features are computed on; this table must list the same words.
rule words_subject:
    input:
        story=f"{RESULTS}/words/{{story}}.tsv",
        events=after_check(lambda wc: config["dataset"]["timings"]["path"].format(root=BIDS_ROOT, story=wc.story,
                                                                                  subject=wc.subject)),
    output:
        f"{RESULTS}/words/{{story}}/sub-{{subject}}.tsv",
    params:
        kind=KIND,
        bids_root=BIDS_ROOT,
        timings=config["dataset"]["timings"],
        story_run=None,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{RESULTS}/logs/words/{{story}}/sub-{{subject}}.log",
    conda:
        "../../envs/words.yaml"
    script:
        "../scripts/words.py"
