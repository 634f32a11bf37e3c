"""Rule `electrodes`: one row per electrode across patients (scores per layer, best layer and lag, MNI
position, region, distance from primary auditory cortex), and group statistics (subjects fitted separately)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.analyses.hierarchy import distance_to_a1  # noqa: E402
from brainalign.analyses.regions import attach_regions, find_region_sources  # noqa: E402
from brainalign.encoding.electrodes import electrode_stats, electrode_table  # noqa: E402
from brainalign.io.store import read_zarr  # noqa: E402
from brainalign.io.tsv import write_bids_tsv  # noqa: E402
from brainalign.runtime import setup_logging  # noqa: E402

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
