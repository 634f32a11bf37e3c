"""Bookkeeping of the figure and analysis rules (workflow/rules/figures.smk, analyses.smk).

Kept here, not in the rule files, so that the rules stay declarative and this logic is testable.
"""

from __future__ import annotations

from typing import Mapping, Sequence


def figure_targets(results: str, base_models: Sequence[str], modalities: Sequence[str],
                   figures: Mapping) -> list[str]:
    """Every foundation figure of every trained model and modality.

    Parameters
    ----------
    results
        ``results/<dataset>``.
    base_models
        Trained models (the random-init controls are drawn inside their model's figures).
    modalities
        Modalities of the dataset.
    figures
        The merged ``figures`` config section.
    """
    fig, ext = f"{results}/figures", figures["format"]
    out = []
    for model in base_models:
        for modality in modalities:
            out += [f"{fig}/{model}/{modality}/layer_profiles_by_region.{ext}",
                    f"{fig}/{model}/{modality}/best_layer_by_region.{ext}"]
            if modality == "fmri":
                out += [f"{fig}/{model}/fmri/{what}_{kind}.{ext}" for what in ("brain_score", "best_layer")
                        for kind in figures["map_kinds"]]
            elif modality == "ieeg":
                # implanted electrodes on a glass brain; a scalp topomap would interpolate between them
                out += [f"{fig}/{model}/ieeg/electrodes_on_brain.{ext}",
                        f"{fig}/{model}/ieeg/time_courses_by_region.{ext}"]
            else:
                out += [f"{fig}/{model}/{modality}/topomaps_by_layer.{ext}",
                        f"{fig}/{model}/{modality}/time_courses_by_region.{ext}"]
    return out


def analysis_targets(results: str, base_models: Sequence[str], models: Sequence[str],
                     modalities: Sequence[str], analyses: Mapping, figures: Mapping) -> list[str]:
    """Every enabled analysis output plus the foundation figures (for the top-level ``all`` rule)."""
    out = figure_targets(results, base_models, modalities, figures)
    root = f"{results}/analyses"
    if analyses["hierarchy"]["enabled"]:
        out += [f"{root}/hierarchy/{m}/hierarchy_correlation.tsv" for m in modalities]
    fc = analyses["forecast"]
    if fc["enabled"]:
        out += [f"{root}/forecast/{model}/{m}/best_distance.tsv" for model in (fc["models"] or base_models)
                for m in selected_modalities(fc, modalities)]
    if analyses["comparison"]["enabled"]:
        out += [f"{root}/comparison/{m}/brain_vs_quality.tsv" for m in modalities]
    sim = analyses["similarity"]
    if sim["enabled"]:
        out += [f"{root}/similarity/{method}.tsv" for method in sim["methods"]]
    ctx = analyses["context"]
    if ctx["enabled"]:
        out += [f"{root}/context/{model}/{m}/context_profile.tsv" for model in (ctx["models"] or base_models)
                for m in selected_modalities(ctx, modalities)]
    return out


def selected_modalities(section: Mapping, modalities: Sequence[str]) -> list[str]:
    """The section's ``modalities`` restricted to the dataset's (all of them when null)."""
    return [m for m in (section.get("modalities") or modalities) if m in modalities]


def check_models(analyses: Mapping, models: Sequence[str]) -> None:
    """Model names listed in the analyses config must be models of the workflow.

    Raises
    ------
    ValueError
        Naming the config key and the unknown model.
    """
    for key in ("forecast", "similarity", "context"):
        for name in analyses[key].get("models") or []:
            if name not in models:
                raise ValueError(f"config key 'analyses.{key}.models': '{name}' is not a model ({', '.join(models)})")


def alternation(names: Sequence[str]) -> str:
    """Regex matching exactly one of ``names`` (a wildcard constraint); matches nothing if empty."""
    import re

    return "|".join(re.escape(n) for n in names) or "(?!)"


def sensitivity_model(analyses: Mapping, models: Sequence[str], default: str) -> str:
    """The model of ``analyses.sensitivity`` (``default`` when null), checked against the workflow's models.

    Raises
    ------
    ValueError
        Naming ``analyses.sensitivity.model`` and the unknown model (only when the analysis is enabled).
    """
    sens = analyses["sensitivity"]
    model = sens["model"] or default
    if sens["enabled"] and model not in models:
        raise ValueError(f"config key 'analyses.sensitivity.model': '{model}' is not a model ({', '.join(models)})")
    return model


def sensitivity_targets(results: str, model: str, modalities: Sequence[str], analyses: Mapping) -> list[str]:
    """The sensitivity analysis' tables of every selected modality (none unless it is enabled)."""
    sens = analyses["sensitivity"]
    if not sens["enabled"]:
        return []
    return [f"{results}/analyses/sensitivity/{model}/{m}/power.tsv" for m in selected_modalities(sens, modalities)]
