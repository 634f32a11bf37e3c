"""Rule `forecast_depth_scores`: encoder scores of present features + a window from layer k at distance d,
over the (d, k) grid of analyses.forecast (depth_layers / n_depth_layers, depth_distances)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.analyses.forecast_depth import depth_grid, depth_scores  # noqa: E402
from brainalign.encoding import encode_dataset, read_subject_onsets  # noqa: E402
from brainalign.encoding.settings import encoding_settings  # noqa: E402
from brainalign.io.store import read_zarr, write_zarr  # noqa: E402
from brainalign.runtime import provenance, setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
fc = smk.params.forecast
encoding, _, _ = encoding_settings(smk.params.encoding)  # layers: the grid's present layers, chosen below

features = {story: read_zarr(path) for story, path in zip(smk.params.stories, smk.input.features)}
first = next(iter(features.values()))
present, depth_layers, distances = depth_grid(fc, first["layer"].values, read_zarr(smk.input.base)["layer"].values,
                                              features_store=smk.input.features[0], base_store=smk.input.base)
log.info("forecast depth: present layers %s, window layers %s, distances %s, width %d (%s)", present, depth_layers,
         distances, fc["width"], fc["combine"])
recordings = {}
for (subject, story), path in zip(smk.params.runs, smk.input.recordings):  # same order (common.smk)
    recordings.setdefault(subject, {})[story] = read_zarr(path)["data"]
onsets = read_subject_onsets(smk.params.runs, smk.input.words)  # None unless dataset.timings.per_subject


def encode(derived):
    """Scores of one grid cell's features (present layers + window) with the workflow's design and encoder."""
    return encode_dataset(derived, recordings, modality=smk.wildcards.modality, design=smk.params.design,
                          encoding=encoding, layers=None, onsets=onsets, on_beyond_end=smk.params.on_beyond_end,
                          word_sources=smk.params.word_tables)


needed = sorted(set(present) | set(depth_layers))
scores = depth_scores({story: ds.sel(layer=needed).load() for story, ds in features.items()}, encode,
                      present_layers=present, depth_layers=depth_layers, distances=distances,
                      width=fc["width"], combine=fc["combine"], log=log.info)
scores.attrs.update(provenance({"forecast": fc, "design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model))
write_zarr(scores, smk.output[0])
