"""Rule `analysis_sensitivity`: planted signals in the real recordings -> power table, curve, real SNR, figure."""

import json


from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.analyses.sensitivity import sensitivity_analysis
from brainalign.encoding import read_encoding_inputs
from brainalign.encoding.settings import encoding_settings
from brainalign.io.store import atomic_write_table, atomic_write_text, read_zarr
from brainalign.plotting.sensitivity import plot_power
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
an = smk.params.analyses
encoding, _, _ = encoding_settings(smk.params.encoding, smk.params.seed)
# opened lazily; onsets: each run's own word onsets (dataset.timings.per_subject), else None
features, recordings, onsets = read_encoding_inputs(smk.params.stories, smk.input.features, smk.params.runs,
                                                    smk.input.recordings, smk.input.words)
scores = attach_regions(read_zarr(smk.input.scores, load=True), find_region_sources(smk.input.bids, an["regions"]))

result = sensitivity_analysis(features, recordings, scores, modality=smk.wildcards.modality, design=smk.params.design,
                              encoding=encoding, settings=smk.params.sensitivity, seed=smk.params.seed,
                              onsets=onsets, var=an["score"], lag_reduce=an["lag_reduce"], progress=True)
result.summary["model"] = smk.wildcards.model
atomic_write_table(result.power, smk.output.power)
atomic_write_table(result.curve, smk.output.curve)
atomic_write_table(result.observed, smk.output.observed)
atomic_write_table(result.targets, smk.output.targets)
plot_power(result, smk.output.figure, max_regions=smk.params.figures["max_regions"],
           title=f"What can this dataset resolve? {smk.wildcards.model} · {smk.wildcards.modality}")
atomic_write_text(smk.output.summary, json.dumps(result.summary, indent=2, default=str) + "\n")
log.info("power table:\n%s", result.power.to_string(index=False))
log.info("real data's SNR:\n%s", result.observed.to_string(index=False))
log.info("run time: %s", result.summary["seconds"])
