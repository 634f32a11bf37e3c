"""Rule `preprocess_meeg`: one subject's MEG/EEG/iEEG run of one story -> time x channel."""

from brainalign.io.bids import locate_run
from brainalign.io.store import write_zarr
from brainalign.preprocess.ieeg import preprocess_ieeg
from brainalign.preprocess.meeg import preprocess_meeg
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
modality = smk.wildcards.meeg
planned = dict(getattr(smk.params, "run", None) or {})  # the run the plan chose (task, session, run label)
run = locate_run(smk.params.bids_root, smk.wildcards.subject, planned.get("task") or smk.wildcards.story, modality,
                 profile=smk.params.profile, session=planned.get("session"), run=planned.get("run"))
log.info("sub-%s %s: %s", smk.wildcards.subject, smk.wildcards.story, run)
preprocess = preprocess_ieeg if modality == "ieeg" else preprocess_meeg
data = preprocess(run["bids_path"], **smk.params.options)
data.attrs.update(provenance(smk.params.options), subject=smk.wildcards.subject, story=smk.wildcards.story,
                  modality=modality, source_file=str(run["raw"]))
write_zarr(data, smk.output[0])
