"""Rule `figure_sensors`: MEG/EEG/iEEG score time courses per channel group (the topomaps: figure_topomaps)."""

from brainalign.analyses import best_layers, top_units
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting import plot_time_courses, time_course_table
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.params.bids_root, smk.params.analyses["regions"])
an, fig = smk.params.analyses, smk.params.figures
model, modality = smk.wildcards.model, smk.wildcards.meeg
scores = attach_regions(read_zarr(smk.input.scores, load=True), sources)
unit = "Pearson r" if an["score"] == "r" else "R²"
table = time_course_table(scores, var=an["score"], confidence=an["confidence"])
atomic_write_table(table, smk.output.table)
best = best_layers(scores, var=an["score"], lag_reduce=an["lag_reduce"], confidence=an["confidence"])
units = top_units(best, fig["max_regions"], always=tuple(fig["regions"]))
plot_time_courses(table[table["region"].astype(str).isin(units)], smk.output.time_courses, title=f"{model}: {modality.upper()} score time course",
                  ylabel=f"brain score ({unit})")
