"""Rule `forecast_scores`: encoder scores of features + a forecast window, for every distance d."""

from brainalign.analyses.forecast_fit import forecast_layers, forecast_scores
from brainalign.encoding import read_encoding_inputs
from brainalign.encoding.settings import encoding_settings
from brainalign.io.store import read_zarr, write_zarr
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
fc = smk.params.forecast
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)  # layers: chosen below / by the context rule

# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(smk.params.stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
layers = forecast_layers(read_zarr(smk.input.base)["layer"].values, next(iter(features.values()))["layer"].values,
                         fc, sources=f"both {smk.input.base} and {smk.input.features[0]}")
log.info("layers %s, distances %s, width %d (%s), %s penalty", layers, fc["distances"], fc["width"], fc["combine"],
         fc["penalty"])

scores = forecast_scores({story: ds.sel(layer=layers).load() for story, ds in features.items()}, recordings,
                         distances=fc["distances"], width=fc["width"], combine=fc["combine"], penalty=fc["penalty"],
                         scalings=fc["window_scalings"], min_improvement=fc["window_min_improvement"],
                         modality=smk.wildcards.modality, design=smk.params.design, encoding=encoding,
                         onsets=onsets,
                         on_beyond_end=smk.params.on_beyond_end, word_sources=smk.params.word_tables)
scores.attrs.update(provenance({"forecast": fc, "design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model))
write_zarr(scores, smk.output[0])
