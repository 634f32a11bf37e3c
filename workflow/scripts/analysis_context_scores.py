"""Rule `context_scores`: encoder scores of the features extracted with one context length."""

from brainalign.encoding import encode_dataset, read_encoding_inputs
from brainalign.encoding.settings import encoding_settings
from brainalign.io.store import write_zarr
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
stories = smk.params.stories
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)  # layers: chosen below / by the context rule
# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
log.info("context %s: encoding %d subjects", smk.wildcards.context, len(recordings))
scores = encode_dataset(features, recordings, modality=smk.wildcards.modality, design=smk.params.design,
                        encoding=encoding, onsets=onsets, on_beyond_end=smk.params.on_beyond_end,
                        word_sources=smk.params.word_tables)
scores.attrs.update(provenance({"design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model, context=int(smk.wildcards.context)))
write_zarr(scores, smk.output[0])
