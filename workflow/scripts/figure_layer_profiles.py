"""Rule `figure_layer_profiles`: layer profile per region (with the random-init control) and best layers."""

import pandas as pd

from brainalign.analyses import best_layers, layer_profiles, top_units
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting import plot_best_depths, plot_layer_profiles
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.params.bids_root, smk.params.analyses["regions"])
an, fig = smk.params.analyses, smk.params.figures
model, control = smk.wildcards.model, smk.params.control
opts = dict(var=an["score"], lag_reduce=an["lag_reduce"], confidence=an["confidence"])

scores = {model: attach_regions(read_zarr(smk.input.scores, load=True), sources)}
if control:
    scores[control] = attach_regions(read_zarr(smk.input.control[0], load=True), sources)
profiles = {name: layer_profiles(s, **opts) for name, s in scores.items()}
best = {name: best_layers(s, **opts) for name, s in scores.items()}
units = top_units(best[model], fig["max_regions"], always=tuple(fig["regions"]))
log.info("%s/%s: %d regions, showing %s", model, smk.wildcards.modality, len(best[model]), units)

modality = smk.wildcards.modality
plot_layer_profiles(profiles, smk.output.profiles, controls=(control,) if control else (), units=units,
                    title=f"{model}: brain score per layer ({modality})",
                    ylabel=f"brain score ({'Pearson r' if an['score'] == 'r' else 'R²'})")
plot_best_depths(best, smk.output.best, units=units, title=f"{model}: best layer per region ({modality})")
table = pd.concat([df.assign(model=name) for name, df in profiles.items()], ignore_index=True)
atomic_write_table(table, smk.output.table)
bt = pd.concat([df.assign(model=name) for name, df in best.items()], ignore_index=True)
atomic_write_table(bt, smk.output.best_table)
