"""Rule `analysis_hierarchy`: best layers, hierarchy correlation, depth reaching 95 % of the peak.

The analysis (brainalign.analyses.hierarchy_analysis) correlates each region's position in the
hierarchy with its best layer: the configured ordering of regions; else MEG/EEG regions' response
latency; else (iEEG) each electrode's distance from primary auditory cortex, across electrodes and
within each region (one row per scope; the electrodes in electrode_hierarchy.tsv).
"""

import pandas as pd

from brainalign.analyses import top_units
from brainalign.analyses.hierarchy_analysis import hierarchy_analysis
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting import plot_best_depths, plot_fraction_of_peak
from brainalign.plotting.hierarchy import plot_hierarchy_figure
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
an, fig = smk.params.analyses, smk.params.figures
modality = smk.wildcards.modality
sources = find_region_sources(smk.params.bids_root, an["regions"])
scores = {m: attach_regions(read_zarr(p, load=True), sources) for m, p in zip(smk.params.models, smk.input.scores)}
trained = [m for m in smk.params.models if m not in smk.params.controls]

result = hierarchy_analysis(scores, trained, an)

atomic_write_table(pd.concat([df.assign(model=m) for m, df in result.best.items()], ignore_index=True), smk.output.best)
units = top_units(result.best[trained[0]], fig["max_regions"], always=tuple(fig["regions"]))
plot_best_depths(result.best, smk.output.best_figure, units=units, title=f"Best layer per region ({modality})")
atomic_write_table(result.fraction, smk.output.fraction)
plot_fraction_of_peak(result.fraction, smk.output.fraction_figure,
                      title=f"Depth needed for {100 * an['hierarchy']['fraction']:.0f}% of the peak score ({modality})")
atomic_write_table(result.correlation, smk.output.correlation)
atomic_write_table(result.electrodes, smk.output.electrodes)
plot_hierarchy_figure(result.figure, smk.output.hierarchy_figure, modality=modality, max_regions=fig["max_regions"])
log.info("\n%s", result.correlation.to_string(index=False))
