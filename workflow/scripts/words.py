"""Rules `words` and `words_subject`: word timings as the common word table.

`words` writes one table per story (the words the features are computed on); `words_subject`
(``dataset.timings.per_subject``) writes one subject's onsets of that story and checks that they are
for the same words.  A story of ``dataset.story_runs`` with ``timings_path`` takes its window of a
shared alignment, in the story's clock (brainalign.io.timings.cut_window).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.io.timings import check_same_words, read_timings, read_word_table, write_word_table  # noqa: E402
from brainalign.runtime import setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
story, root = smk.wildcards.story, smk.params.bids_root
per_subject = hasattr(smk.wildcards, "subject")  # rule words_subject
if smk.params.kind == "demo":
    # Every demo subject heard the same stimulus; the first subject's events carry the timings.
    subject = smk.params.subject
    options = {"format": "bids_events", "path": f"{root}/sub-{subject}/func/sub-{subject}_task-{story}_events.tsv"}
else:
    options = dict(smk.params.timings)
    # per-subject onsets (MEG-MASC): the words, hence the features, are the same for every subject, so
    # the story table is read from the first subject's file and each subject's table from its own.
    options.pop("per_subject", None)
    subject = smk.wildcards.subject if per_subject else smk.params.subject
    options["path"] = str(options.get("path", "")).format(root=root, story=story, subject=subject)
    entry = getattr(smk.params, "story_run", None) or {}
    if entry.get("timings_path"):
        # one alignment for several stories: this story's window, moved to its segment's clock
        options.update(path=entry["timings_path"].format(root=root, story=story, subject=subject),
                       shift=float(entry.get("timings_offset", 0.0)),
                       window=entry.get("timings_window", [0.0, None]),
                       window_field=f"dataset.story_runs.{story}.timings_window")
path = options.pop("path")
words = read_timings(path, fmt=options.pop("format"), story=story, **options)
if per_subject:
    # Fail here, before features and encoders run, if this subject's events list other words.
    story_words = read_word_table(smk.input.story)
    check_same_words(story_words["norm"].tolist(), words["norm"].tolist(), subject=subject, story=story,
                     source=path)
    log.info("%s, subject %s: %d words from %s (same words as %s)", story, subject, len(words), path,
             smk.input.story)
else:
    log.info("%s: %d words from %s", story, len(words), path)
write_word_table(words, smk.output[0])
