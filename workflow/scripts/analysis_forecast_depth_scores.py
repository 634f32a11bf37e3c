"""Rule `forecast_depth_scores`: encoder scores of present features + a window from layer k at distance d,
over the (d, k) grid of analyses.forecast (depth_layers / n_depth_layers, depth_distances), each cell with the
forecast analysis' penalty (analyses.forecast.penalty, window_scalings, window_min_improvement)."""

from brainalign.analyses.forecast_depth import depth_grid, depth_scores
from brainalign.encoding import read_encoding_inputs
from brainalign.encoding.settings import encoding_settings
from brainalign.io.store import read_zarr, write_zarr
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
fc = smk.params.forecast
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)  # layers: the grid's present layers, chosen below

# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(smk.params.stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
first = next(iter(features.values()))
present, depth_layers, distances = depth_grid(fc, first["layer"].values, read_zarr(smk.input.base)["layer"].values,
                                              features_store=smk.input.features[0], base_store=smk.input.base)
log.info("forecast depth: present layers %s, window layers %s, distances %s, width %d (%s), %s penalty", present,
         depth_layers, distances, fc["width"], fc["combine"], fc["penalty"])

# each cell fitted as the forecast analysis fits F(d): present and window as bands, analyses.forecast.penalty
needed = sorted(set(present) | set(depth_layers))
scores = depth_scores({story: ds.sel(layer=needed).load() for story, ds in features.items()}, recordings,
                      present_layers=present, depth_layers=depth_layers, distances=distances,
                      width=fc["width"], combine=fc["combine"], penalty=fc["penalty"],
                      scalings=fc["window_scalings"], min_improvement=fc["window_min_improvement"], log=log.info,
                      modality=smk.wildcards.modality, design=smk.params.design, encoding=encoding, onsets=onsets,
                      on_beyond_end=smk.params.on_beyond_end, word_sources=smk.params.word_tables)
scores.attrs.update(provenance({"forecast": fc, "design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model))
write_zarr(scores, smk.output[0])
