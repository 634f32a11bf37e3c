"""QC figures are drawn from fMRI and MEG/EEG QC results (brainalign.plotting.qc)."""

from __future__ import annotations

from brainalign.config_sections import with_defaults
from brainalign.preprocess.meeg import preprocess_meeg
from brainalign.qc.fmri import fmri_qc
from brainalign.qc.meeg import meeg_qc
from tests.qc_runs import bold_run, eeg_raw


def test_qc_figures_are_drawn(tmp_path):
    from brainalign.plotting.qc import plot_bads, plot_carpet, plot_motion_confounds, plot_psd, plot_tsnr

    run, _, preproc, drop = bold_run(tmp_path)
    qc = fmri_qc(run, with_defaults("preprocess.fmri", {"drop_initial_trs": drop, "strategy": {"motion": "basic", "wm_csf": "basic"}}), preproc)
    bare = fmri_qc({"bold": run["bold"], "confounds": None}, with_defaults("preprocess.fmri", {"strategy": {}}), preproc)
    raw = eeg_raw(bads=["Oz"], annotations=[(5.0, 2.0)])
    options = {"l_freq": 1.0, "h_freq": 20.0, "resample": 100.0}
    mqc = meeg_qc(raw, preprocess_meeg(raw.copy(), **options), with_defaults("preprocess.meeg", options), "eeg")
    paths = [plot_tsnr(qc, tmp_path / "tsnr.png"), plot_motion_confounds(qc, tmp_path / "motion.png"),
             plot_carpet(qc, tmp_path / "carpet.png"), plot_motion_confounds(bare, tmp_path / "bare.png"),
             plot_carpet(bare, tmp_path / "bare_carpet.svg"), plot_psd(mqc, tmp_path / "psd.png"),
             plot_bads(mqc, tmp_path / "bads.png")]
    for path in paths:
        assert path.exists() and path.stat().st_size > 5000, path
