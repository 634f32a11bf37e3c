"""Rule `words`: one story's word timings as the common word table."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.io.timings import read_timings, write_word_table  # noqa: E402
from brainalign.runtime import setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
story, root = smk.wildcards.story, smk.params.bids_root
if smk.params.kind == "demo":
    # Every demo subject heard the same stimulus; the first subject's events carry the timings.
    subject = smk.params.subject
    options = {"format": "bids_events", "path": f"{root}/sub-{subject}/func/sub-{subject}_task-{story}_events.tsv"}
else:
    options = dict(smk.params.timings)
    # per-subject onsets (MEG-MASC): the words, hence the features, are the same for every subject
    options.pop("per_subject", None)
    options["path"] = options["path"].format(root=root, story=story, subject=smk.params.subject)
path = options.pop("path")
words = read_timings(path, fmt=options.pop("format"), story=story, **options)
log.info("%s: %d words from %s", story, len(words), path)
write_word_table(words, smk.output[0])
