"""Rule `figure_electrodes`: iEEG electrodes on a glass brain, coloured by brain score, best layer and lag (nilearn)."""

from brainalign.io.tsv import read_bids_tsv
from brainalign.plotting.electrodes import REQUIRED, plot_electrodes
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
model = smk.wildcards.model
table = read_bids_tsv(smk.input.table, what="electrode table", required=REQUIRED)
drawn = plot_electrodes(table, smk.output.electrodes, source=smk.input.table,
                        title=f"{model}: iEEG electrodes, all patients and each patient")
log.info("%s: %d of %d electrodes drawn%s", model, drawn.n_plotted, drawn.n_electrodes,
         "" if drawn.n_significant is None else f", {drawn.n_significant} significant")
for subject, n in drawn.without_position.items():
    # a patient whose electrodes.tsv lacks positions (or a space the run did not read) is not silent
    log.warning("subject %s: %d electrode(s) without a position are not drawn", subject, n)
