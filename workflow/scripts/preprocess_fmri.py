"""Rule `preprocess_fmri`: one subject's fMRI run of one story -> time x voxel (z-scored).

The cases (BOLD run, LeBel et al. 2023's preprocessed .hf5 responses, a story sharing its run with
another through ``dataset.story_runs``) are handled by brainalign.preprocess.fmri.preprocess_run.
"""

from brainalign.io.bids import locate_run
from brainalign.io.store import target_chunks, write_zarr
from brainalign.io.timings import read_word_table
from brainalign.preprocess.fmri import preprocess_run
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
story, subject = smk.wildcards.story, smk.wildcards.subject
entry = smk.params.story_run
planned = dict(getattr(smk.params, "run", None) or {})  # the run the plan chose (task, session, run, condition)
task = str(planned.get("task") or (entry["task"] if entry else story))
run = locate_run(smk.params.bids_root, subject, task, "fmri", derivatives_root=smk.params.derivatives_root,
                 profile=smk.params.profile, session=planned.get("session"), run=planned.get("run"))
log.info("sub-%s %s (task %s): %s", subject, story, task, run)
words = read_word_table(smk.params.words) if entry and smk.params.words else None
data = preprocess_run(run, options=smk.params.options, profile=smk.params.profile, story=story, story_run=entry,
                      words=words, where=f"sub-{subject} {story} ({run['bold']})",
                      stimulus=getattr(smk.params, "stimulus", None), subject=subject,
                      condition=planned.get("condition"))
data.attrs.update(provenance(smk.params.options), subject=subject, story=story,
                  modality="fmri", source_file=str(run["bold"]))
# which of repeated runs, which version of the story: recorded with the data
data.attrs.update({k: v for k, v in (("task", task), ("run", planned.get("run")), ("condition", planned.get("condition")),
                                     ("repeats", planned.get("repeats"))) if v})
write_zarr(data, smk.output[0], encoding=target_chunks(data))  # voxel chunks: a shard reads only its own
