"""Rule `forecast_scores`: encoder scores of features + a forecast window, for every distance d."""

import numpy as np
import xarray as xr

from brainalign.analyses.settings import evenly_spaced_layers
from brainalign.config_checks import check_layers
from brainalign.encoding import encode_dataset, read_subject_onsets
from brainalign.encoding.settings import encoding_settings
from brainalign.features import forecast_features
from brainalign.io.store import read_zarr, write_zarr
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
fc = smk.params.forecast
stories = smk.params.stories
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)  # layers: chosen below / by the context rule

features = {story: read_zarr(path) for story, path in zip(stories, smk.input.features)}
first = next(iter(features.values()))
# Evenly spaced among the layers the base scores have, so that F(d) compares like with like.
base_layers = read_zarr(smk.input.base)["layer"].values
common = np.intersect1d(base_layers, first["layer"].values)
layers = (check_layers(fc["layers"], common, "analyses.forecast.layers", f"both {smk.input.base} and {smk.input.features[0]}")
          if fc["layers"] else evenly_spaced_layers(common, fc["n_layers"]))
recordings = {}
for (subject, story), path in zip(smk.params.runs, smk.input.recordings):  # same order (common.smk)
    recordings.setdefault(subject, {})[story] = read_zarr(path)["data"]
onsets = read_subject_onsets(smk.params.runs, smk.input.words)  # None unless dataset.timings.per_subject

per_distance = []
for d in fc["distances"]:
    log.info("distance %d: layers %s, width %d (%s)", d, layers, fc["width"], fc["combine"])
    derived = {story: forecast_features(ds.sel(layer=layers).load(), [d], fc["width"], fc["combine"])
               .isel(distance=0, drop=True) for story, ds in features.items()}
    per_distance.append(encode_dataset(derived, recordings, modality=smk.wildcards.modality,
                                       design=smk.params.design, encoding=encoding, layers=None,
                                       onsets=onsets, on_beyond_end=smk.params.on_beyond_end,
                                       word_sources=smk.params.word_tables))
scores = xr.concat(per_distance, dim=xr.DataArray(list(fc["distances"]), dims="distance", name="distance"),
                   coords="minimal", compat="override")
scores.attrs.update(provenance({"forecast": fc, "design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model))
write_zarr(scores, smk.output[0])
