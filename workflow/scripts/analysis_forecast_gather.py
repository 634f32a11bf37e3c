"""Rule `forecast_gather`: the shards of a sharded forecast_scores joined into the scores the single job writes
(brainalign.analyses.refit_shards.gather_forecast)."""

from brainalign.analyses.refit_shards import gather_forecast, read_refit
from brainalign.io.store import write_zarr
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
log.info("gathering %d forecast shards of %s / %s", len(smk.input.shards), smk.wildcards.model,
         smk.wildcards.modality)
scores = gather_forecast([read_refit(path) for path in smk.input.shards], subjects=smk.params.subjects)
scores.attrs.update(provenance({"forecast": smk.params.forecast, "design": smk.params.design,
                                "encoding": smk.params.encoding}, model=smk.wildcards.model))
write_zarr(scores, smk.output[0])
