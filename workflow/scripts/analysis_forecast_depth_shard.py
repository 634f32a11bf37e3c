"""Rule `forecast_depth_shard`: one shard of a sharded forecast_depth_scores (encoding.max_job_memory_gb): its
subjects' block of targets, every (d, k) cell of the grid; a partial result for forecast_depth_gather."""

from brainalign.analyses.forecast_depth import depth_grid
from brainalign.analyses.refit_shards import depth_shard, write_refit
from brainalign.encoding import read_encoding_inputs
from brainalign.encoding.settings import encoding_settings
from brainalign.encoding.shards import Shard
from brainalign.io.store import read_zarr
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
fc = smk.params.forecast
shard = Shard(**dict(smk.params.shard, subjects=tuple(smk.params.shard["subjects"])))
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)  # layers: the grid's present layers

# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(smk.params.stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
first = next(iter(features.values()))
present, depth_layers, distances = depth_grid(fc, first["layer"].values, read_zarr(smk.input.base)["layer"].values,
                                              features_store=smk.input.features[0], base_store=smk.input.base)
log.info("forecast depth shard %s: subjects %s, target block %d of %d (planned %d MB); present layers %s, "
         "window layers %s, distances %s", shard.id, ", ".join(shard.subjects), shard.target_block,
         shard.n_target_blocks, shard.mem_mb, present, depth_layers, distances)
needed = sorted(set(present) | set(depth_layers))
result = depth_shard({story: ds.sel(layer=needed).load() for story, ds in features.items()}, recordings, shard,
                     present_layers=present, depth_layers=depth_layers, distances=distances, width=fc["width"],
                     combine=fc["combine"], penalty=fc["penalty"], scalings=fc["window_scalings"],
                     min_improvement=fc["window_min_improvement"], modality=smk.wildcards.modality,
                     design=smk.params.design, encoding=encoding, onsets=onsets,
                     on_beyond_end=smk.params.on_beyond_end, word_sources=smk.params.word_tables)
write_refit(result, smk.output[0])
