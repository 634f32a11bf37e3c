"""Rule `encode_gather`: the shards of a sharded encode joined into the scores the single `encode` job
writes (brainalign.encoding.shards.gather_shards: FDR over every target, channel-level p over every layer)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.encoding import scores_to_frame  # noqa: E402
from brainalign.encoding.shards import gather_shards, read_shard  # noqa: E402
from brainalign.encoding.group import finish_scores  # noqa: E402
from brainalign.io.store import atomic_write_table, read_zarr, write_zarr  # noqa: E402
from brainalign.runtime import provenance, setup_logging  # noqa: E402

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
