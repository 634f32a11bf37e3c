"""Bookkeeping of the QC and result-table rules (workflow/rules/qc.smk): which files the default target
asks for. Kept here, not in the rule file, so that the rules stay declarative and this logic is testable."""

from __future__ import annotations

from typing import Mapping, Sequence

#: Per-run QC figures: name (file suffix) -> label in the report.
FMRI_FIGURES = {"tsnr": "tSNR map", "motion": "framewise displacement and confounds", "carpet": "carpet plot"}
MEEG_FIGURES = {"psd": "power spectra before/after", "bads": "bad channels, segments, ICA/SSP"}


def qc_figures(modality: str) -> dict[str, str]:
    """The per-run QC figures of a modality."""
    return FMRI_FIGURES if modality == "fmri" else MEEG_FIGURES


def qc_targets(results: str, runs: Mapping[str, Sequence[tuple[str, str]]], ext: str) -> list[str]:
    """Every run's QC figures and each modality's QC summary table.

    Parameters
    ----------
    results
        ``results/<dataset>``.
    runs
        Modality -> its ``(subject, story)`` runs.
    ext
        Figure format (``figures.format``).
    """
    out = []
    for mod, pairs in runs.items():
        out += [f"{results}/qc/{mod}/sub-{s}/{t}_{f}.{ext}" for s, t in pairs for f in qc_figures(mod)]
        out.append(f"{results}/qc/{mod}_summary.html")
    return out


def result_tables(results: str, demo: bool, analysis_targets: Sequence[str], ext: str) -> dict[str, str]:
    """HTML table -> its source TSV, for the result tables of the default target: the demo's validation,
    the best layer per region of every layer-profile figure, d* of every forecast analysis."""
    tables = {f"{results}/tables/validation.html": f"{results}/validation.tsv"} if demo else {}
    for target in analysis_targets:
        parts = target.split("/")
        if parts[-1] == f"layer_profiles_by_region.{ext}":
            model, modality = parts[-3:-1]
            tables[f"{results}/tables/best_layers/{model}_{modality}.html"] = "/".join([*parts[:-1], "best_layers.tsv"])
        elif parts[-1] == "best_distance.tsv" and "forecast" in parts:
            model, modality = parts[-3:-1]
            tables[f"{results}/tables/best_distance/{model}_{modality}.html"] = target
    return tables
