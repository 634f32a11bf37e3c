"""Rule `qc_fmri`: one subject's fMRI run of one story -> tSNR map, motion/confounds, carpet plot, QC row.

The run is located as rule `preprocess_fmri` located it (same options and planned run); the measures are
computed by brainalign.qc.fmri, the figures drawn by brainalign.plotting.qc.
"""

import pandas as pd

from brainalign.io.bids import locate_run
from brainalign.io.store import read_zarr
from brainalign.plotting.qc import plot_carpet, plot_motion_confounds, plot_tsnr
from brainalign.qc.fmri import fmri_qc
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
story, subject = smk.wildcards.story, smk.wildcards.subject
planned = dict(smk.params.run or {})
entry = smk.params.story_run
task = str(planned.get("task") or (entry["task"] if entry else story))
run = locate_run(smk.params.bids_root, subject, task, "fmri", derivatives_root=smk.params.derivatives_root,
                 profile=smk.params.profile, session=planned.get("session"), run=planned.get("run"))
preproc = read_zarr(smk.input.preproc)["data"]
qc = fmri_qc(run, smk.params.options, preproc)
where = f"sub-{subject} · {story}" + (f" (whole run of task {task})" if entry else "")
plot_tsnr(qc, smk.output.tsnr, f"temporal SNR · {where}")
plot_motion_confounds(qc, smk.output.motion, f"motion and confounds · {where}")
plot_carpet(qc, smk.output.carpet, f"carpet plot · {where}")
row = qc.summary()
log.info("sub-%s %s: %s", subject, story, row)
pd.DataFrame([row]).to_csv(smk.output.summary, sep="\t", index=False, na_rep="n/a")
