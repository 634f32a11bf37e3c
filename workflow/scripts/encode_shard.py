"""Rule `encode_shard`: one shard of a sharded encode (encoding.max_job_memory_gb): its subjects, its block of
targets (read from the voxel-chunked stores alone) and layers; a partial result for encode_gather."""

from brainalign.encoding import read_encoding_inputs
from brainalign.encoding.settings import encoding_settings, select_layers
from brainalign.encoding.shards import Shard, fit_shard, write_shard
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
shard = Shard(**dict(smk.params.shard, subjects=tuple(smk.params.shard["subjects"])))
encoding, layers, stride = encoding_settings(smk.params.encoding, smk.params.seed)

# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(smk.params.stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
layers = select_layers(next(iter(features.values()))["layer"].values, layers, stride, store=smk.input.features[0])
log.info("shard %s of %s / %s: subjects %s, target block %d of %d, layer block %d of %d (planned %d MB)",
         shard.id, smk.wildcards.model, smk.wildcards.modality, ", ".join(shard.subjects), shard.target_block,
         shard.n_target_blocks, shard.layer_block, shard.n_layer_blocks, shard.mem_mb)
result = fit_shard(features, recordings, shard, modality=smk.wildcards.modality, design=smk.params.design,
                   encoding=encoding, layers=layers, onsets=onsets, on_beyond_end=smk.params.on_beyond_end,
                   word_sources=smk.params.word_tables, progress=True)
write_shard(result, smk.output[0])
