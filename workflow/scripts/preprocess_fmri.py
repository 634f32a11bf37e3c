"""Rule `preprocess_fmri`: one subject's BOLD run of one story -> time x voxel (z-scored)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.io.bids import locate_run  # noqa: E402
from brainalign.io.store import write_zarr  # noqa: E402
from brainalign.preprocess.fmri import preprocess_fmri  # noqa: E402
from brainalign.runtime import provenance, setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
run = locate_run(smk.params.bids_root, smk.wildcards.subject, smk.wildcards.story, "fmri",
                 derivatives_root=smk.params.derivatives_root, profile=smk.params.profile)
log.info("sub-%s %s: %s", smk.wildcards.subject, smk.wildcards.story, run)
data = preprocess_fmri(run["bold"], confounds=run.get("confounds"), sidecar=run.get("sidecar"), **smk.params.options)
data.attrs.update(provenance(smk.params.options), subject=smk.wildcards.subject, story=smk.wildcards.story,
                  modality="fmri", source_file=str(run["bold"]))
write_zarr(data, smk.output[0])
