"""Rule `analysis_forecast`: F(d) per region, the best distance d* and its map."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.analyses import best_distance, best_distance_map, forecast_gain, forecast_table, top_units  # noqa: E402
from brainalign.analyses.regions import attach_regions, find_region_sources  # noqa: E402
from brainalign.io.store import atomic_write_table, read_zarr  # noqa: E402
from brainalign.plotting import plot_brain_map, plot_forecast, plot_topomaps, values_to_nifti  # noqa: E402
from brainalign.runtime import setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.input.bids, smk.params.analyses["regions"])
an, fig = smk.params.analyses, smk.params.figures
fc = an["forecast"]
model, modality = smk.wildcards.model, smk.wildcards.modality
base = attach_regions(read_zarr(smk.input.base, load=True), sources)
stack = read_zarr(smk.input.forecast, load=True)
by_d = {int(d): attach_regions(stack.sel(distance=d, drop=True), sources) for d in stack["distance"].values}
layer = fc["layer"]
opts = dict(var=an["score"], layer=layer, lag_reduce=an["lag_reduce"])

gain = forecast_gain(base, by_d, **opts)
table = forecast_table(gain, an["confidence"])
best = best_distance(gain, min_gain=fc["min_gain"], alpha=fc["alpha"], confidence=an["confidence"])
atomic_write_table(table, smk.output.table)
atomic_write_table(best, smk.output.best)
log.info("\n%s", best.to_string(index=False))
units = top_units(best, fig["max_regions"], column="gain", always=tuple(fig["regions"]))
plot_forecast(table, best, smk.output.figure, units=units,
              title=f"{model}: forecast score F(d) ({modality}, width {fc['width']})",
              ylabel=f"F(d) (Δ {'Pearson r' if an['score'] == 'r' else 'R²'})")

dmap = best_distance_map(base, by_d, min_gain=fc["min_gain"], **opts)
values = dmap["d_star"].astype(float)
values.attrs.update(dmap.attrs)
title = f"{model}: best forecast distance d* (0 = no gain > {fc['min_gain']})"
if modality == "fmri":
    plot_brain_map(values_to_nifti(values), smk.output.map, kind="glass", cmap="viridis", symmetric=False,
                   vmin=0.0, vmax=float(max(fc["distances"])), title=title, cbar_label="d* (words)")
else:
    plot_topomaps(values.expand_dims(layer=[0]).assign_coords(relative_depth=("layer", [0.0])), smk.output.map,
                  title=title, cbar_label="d* (words)", cmap="viridis", vlim=(0.0, float(max(fc["distances"]))),
                  panel_titles=["d* per channel"])
