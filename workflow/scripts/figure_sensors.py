"""Rule `figure_sensors`: MEG/EEG topomaps of the brain score per layer and score time courses (MNE)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.analyses import best_layers, reduce_lag, top_units  # noqa: E402
from brainalign.analyses.regions import attach_regions, find_region_sources  # noqa: E402
from brainalign.config_checks import check_layers  # noqa: E402
from brainalign.io.store import atomic_write_table, read_zarr  # noqa: E402
from brainalign.plotting import plot_time_courses, plot_topomaps, time_course_table  # noqa: E402
from brainalign.runtime import setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.params.bids_root, smk.params.analyses["regions"])
an, fig = smk.params.analyses, smk.params.figures
model, modality = smk.wildcards.model, smk.wildcards.meeg
scores = attach_regions(read_zarr(smk.input.scores, load=True), sources)
unit = "Pearson r" if an["score"] == "r" else "R²"
values = reduce_lag(scores[an["score"]], an["lag_reduce"]).mean("subject")
how = "peak over lags" if an["lag_reduce"] == "max" else "mean over lags"
check_layers(fig["topomap_layers"], values["layer"].values, "figures.topomap_layers", smk.input.scores)
plot_topomaps(values, smk.output.topomaps, layers=fig["topomap_layers"],
              title=f"{model}: {modality.upper()} brain score per layer ({how}, mean of {scores.sizes['subject']} subjects)",
              cbar_label=unit)
table = time_course_table(scores, var=an["score"], confidence=an["confidence"])
atomic_write_table(table, smk.output.table)
best = best_layers(scores, var=an["score"], lag_reduce=an["lag_reduce"], confidence=an["confidence"])
units = top_units(best, fig["max_regions"], always=tuple(fig["regions"]))
plot_time_courses(table[table["region"].astype(str).isin(units)], smk.output.time_courses, title=f"{model}: {modality.upper()} score time course",
                  ylabel=f"brain score ({unit})")
