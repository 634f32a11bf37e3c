"""Rule `analysis_hierarchy`: best layers, hierarchy correlation, depth reaching 95 % of the peak.

Hierarchy position: the configured ordering of regions; else MEG/EEG regions' response latency;
else (iEEG) each electrode's distance from primary auditory cortex, correlated with its best layer
across electrodes and within each region (one row per scope; the electrodes in electrode_hierarchy.tsv).
"""

import pandas as pd

from brainalign.analyses import (best_layers, electrode_hierarchy, fraction_of_peak_table,
                                 hierarchy_correlation, peak_latency, top_units)
from brainalign.analyses.regions import attach_regions, find_region_sources, is_ieeg
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting import (new_figure, plot_best_depths, plot_electrode_hierarchy,
                                 plot_fraction_of_peak, plot_hierarchy, save_figure)
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.params.bids_root, smk.params.analyses["regions"])
an, fig = smk.params.analyses, smk.params.figures
hier = an["hierarchy"]
modality = smk.wildcards.modality
opts = dict(var=an["score"], lag_reduce=an["lag_reduce"])
scores = {m: attach_regions(read_zarr(p, load=True), sources) for m, p in zip(smk.params.models, smk.input.scores)}
trained = [m for m in smk.params.models if m not in smk.params.controls]

best = {m: best_layers(s, confidence=an["confidence"], **opts) for m, s in scores.items()}
atomic_write_table(pd.concat([df.assign(model=m) for m, df in best.items()], ignore_index=True), smk.output.best)
units = top_units(best[trained[0]], fig["max_regions"], always=tuple(fig["regions"]))
plot_best_depths(best, smk.output.best_figure, units=units, title=f"Best layer per region ({modality})")

fop = fraction_of_peak_table(scores, fraction=hier["fraction"], **opts)
atomic_write_table(fop, smk.output.fraction)
plot_fraction_of_peak(fop, smk.output.fraction_figure,
                      title=f"Depth needed for {100 * hier['fraction']:.0f}% of the peak score ({modality})")

# Hierarchy position: configured ordering, else (MEG/EEG) each region's response latency, else
# (iEEG) each electrode's distance from primary auditory cortex.
rows, electrode_rows = [], []
first_plot = True
for m in trained:
    electrodes = None
    if hier["positions"]:
        position, xlabel, source = dict(hier["positions"]), "hierarchy position (configured)", "positions"
    elif is_ieeg(scores[m]):
        electrodes, corr_table = electrode_hierarchy(
            scores[m], var=an["score"], lag_reduce=an["lag_reduce"], reference=hier["ieeg_reference"],
            fdr_q=hier["ieeg_fdr_q"], min_score=hier["ieeg_min_score"])
        if not electrodes["distance_a1"].notna().any():
            log.warning("%s: no electrode has an MNI position (x, y, z or pos_x/y/z): no distance from A1, "
                        "no hierarchy correlation", m)
        electrode_rows.append(electrodes.assign(model=m))
        rows += [{"model": m, "position_source": "distance_a1", **r} for r in corr_table.to_dict("records")]
        log.info("%s: %d of %d electrodes selected for the distance-from-A1 correlation", m,
                 int(electrodes["selected"].sum()), len(electrodes))
        if first_plot:
            plot_electrode_hierarchy(electrodes, corr_table.iloc[0].to_dict(), smk.output.hierarchy_figure,
                                     max_regions=fig["max_regions"] or 8,
                                     title=f"{m}: distance from A1 vs best layer ({modality})")
            first_plot = False
        continue
    elif "lag" in scores[m].dims:
        lat = peak_latency(scores[m], var=an["score"])
        # A latency means something only where the region responds: keep regions whose peak
        # score is above 0 across subjects.
        responsive = set(best[m].loc[best[m]["peak_p"] < 0.05, "region"])
        position = {r: t for r, t in zip(lat["region"], lat["latency"]) if r in responsive}
        xlabel, source = "response latency (s, lag of the peak score)", "latency"
    else:
        position, xlabel, source = {}, "", "none"
    position = {k: v for k, v in position.items() if k in set(best[m]["region"])}
    corr = hierarchy_correlation(position, best[m]) if position else {"n": 0}
    rows.append({"model": m, "position_source": source, "scope": "regions", "region": "", "subject": "", **corr})
    if first_plot:
        if position:
            plot_hierarchy(best[m], position, corr, smk.output.hierarchy_figure, xlabel=xlabel,
                           title=f"{m}: hierarchy vs best layer ({modality})")
        else:
            f = new_figure(5, 2)
            f.text(0.5, 0.5, "No hierarchy positions configured (analyses.hierarchy.positions),\n"
                   "no MEG/EEG latencies and no iEEG electrode positions for this modality.",
                   ha="center", va="center")
            save_figure(f, smk.output.hierarchy_figure)
        first_plot = False
atomic_write_table(pd.DataFrame(rows), smk.output.correlation)
# One row per electrode and model (iEEG without configured positions); a header only otherwise.
columns = ["model", "channel", "subject", "region", "x", "y", "z", "distance_a1", "best_layer", "best_relative_depth",
           "peak_score", "q", "selected"]
table = pd.concat(electrode_rows, ignore_index=True) if electrode_rows else pd.DataFrame(columns=columns)
atomic_write_table(table[[c for c in columns if c in table.columns]], smk.output.electrodes)
log.info("\n%s", pd.DataFrame(rows).to_string(index=False))
