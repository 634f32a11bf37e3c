"""Rule `figure_topomaps`: MEG/EEG topomaps of the brain score per layer (MNE)."""

from brainalign.analyses import reduce_lag
from brainalign.config_checks import check_layers
from brainalign.io.store import read_zarr
from brainalign.plotting import plot_topomaps
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
an, fig = smk.params.analyses, smk.params.figures
model, modality = smk.wildcards.model, smk.wildcards.meeg
scores = read_zarr(smk.input.scores, load=True)
unit = "Pearson r" if an["score"] == "r" else "R²"
values = reduce_lag(scores[an["score"]], an["lag_reduce"]).mean("subject")
how = "peak over lags" if an["lag_reduce"] == "max" else "mean over lags"
check_layers(fig["topomap_layers"], values["layer"].values, "figures.topomap_layers", smk.input.scores)
plot_topomaps(values, smk.output.topomaps, layers=fig["topomap_layers"],
              title=f"{model}: {modality.upper()} brain score per layer ({how}, mean of {scores.sizes['subject']} subjects)",
              cbar_label=unit)
