"""Rule `analysis_finetune`: brain scores of the fine-tuned models vs the base model, per region."""

from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.finetune.compare import compare_finetuned, plot_comparison
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.runtime import setup_logging

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
an = sm.params.analyses
sources = find_region_sources(sm.params.bids_root, an["regions"])
base = attach_regions(read_zarr(sm.input.base, load=True), sources)
tuned = {obj: attach_regions(read_zarr(path, load=True), sources)
         for obj, path in zip(sm.params.objectives, sm.input.tuned)}
table = compare_finetuned(base, tuned, models=dict(zip(sm.params.objectives, sm.params.names)),
                          var=an["score"], lag_reduce=an["lag_reduce"])
log.info("\n%s", table.to_string(index=False))
atomic_write_table(table, sm.output.table)
unit = "r" if an["score"] == "r" else "R²"
plot_comparison(table, sm.output.figure, q=an["finetune"]["fdr_q"],
                ylabel=f"Δ peak brain score ({unit}), fine-tuned − base",
                title=f"{sm.wildcards.model} fine-tuned per objective vs base ({sm.wildcards.modality}; "
                      f"* q < {an['finetune']['fdr_q']})")
