"""Rule `analysis_forecast`: F(d) per region, the best distance d* and its map."""

from brainalign.analyses import (band_partition, band_table, base_unit_scores, best_distance, comparison_layer,
                                 distance_map, forecast_gain, forecast_table, top_units)
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting import (plot_brain_map, plot_forecast, plot_forecast_bands, plot_topomaps,
                                 values_to_nifti)
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.params.bids_root, smk.params.analyses["regions"])
an, fig = smk.params.analyses, smk.params.figures
fc = an["forecast"]
model, modality = smk.wildcards.model, smk.wildcards.modality
base = attach_regions(read_zarr(smk.input.base, load=True), sources)
stack = read_zarr(smk.input.forecast, load=True)
by_d = {int(d): attach_regions(stack.sel(distance=d, drop=True), sources) for d in stack["distance"].values}
layer = comparison_layer(fc["layer"], base, stack, f"both {smk.input.base} and {smk.input.forecast}")
opts = dict(var=an["score"], layer=layer, lag_reduce=an["lag_reduce"])

gain = forecast_gain(base, by_d, **opts)
table = forecast_table(gain, an["confidence"])
best = best_distance(gain, min_gain=fc["min_gain"], alpha=fc["alpha"], confidence=an["confidence"])
# the units' own brain score (features alone) beside d*: F(d) only matters where that score does
base_score = base_unit_scores(base, var=an["score"], lag_reduce=an["lag_reduce"])
best.insert(1, "base_score", best["region"].astype(str).map(base_score).to_numpy())
atomic_write_table(table, smk.output.table)
atomic_write_table(best, smk.output.best)
log.info("\n%s", best.to_string(index=False))
# panels: the best-predicted units, plus every unit with a significant forecast gain
ahead = tuple(best.loc[best["d_star"] > 0, "region"].astype(str))
units = top_units(best, fig["max_regions"], column="base_score", always=tuple(fig["regions"]) + ahead)
plot_forecast(table, best, smk.output.figure, units=units,
              title=f"{model}: forecast score F(d) ({modality}, width {fc['width']}, "
                    f"{stack.attrs.get('penalty', 'shared')} penalty)",
              ylabel=f"F(d) (Δ {'Pearson r' if an['score'] == 'r' else 'R²'})")
# the gain per band: R² unique to the window (F(d) in R²), unique to the present words, shared
bands = band_table(band_partition(base, by_d, layer=layer, lag_reduce=an["lag_reduce"]), an["confidence"])
atomic_write_table(bands, smk.output.bands)
plot_forecast_bands(bands, smk.output.bands_figure, units=units,
                    title=f"{model}: variance partition of present features and forecast window ({modality})")

# Each region's tested d* (a per-voxel d* has no test, and a glass brain shows the maximum along each
# projection); without regions, each target's own d*.
values = distance_map(base, by_d, best, min_gain=fc["min_gain"], **opts)
title = (f"{model}: best forecast distance d* per region (0 = no significant gain > {fc['min_gain']})"
         if values.attrs["per_region"] else f"{model}: best forecast distance d* (0 = no gain > {fc['min_gain']})")
if modality == "fmri":
    plot_brain_map(values_to_nifti(values), smk.output.map, kind="glass", cmap="viridis", symmetric=False,
                   vmin=0.0, vmax=float(max(fc["distances"])), title=title, cbar_label="d* (words)")
else:
    plot_topomaps(values.expand_dims(layer=[0]).assign_coords(relative_depth=("layer", [0.0])), smk.output.map,
                  title=title, cbar_label="d* (words)", cmap="viridis", vlim=(0.0, float(max(fc["distances"]))),
                  panel_titles=["d* per channel"])
