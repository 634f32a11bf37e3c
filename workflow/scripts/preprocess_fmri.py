"""Rule `preprocess_fmri`: one subject's BOLD run of one story -> time x voxel (z-scored).

Two variants: LeBel et al. 2023's preprocessed responses (profile ``responses: hf5``) are only
time-stamped and z-scored; a story that shares its run with another (``dataset.story_runs``) is
cleaned over the whole run, then cut to the story plus a tail (brainalign.preprocess.fmri.crop_story).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.io.bids import locate_run, story_segment  # noqa: E402
from brainalign.io.store import write_zarr  # noqa: E402
from brainalign.io.timings import read_word_table  # noqa: E402
from brainalign.preprocess.fmri import crop_story, preprocess_fmri, preprocess_hf5  # noqa: E402
from brainalign.runtime import provenance, setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
story, subject = smk.wildcards.story, smk.wildcards.subject
entry = smk.params.story_run
profile = dict(smk.params.profile or {})
task = str(entry["task"]) if entry else story
run = locate_run(smk.params.bids_root, subject, task, "fmri",
                 derivatives_root=smk.params.derivatives_root, profile=profile)
log.info("sub-%s %s (task %s): %s", subject, story, task, run)
options = dict(smk.params.options)
if str(run["bold"]).endswith(".hf5"):
    hf5 = dict(profile.get("hf5") or {})
    if "tr" not in hf5:
        raise ValueError("config key 'dataset.profile.hf5.tr': required with responses: hf5 (the .hf5 files carry no TR)")
    data = preprocess_hf5(run["bold"], tr=hf5["tr"], first_volume=int(hf5.get("first_volume", 10)),
                          dataset=hf5.get("dataset", "data"), standardize=options.get("standardize", True),
                          time_reference=options.get("time_reference", 0.5))
else:
    standardize = options.pop("standardize", True)
    data = preprocess_fmri(run["bold"], confounds=run.get("confounds"), sidecar=run.get("sidecar"),
                           standardize=standardize and not entry, **options)
    if entry:
        onset, duration = story_segment(story, entry, run.get("events"))
        words = read_word_table(smk.params.words)
        story_end = duration if duration is not None else float(words["offset"].max())
        if duration is not None and len(words) and float(words["offset"].max()) > duration:
            log.warning("%s: last word ends at %.2f s, after the story duration %.2f s", story,
                        float(words["offset"].max()), duration)
            story_end = float(words["offset"].max())
        data = crop_story(data, onset, story_end, float(entry.get("tail", 15.0)), standardize=standardize,
                          where=f"sub-{subject} {story} ({run['bold']})")
        data.attrs.update(task=task)
data.attrs.update(provenance(smk.params.options), subject=subject, story=story,
                  modality="fmri", source_file=str(run["bold"]))
write_zarr(data, smk.output[0])
