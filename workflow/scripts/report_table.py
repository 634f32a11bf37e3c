"""Rules `qc_summary` and `table_*`: result tables (TSV, or JSON summaries) -> an HTML table for the report
(and, with a `tsv` output, the rows of every input table in one TSV)."""

from brainalign.qc.tables import read_table, write_table_html
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
paths = list(smk.input)
labels = getattr(smk.params, "labels", None) or None
write_table_html(paths, smk.output.html, smk.params.title, labels=labels, prefer=getattr(smk.params, "prefer", None))
if hasattr(smk.output, "tsv"):
    read_table(paths, labels).to_csv(smk.output.tsv, sep="\t", index=False, na_rep="n/a")
log.info("%d table(s) -> %s", len(paths), smk.output.html)
