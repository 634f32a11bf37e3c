"""Rule `electrodes`: one row per electrode across patients (scores per layer, best layer and lag, MNI
position, region, distance from primary auditory cortex), and group statistics (subjects fitted separately)."""

from brainalign.analyses.hierarchy import distance_to_a1
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.encoding.electrodes import electrode_stats, electrode_table
from brainalign.io.store import read_zarr
from brainalign.io.tsv import write_bids_tsv
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
analyses = smk.params.analyses
scores = attach_regions(read_zarr(smk.input.scores, load=True), find_region_sources(smk.params.bids_root,
                                                                                    analyses["regions"]))
table = electrode_table(scores)
# the hierarchy coordinate of Mischler et al. 2024 (positions: MNI mm, as iEEG preprocessing writes them)
table["distance_a1_mm"] = distance_to_a1(table[["pos_x", "pos_y", "pos_z"]].to_numpy(float),
                                         analyses["hierarchy"]["ieeg_reference"])
depths = {int(layer): float(d) for layer, d in zip(scores["layer"].values, scores["relative_depth"].values)}
stats = electrode_stats(table, relative_depths=depths)
n_sig = int(table["significant"].sum()) if "significant" in table else None
log.info("%s / %s: %d electrodes of %d subjects%s", smk.wildcards.model, smk.wildcards.modality, len(table),
         table["subject"].nunique(), "" if n_sig is None else f", {n_sig} significant")
write_bids_tsv(table, smk.output.table)
write_bids_tsv(stats, smk.output.stats)
