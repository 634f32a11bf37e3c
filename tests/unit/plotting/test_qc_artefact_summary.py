"""The MEG/EEG QC page's artefact lines: what ICA/SSP removed, or which setting switches them on."""

from __future__ import annotations

from brainalign.plotting.qc import artefact_summary
from brainalign.qc.meeg import removed_components


def test_lines_report_removed_components_and_projectors():
    steps = ["reference:average", "ssp_eog:2", "ica:[0, 3]", "filter:0.1-20.0"]
    ica, ssp, last = artefact_summary(removed_components(steps), steps)
    assert ica == "ICA: components [0, 3] removed" and ssp == "SSP: EOG 2 projector(s)"
    assert last == "steps: reference:average → ssp_eog:2 → ica:[0, 3] → filter:0.1-20.0"
    assert artefact_summary(removed_components(["ica:[]"]), ["ica:[]"])[0] == "ICA: fitted, no component removed"


def test_methods_not_run_name_the_setting_that_switches_them_on():
    ica, ssp, _ = artefact_summary(removed_components(["filter:0.1-20.0"]), ["filter:0.1-20.0"])
    assert "not run" in ica and "preprocess.meeg.ica.enabled" in ica
    assert "not run" in ssp and "preprocess.meeg.ssp" in ssp
