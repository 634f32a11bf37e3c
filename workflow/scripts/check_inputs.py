"""Rule `check_inputs`: every run's metadata and timings -> results/{ds}/inputs.tsv, or one error listing
every blocking problem (brainalign.io.inputs)."""

from brainalign.config_sections import with_defaults
from brainalign.errors import InputError
from brainalign.io.inputs import check_dataset, raise_blocking, select_dataset_runs
from brainalign.io.tsv import write_bids_tsv
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
p = smk.params
# the demo's generated tree has one run per subject and story, each starting with its story
dataset = p.dataset if p.kind != "demo" else with_defaults("dataset", {"missing_run": p.missing})
runs = select_dataset_runs(p.bids_root, p.specs, p.subjects, p.stories, dataset=dataset)
table = check_dataset(runs, root=p.bids_root, kind=p.kind, timings=p.timings, story_runs=p.story_runs,
                      profile=p.profile, first_subject=p.first_subject,
                      dataset=p.dataset if p.kind != "demo" else None,
                      electrodes_space=(p.specs.get("ieeg") or {}).get("electrodes_space"))
counts = table["status"].value_counts().to_dict()
log.info("%d run(s) checked: %s", len(table), ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
for row in table.itertuples():
    if row.problems:
        log.info("sub-%s %s %s [%s]: %s", row.subject, row.story, row.modality, row.status, row.problems)
# the whole table goes to the log too: the output is removed when the check fails
lines = ["\t".join(table.columns)] + ["\t".join("" if v is None else str(v) for v in row)
                                      for row in table.itertuples(index=False)]
log.info("inputs table:\n%s", "\n".join(lines))
try:
    raise_blocking(table, smk.output[0])
except InputError as err:
    log.error("%s", err)
    raise
write_bids_tsv(table, smk.output[0])
