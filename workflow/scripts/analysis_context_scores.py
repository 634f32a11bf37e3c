"""Rule `context_scores`: encoder scores of the features extracted with one context length."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)


from brainalign.encoding import encode_dataset, read_subject_onsets  # noqa: E402
from brainalign.encoding.settings import encoding_settings  # noqa: E402
from brainalign.io.store import read_zarr, write_zarr  # noqa: E402
from brainalign.runtime import provenance, setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
stories = smk.params.stories
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)  # layers: chosen below / by the context rule
features = {story: read_zarr(path) for story, path in zip(stories, smk.input.features)}
recordings = {}
for (subject, story), path in zip(smk.params.runs, smk.input.recordings):  # same order (common.smk)
    recordings.setdefault(subject, {})[story] = read_zarr(path)["data"]
onsets = read_subject_onsets(smk.params.runs, smk.input.words)  # None unless dataset.timings.per_subject
log.info("context %s: encoding %d subjects", smk.wildcards.context, len(recordings))
scores = encode_dataset(features, recordings, modality=smk.wildcards.modality, design=smk.params.design,
                        encoding=encoding, onsets=onsets, on_beyond_end=smk.params.on_beyond_end,
                        word_sources=smk.params.word_tables)
scores.attrs.update(provenance({"design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model, context=int(smk.wildcards.context)))
write_zarr(scores, smk.output[0])
