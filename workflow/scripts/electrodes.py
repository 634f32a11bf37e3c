"""Rule `electrodes`: one row per electrode across patients, and group statistics (subjects fitted separately)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.encoding.electrodes import electrode_stats, electrode_table  # noqa: E402
from brainalign.io.store import read_zarr  # noqa: E402
from brainalign.io.tsv import write_bids_tsv  # noqa: E402
from brainalign.runtime import setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
scores = read_zarr(smk.input.scores, load=True)
table = electrode_table(scores)
depths = {int(layer): float(d) for layer, d in zip(scores["layer"].values, scores["relative_depth"].values)}
stats = electrode_stats(table, relative_depths=depths)
n_sig = int(table["significant"].sum()) if "significant" in table else None
log.info("%s / %s: %d electrodes of %d subjects%s", smk.wildcards.model, smk.wildcards.modality, len(table),
         table["subject"].nunique(), "" if n_sig is None else f", {n_sig} significant")
write_bids_tsv(table, smk.output.table)
write_bids_tsv(stats, smk.output.stats)
