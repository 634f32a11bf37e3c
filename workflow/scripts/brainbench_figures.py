"""Rule `brainbench_figures`: accuracy per model, per subfield, calibration curves, base vs LoRA."""

import json
from pathlib import Path


import pandas as pd

from brainalign.brainbench import figures
from brainalign.runtime import setup_logging

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
runs = sm.params.runs  # [{"model", "testset", "base_model", "variant"}] in the order of the inputs


def gather(paths):
    frames = []
    for run, path in zip(runs, paths):
        df = pd.read_csv(path)
        for key, value in run.items():
            df[key] = value
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


summary = pd.DataFrame([{**run, **json.loads(Path(path).read_text())} for run, path in zip(runs, sm.input.summary)])
subfields = gather(sm.input.subfields)
full = subfields[subfields["condition"] == "full"]
made = {
    "accuracy_per_model": figures.accuracy_per_model(summary),
    "accuracy_per_subfield": figures.accuracy_per_subfield(full[full["group"] != "all"]),
    "calibration_curves": figures.calibration_curves(gather(sm.input.calibration)),
}
if "base_vs_lora" in sm.output.keys():
    made["base_vs_lora"] = figures.base_vs_lora(full[full["base_model"].isin(sm.params.lora_models)])
for name, fig in made.items():
    out = Path(getattr(sm.output, name))
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=150)
    tmp.replace(out)  # atomic: a killed job leaves no half-written figure
    log.info("wrote %s", out)
