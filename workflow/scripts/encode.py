"""Rule `encode`: cross-validated ridge encoders of every layer, all subjects of a modality in one job
(jointly on one target axis, or each on its own channels: encoding.subjects, params.subject_fits)."""

from brainalign.encoding import encode_dataset, read_encoding_inputs, scores_to_frame
from brainalign.encoding.group import finish_scores
from brainalign.encoding.settings import encoding_settings, select_layers
from brainalign.io.store import atomic_write_table, read_zarr, write_zarr
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
stories = smk.params.stories
encoding, layers, stride = encoding_settings(smk.params.encoding, smk.params.seed)

# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
layers = select_layers(next(iter(features.values()))["layer"].values, layers, stride, store=smk.input.features[0])
log.info("encoding %s / %s: %d subjects (%s), %d runs", smk.wildcards.model, smk.wildcards.modality,
         len(recordings), smk.params.subject_fits, len(smk.params.runs))
if onsets is not None:
    log.info("per-subject word onsets from %d tables", len(smk.input.words))
scores = encode_dataset(features, recordings, modality=smk.wildcards.modality, design=smk.params.design,
                        encoding=encoding, layers=layers, progress=True, onsets=onsets,
                        on_beyond_end=smk.params.on_beyond_end, word_sources=smk.params.word_tables)
# repeat ceilings (subjects with repeated runs) and group-level maps (brainalign.encoding.group)
ceilings = read_zarr(smk.input.ceiling[0], load=True) if smk.input.ceiling else None
scores = finish_scores(scores, smk.params.encoding, seed=smk.params.seed, ceilings=ceilings)
first = next(iter(features.values()))
scores.attrs.update(provenance({"design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model, weights_sha256=first.attrs.get("weights_sha256", "")))
write_zarr(scores, smk.output.scores)
atomic_write_table(scores_to_frame(scores), smk.output.table)
