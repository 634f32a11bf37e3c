"""Rule `validate_demo`: compare recovered brain scores with the demo's planted truth.

The only rule that reads derivatives/groundtruth/truth.json.
"""

import json
from pathlib import Path


from brainalign.demo import validate_demo
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
truth = json.loads((Path(smk.input.bids) / "derivatives" / "groundtruth" / "truth.json").read_text())
model = smk.params.model  # the truth was planted from this model's features
control = smk.params.control_of.get(model)
by_path = {Path(p).parent.name + "/" + Path(p).stem: p for p in smk.input.scores}
scores = {mod: read_zarr(by_path[f"{model}/{mod}"], load=True) for mod in smk.params.modalities}
control_scores = ({mod: read_zarr(by_path[f"{control}/{mod}"], load=True) for mod in smk.params.modalities}
                  if control else {})
table = validate_demo(truth, scores, control_scores)
atomic_write_table(table, smk.output[0])
log.info("\n%s", table.to_string(index=False))
