"""Rule `analysis_context`: brain score per region as a function of context length."""

from brainalign.analyses import context_gain, context_profile, context_scores, top_units
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting import plot_context
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.params.bids_root, smk.params.analyses["regions"])
an, fig = smk.params.analyses, smk.params.figures
model, modality = smk.wildcards.model, smk.wildcards.modality
scores = {int(c): attach_regions(read_zarr(p, load=True), sources) for c, p in zip(smk.params.lengths, smk.input.scores)}
table = context_scores(scores, var=an["score"], lag_reduce=an["lag_reduce"])
profile = context_profile(table, confidence=an["confidence"])
gain = context_gain(profile)
atomic_write_table(profile, smk.output.table)
atomic_write_table(gain, smk.output.gain)
log.info("\n%s", gain.to_string(index=False))
longest = profile[profile["context"] == profile["context"].max()].rename(columns={"mean": "peak_score"})
units = top_units(longest[["region", "peak_score"]], fig["max_regions"], always=tuple(fig["regions"]))
plot_context(profile, smk.output.figure, units=units, title=f"{model}: brain score vs context length ({modality})",
             ylabel=f"brain score ({'Pearson r' if an['score'] == 'r' else 'R²'})")
