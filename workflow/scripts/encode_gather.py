"""Rule `encode_gather`: the shards of a sharded encode joined into the scores the single `encode` job
writes (brainalign.encoding.shards.gather_shards: FDR over every target, channel-level p over every layer)."""

from brainalign.encoding import scores_to_frame
from brainalign.encoding.group import finish_scores
from brainalign.encoding.shards import gather_shards, read_shard
from brainalign.io.store import atomic_write_table, read_zarr, write_zarr
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
log.info("gathering %d shards of %s / %s", len(smk.input.shards), smk.wildcards.model, smk.wildcards.modality)
scores = gather_shards([read_shard(path) for path in smk.input.shards], subjects=smk.params.subjects)
# repeat ceilings (subjects with repeated runs) and group-level maps (brainalign.encoding.group)
ceilings = read_zarr(smk.input.ceiling[0], load=True) if smk.input.ceiling else None
scores = finish_scores(scores, smk.params.encoding, seed=smk.params.seed, ceilings=ceilings)
first = read_zarr(smk.input.features[0])
scores.attrs.update(provenance({"design": smk.params.design, "encoding": smk.params.encoding},
                               model=smk.wildcards.model, weights_sha256=first.attrs.get("weights_sha256", "")))
write_zarr(scores, smk.output.scores)
atomic_write_table(scores_to_frame(scores), smk.output.table)
