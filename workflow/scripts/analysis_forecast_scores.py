"""Rule `forecast_scores`: encoder scores of features + a forecast window, for every distance d."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.analyses.forecast_fit import forecast_layers, forecast_scores  # noqa: E402
from brainalign.encoding import read_subject_onsets  # noqa: E402
from brainalign.encoding.settings import encoding_settings  # noqa: E402
from brainalign.io.store import read_zarr, write_zarr  # noqa: E402
from brainalign.runtime import provenance, setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
fc = smk.params.forecast
encoding, _, _ = encoding_settings(smk.params.encoding)  # layers: chosen below / by the context rule

features = {story: read_zarr(path) for story, path in zip(smk.params.stories, smk.input.features)}
layers = forecast_layers(read_zarr(smk.input.base)["layer"].values, next(iter(features.values()))["layer"].values,
                         fc, sources=f"both {smk.input.base} and {smk.input.features[0]}")
log.info("layers %s, distances %s, width %d (%s), %s penalty", layers, fc["distances"], fc["width"], fc["combine"],
         fc["penalty"])
recordings = {}
for (subject, story), path in zip(smk.params.runs, smk.input.recordings):  # same order (common.smk)
    recordings.setdefault(subject, {})[story] = read_zarr(path)["data"]

scores = forecast_scores({story: ds.sel(layer=layers).load() for story, ds in features.items()}, recordings,
                         distances=fc["distances"], width=fc["width"], combine=fc["combine"], penalty=fc["penalty"],
                         scalings=fc["window_scalings"], min_improvement=fc["window_min_improvement"],
                         modality=smk.wildcards.modality, design=smk.params.design, encoding=encoding,
                         onsets=read_subject_onsets(smk.params.runs, smk.input.words),
                         on_beyond_end=smk.params.on_beyond_end, word_sources=smk.params.word_tables)
scores.attrs.update(provenance({"forecast": fc, "design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model))
write_zarr(scores, smk.output[0])
