"""Rules `words` and `words_subject`: word timings as the common word table.

`words` writes one table per story (the words the features are computed on); `words_subject`
(``dataset.timings.per_subject``) writes one subject's onsets of that story and checks that they are
for the same words.  When every subject has their own timing file but one table serves them all
(the demo's events, a ``{subject}`` timing path without ``per_subject``), `words` reads each file once
and checks that it lists the story's words at the same onsets (check_subject_timings).  A story of
``dataset.story_runs`` with ``timings_path`` takes its window of a shared alignment, in the story's
clock (brainalign.io.timings.cut_window).
"""

from brainalign.errors import ConfigError
from brainalign.io.timings import (
    check_same_words,
    check_subject_timings,
    read_timings,
    read_word_table,
    write_word_table,
)
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
story, root = smk.wildcards.story, smk.params.bids_root
per_subject = hasattr(smk.wildcards, "subject")  # rule words_subject


def timing_options(subject: str) -> tuple[str, dict]:
    """The timing file of ``subject`` for this story and the read_timings options."""
    if smk.params.kind == "demo":
        # Every demo subject heard the same stimulus; each subject's func events carry the timings.
        return f"{root}/sub-{subject}/func/sub-{subject}_task-{story}_events.tsv", {"format": "bids_events"}
    options = dict(smk.params.timings)
    # per-subject onsets (MEG-MASC): the words, hence the features, are the same for every subject, so
    # the story table is read from the first subject's file and each subject's table from its own.
    options.pop("per_subject", None)
    options["path"] = str(options.get("path", "")).format(root=root, story=story, subject=subject)
    entry = getattr(smk.params, "story_run", None) or {}
    if entry.get("timings_path"):
        # one alignment for several stories: this story's window, moved to its segment's clock
        options.update(path=entry["timings_path"].format(root=root, story=story, subject=subject),
                       shift=float(entry.get("timings_offset", 0.0)),
                       window=entry.get("timings_window", [0.0, None]),
                       window_field=f"dataset.story_runs.{story}.timings_window")
    return options.pop("path"), options


def read(subject: str):
    path, options = timing_options(subject)
    return path, read_timings(path, fmt=options.pop("format"), story=story, **options)


if per_subject:
    subject = smk.wildcards.subject
    path, words = read(subject)
    # Fail here, before features and encoders run, if this subject's events list other words.
    story_words = read_word_table(smk.input.story)
    check_same_words(story_words["norm"].tolist(), words["norm"].tolist(), subject=subject, story=story,
                     source=path)
    log.info("%s, subject %s: %d words from %s (same words as %s)", story, subject, len(words), path,
             smk.input.story)
else:
    files = [tuple(f) for f in smk.params.timing_files]  # (subject, file), the story's own first
    if not files:
        raise ConfigError("dataset.timings.path", f"no word-timing file for story {story}",
                          expected="a path pattern with {story} (and {root}, {subject})")
    subject, path = files[0]
    path, words = read(subject)
    # One table serves every subject: each subject's own file must list the same words at the same
    # onsets, else the features (and the design) would silently belong to another stimulus.
    for other, _ in files[1:]:
        other_path, other_words = read(other)
        check_subject_timings(words, other_words, subject=other, story=story, source=other_path, reference=path)
    log.info("%s: %d words from %s%s", story, len(words), path,
             f"; the same words and onsets in {len(files) - 1} other subject(s)' files" if len(files) > 1 else "")
write_word_table(words, smk.output[0])
