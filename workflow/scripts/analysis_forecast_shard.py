"""Rule `forecast_shard`: one shard of a sharded forecast_scores (encoding.max_job_memory_gb): its subjects' block
of targets (read from the voxel-chunked stores alone), every distance; a partial result for forecast_gather."""

from brainalign.analyses.forecast_fit import forecast_layers
from brainalign.analyses.refit_shards import forecast_shard, write_refit
from brainalign.encoding import read_encoding_inputs
from brainalign.encoding.settings import encoding_settings
from brainalign.encoding.shards import Shard
from brainalign.io.store import read_zarr
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
fc = smk.params.forecast
shard = Shard(**dict(smk.params.shard, subjects=tuple(smk.params.shard["subjects"])))
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)  # layers: those of forecast_scores

# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(smk.params.stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
layers = forecast_layers(read_zarr(smk.input.base)["layer"].values, next(iter(features.values()))["layer"].values,
                         fc, sources=f"both {smk.input.base} and {smk.input.features[0]}")
log.info("forecast shard %s: subjects %s, target block %d of %d (planned %d MB); layers %s, distances %s",
         shard.id, ", ".join(shard.subjects), shard.target_block, shard.n_target_blocks, shard.mem_mb, layers,
         fc["distances"])
result = forecast_shard({story: ds.sel(layer=layers).load() for story, ds in features.items()}, recordings, shard,
                        distances=fc["distances"], width=fc["width"], combine=fc["combine"], penalty=fc["penalty"],
                        scalings=fc["window_scalings"], min_improvement=fc["window_min_improvement"],
                        modality=smk.wildcards.modality, design=smk.params.design, encoding=encoding, onsets=onsets,
                        on_beyond_end=smk.params.on_beyond_end, word_sources=smk.params.word_tables)
write_refit(result, smk.output[0])
