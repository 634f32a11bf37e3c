"""Rule `context_shard`: one shard of a sharded context_scores (encoding.max_job_memory_gb): the encode stage's
shard fit (brainalign.encoding.shards.fit_shard) on the features of one context length."""

from brainalign.encoding import read_encoding_inputs
from brainalign.encoding.settings import encoding_settings
from brainalign.encoding.shards import Shard, fit_shard, write_shard
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
shard = Shard(**dict(smk.params.shard, subjects=tuple(smk.params.shard["subjects"])))
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)  # layers: chosen by the context rule
# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(smk.params.stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
log.info("context %s shard %s: subjects %s, target block %d of %d (planned %d MB)", smk.wildcards.context, shard.id,
         ", ".join(shard.subjects), shard.target_block, shard.n_target_blocks, shard.mem_mb)
result = fit_shard(features, recordings, shard, modality=smk.wildcards.modality, design=smk.params.design,
                   encoding=encoding, onsets=onsets, on_beyond_end=smk.params.on_beyond_end,
                   word_sources=smk.params.word_tables)
write_shard(result, smk.output[0])
