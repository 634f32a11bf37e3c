"""Rules `qc_summary` and `table_*`: result tables (TSV, or JSON summaries) -> an HTML table for the report
(and, with a `tsv` output, the rows of every input table in one TSV)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  (conda envs: library from the repo)

from brainalign.qc.tables import read_table, write_table_html  # noqa: E402
from brainalign.runtime import setup_logging  # noqa: E402

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
paths = list(smk.input)
labels = getattr(smk.params, "labels", None) or None
write_table_html(paths, smk.output.html, smk.params.title, labels=labels, prefer=getattr(smk.params, "prefer", None))
if hasattr(smk.output, "tsv"):
    read_table(paths, labels).to_csv(smk.output.tsv, sep="\t", index=False, na_rep="n/a")
log.info("%d table(s) -> %s", len(paths), smk.output.html)
