"""Rule `analysis_comparison`: brain score vs model quality across models; trained vs random-init control."""

import pandas as pd

from brainalign.analyses import (brain_vs_quality, compare_to_control, model_perplexity, peak_scores,
                                 quality_table, read_brainbench_summary)
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting import plot_control_comparison, plot_quality
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sources = find_region_sources(smk.params.bids_root, smk.params.analyses["regions"])
an = smk.params.analyses
modality = smk.wildcards.modality
models, stories = list(smk.params.models), list(smk.params.stories)
opts = dict(var=an["score"], lag_reduce=an["lag_reduce"])
scores = {m: attach_regions(read_zarr(p, load=True), sources) for m, p in zip(models, smk.input.scores)}

feature_paths = iter(smk.input.features)  # model-major, story-minor
perplexity = {m: model_perplexity([read_zarr(next(feature_paths)) for _ in stories]) for m in models}
brainbench = {m: read_brainbench_summary(p) for m, p in zip(smk.params.brainbench_models, smk.input.brainbench)}
quality = quality_table(perplexity, brainbench or None)
log.info("\n%s", quality.to_string(index=False))

brain = pd.concat([peak_scores(scores[m], model=m, **opts) for m in models], ignore_index=True)
table, corr = brain_vs_quality(brain, quality)
atomic_write_table(table, smk.output.table)
atomic_write_table(corr, smk.output.correlations)
unit = "Pearson r" if an["score"] == "r" else "R²"
plot_quality(table, corr, smk.output.perplexity_figure, quality="perplexity",
             title=f"Brain score vs perplexity ({modality})")
plot_quality(table, corr, smk.output.brainbench_figure, quality="brainbench_accuracy",
             title=f"Brain score vs BrainBench accuracy ({modality})")

rows = []
for model, control, path in zip(smk.params.trained, smk.params.controls, smk.output.control_figures):
    cmp = compare_to_control(scores[model], scores[control], **opts)
    rows.append(cmp.assign(model=model, control=control))
    plot_control_comparison(cmp, path, trained=model, control=control,
                            title=f"{model} vs its random-init control ({modality})",
                            ylabel=f"peak brain score ({unit})")
control_table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["region", "model", "control"])
atomic_write_table(control_table, smk.output.control)
