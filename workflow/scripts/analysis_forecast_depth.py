"""Rule `analysis_forecast_depth`: the gain map F(d, k) per region, d* and k*, and their correlation with
the hierarchy position (analyses.hierarchy.positions, else each region's best relative depth)."""

from brainalign.analyses import base_unit_scores, best_layers, comparison_layer, top_units
from brainalign.analyses.forecast_depth import (best_forecast_depth, depth_gain, depth_gain_table,
                                                forecast_hierarchy_correlation)
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting.forecast_depth import plot_forecast_depth
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.params.bids_root, smk.params.analyses["regions"])
an, fig = smk.params.analyses, smk.params.figures
fc = an["forecast"]
model, modality = smk.wildcards.model, smk.wildcards.modality
base = attach_regions(read_zarr(smk.input.base, load=True), sources)
grid = attach_regions(read_zarr(smk.input.scores, load=True), sources)
layer = comparison_layer(fc["layer"], base, grid, f"both {smk.input.base} and {smk.input.scores}")

gain = depth_gain(base, grid, var=an["score"], layer=layer, lag_reduce=an["lag_reduce"])
table = depth_gain_table(gain, an["confidence"])
best = best_forecast_depth(gain, min_gain=fc["min_gain"], alpha=fc["alpha"], confidence=an["confidence"])
base_score = base_unit_scores(base, var=an["score"], lag_reduce=an["lag_reduce"])
best.insert(1, "base_score", best["region"].astype(str).map(base_score).to_numpy())

# Hierarchy position: the configured ordering, else each region's own best relative depth (the
# hierarchy as the present features see it): do d* and k* grow with it?
if an["hierarchy"]["positions"]:
    position, source = dict(an["hierarchy"]["positions"]), "positions"
else:
    depth = best_layers(base, var=an["score"], lag_reduce=an["lag_reduce"], confidence=an["confidence"])
    position, source = dict(zip(depth["region"].astype(str), depth["best_relative_depth"])), "best_relative_depth"
corr = forecast_hierarchy_correlation(position, best)
corr.insert(0, "position_source", source)
atomic_write_table(table, smk.output.table)
atomic_write_table(best, smk.output.best)
atomic_write_table(corr, smk.output.correlation)
log.info("\n%s\n%s", best.to_string(index=False), corr.to_string(index=False))

ahead = tuple(best.loc[best["significant"], "region"].astype(str))
units = top_units(best, fig["max_regions"], column="base_score", always=tuple(fig["regions"]) + ahead)
plot_forecast_depth(table, best, smk.output.figure, units=units,
                    title=f"{model}: forecast gain by distance d and window layer k ({modality}, width {fc['width']})",
                    cbar_label=f"F(d, k) (Δ {'Pearson r' if an['score'] == 'r' else 'R²'})")
