"""Rule `context_gather`: the shards of a sharded context_scores joined into the scores the single job writes
(brainalign.encoding.shards.gather_shards, as encode_gather)."""

from brainalign.encoding.shards import gather_shards, read_shard
from brainalign.io.store import write_zarr
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
log.info("gathering %d context %s shards of %s / %s", len(smk.input.shards), smk.wildcards.context,
         smk.wildcards.model, smk.wildcards.modality)
scores = gather_shards([read_shard(path) for path in smk.input.shards], subjects=smk.params.subjects)
scores.attrs.update(provenance({"design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model, context=int(smk.wildcards.context)))
write_zarr(scores, smk.output[0])
