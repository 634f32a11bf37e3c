"""Rule `qc_meeg`: one subject's MEG/EEG/iEEG run of one story -> power spectra before/after, bad
channels/segments and removed components, QC row.

The recording is read as rule `preprocess_meeg` read it (brainalign.preprocess.meeg.read_raw on the
planned run); the measures are computed by brainalign.qc.meeg, the figures drawn by brainalign.plotting.qc.
"""

import pandas as pd

from brainalign.io.bids import locate_run
from brainalign.io.store import read_zarr
from brainalign.plotting.qc import plot_bads, plot_psd
from brainalign.preprocess.meeg import read_raw
from brainalign.qc.meeg import meeg_qc
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
modality, subject, story = smk.wildcards.meeg, smk.wildcards.subject, smk.wildcards.story
planned = dict(smk.params.run or {})
run = locate_run(smk.params.bids_root, subject, planned.get("task") or story, modality,
                 profile=smk.params.profile, session=planned.get("session"), run=planned.get("run"))
raw, source = read_raw(run["bids_path"])
preproc = read_zarr(smk.input.preproc)["data"]
qc = meeg_qc(raw, preproc, smk.params.options, modality)
where = f"{modality} · sub-{subject} · {story}"
plot_psd(qc, smk.output.psd, f"power spectral density · {where}")
plot_bads(qc, smk.output.bads, f"bad channels, segments, removed components · {where}")
row = qc.summary()
log.info("%s: %s", source, row)
pd.DataFrame([row]).to_csv(smk.output.summary, sep="\t", index=False, na_rep="n/a")
