"""Rule `figure_sensors`: MEG/EEG/iEEG score time courses per channel group (the topomaps: figure_topomaps)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.analyses import best_layers, top_units  # noqa: E402
from brainalign.analyses.regions import attach_regions, find_region_sources  # noqa: E402
from brainalign.io.store import atomic_write_table, read_zarr  # noqa: E402
from brainalign.plotting import plot_time_courses, time_course_table  # noqa: E402
from brainalign.runtime import setup_logging  # noqa: E402

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
