"""Which QC figures and result tables the default target asks for (brainalign.qc.plan)."""

from __future__ import annotations

from brainalign.qc.plan import FMRI_FIGURES, MEEG_FIGURES, qc_figures, qc_targets, result_tables


def test_each_modality_gets_its_own_figures():
    assert qc_figures("fmri") is FMRI_FIGURES and set(FMRI_FIGURES) == {"tsnr", "motion", "carpet"}
    assert qc_figures("eeg") is qc_figures("meg") is qc_figures("ieeg") is MEEG_FIGURES


def test_qc_targets_list_every_runs_figures_and_one_summary_per_modality():
    runs = {"fmri": [("01", "pieman")], "eeg": [("01", "a"), ("02", "a")]}
    targets = qc_targets("results/demo", runs, "svg")
    assert targets == [
        "results/demo/qc/fmri/sub-01/pieman_tsnr.svg", "results/demo/qc/fmri/sub-01/pieman_motion.svg",
        "results/demo/qc/fmri/sub-01/pieman_carpet.svg", "results/demo/qc/fmri_summary.html",
        "results/demo/qc/eeg/sub-01/a_psd.svg", "results/demo/qc/eeg/sub-01/a_bads.svg",
        "results/demo/qc/eeg/sub-02/a_psd.svg", "results/demo/qc/eeg/sub-02/a_bads.svg",
        "results/demo/qc/eeg_summary.html"]
    assert qc_targets("results/demo", {}, "png") == []


def test_result_tables_follow_the_analysis_targets():
    analyses = ["results/x/figures/m/fmri/layer_profiles_by_region.png",
                "results/x/analyses/forecast/m/meg/best_distance.tsv",
                "results/x/figures/m/fmri/layer_profiles_by_region.svg",     # another format: not this run's
                "results/x/analyses/other/m/meg/best_distance.tsv"]          # not a forecast analysis
    tables = result_tables("results/x", True, analyses, "png")
    assert tables == {
        "results/x/tables/validation.html": "results/x/validation.tsv",
        "results/x/tables/best_layers/m_fmri.html": "results/x/figures/m/fmri/best_layers.tsv",
        "results/x/tables/best_distance/m_meg.html": "results/x/analyses/forecast/m/meg/best_distance.tsv"}
    assert "results/x/tables/validation.html" not in result_tables("results/x", False, analyses, "png")
