"""Rule `repeat_ceiling`: each repeated subject's runs of a story (the encoded run and the repetitions
dataset.repeated_runs left out) -> a single-run noise ceiling per target (brainalign.encoding.group)."""

from brainalign.encoding.group import repeat_ceilings_from_runs
from brainalign.io.store import read_zarr, write_zarr
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
encoded = {tuple(run): read_zarr(path)["data"] for run, path in zip(smk.params.encoded, smk.input.encoded)}
repeats = {tuple(run): read_zarr(path)["data"] for run, path in zip(smk.params.repeats, smk.input.repeats)}
ceilings = repeat_ceilings_from_runs(encoded, repeats)
for sub in ceilings["subject"].values:
    c = ceilings["ceiling"].sel(subject=sub)
    log.info("sub-%s: repeat ceiling median %.3f over %d targets (%s)", sub, float(c.median()), c.size,
             ceilings.attrs["runs_per_story"])
write_zarr(ceilings, smk.output[0])
