"""Bookkeeping of the figure and analysis rules (workflow/rules/figures.smk, analyses.smk).

Kept here, not in the rule files, so that the rules stay declarative and this logic is testable.
"""

from __future__ import annotations

from typing import Mapping, Sequence

#: Output files of the analysis rules, relative to ``results/<ds>/analyses/<analysis>/``: the one place
#: their names are written (the rules and :func:`analysis_targets` both build paths with
#: :func:`analysis_file`).  Fields in braces are Snakemake wildcards; ``{ext}`` is ``figures.format``.
FILES: dict[str, dict[str, str]] = {
    "hierarchy": {
        "best": "{modality}/best_layers.tsv",
        "fraction": "{modality}/fraction_of_peak.tsv",
        "correlation": "{modality}/hierarchy_correlation.tsv",
        "electrodes": "{modality}/electrode_hierarchy.tsv",
        "best_figure": "{modality}/best_depth_by_region_and_model.{ext}",
        "fraction_figure": "{modality}/depth_reaching_fraction_of_peak_by_model.{ext}",
        "hierarchy_figure": "{modality}/hierarchy_position_vs_best_depth.{ext}",
    },
    "forecast": {
        "scores": "{model}/{modality}/scores.zarr",
        "table": "{model}/{modality}/forecast_gain.tsv",
        "best": "{model}/{modality}/best_distance.tsv",
        "figure": "{model}/{modality}/forecast_gain_by_distance_and_region.{ext}",
        "map": "{model}/{modality}/best_distance_map.{ext}",
        "bands": "{model}/{modality}/forecast_gain_by_band.tsv",
        "bands_figure": "{model}/{modality}/forecast_gain_by_band.{ext}",
    },
    "forecast_depth": {
        "scores": "{model}/{modality}/scores.zarr",
        "table": "{model}/{modality}/gain_by_distance_and_depth.tsv",
        "best": "{model}/{modality}/best_distance_and_depth.tsv",
        "correlation": "{model}/{modality}/hierarchy_correlation.tsv",
        "figure": "{model}/{modality}/gain_by_distance_and_depth_per_region.{ext}",
    },
    "comparison": {
        "table": "{modality}/brain_vs_quality.tsv",
        "correlations": "{modality}/quality_correlations.tsv",
        "control": "{modality}/trained_vs_control.tsv",
        "perplexity_figure": "{modality}/brain_score_vs_perplexity.{ext}",
        "brainbench_figure": "{modality}/brain_score_vs_brainbench.{ext}",
        "control_figure": "{modality}/trained_vs_random_init_{trained}.{ext}",
    },
    "similarity": {
        "table": "{method}.tsv",
        "figure": "{method}_layer_by_layer_all_model_pairs.{ext}",
    },
    "context": {
        "features": "{model}/features/ctx{context}/{story}.zarr",
        "scores": "{model}/{modality}/scores_ctx{context}.zarr",
        "table": "{model}/{modality}/context_profile.tsv",
        "gain": "{model}/{modality}/context_gain.tsv",
        "figure": "{model}/{modality}/brain_score_vs_context_length.{ext}",
    },
    "sensitivity": {
        "power": "{model}/{modality}/power.tsv",
        "curve": "{model}/{modality}/curve.tsv",
        "observed": "{model}/{modality}/observed_snr.tsv",
        "targets": "{model}/{modality}/targets.tsv",
        "summary": "{model}/{modality}/summary.json",
        "figure": "{model}/{modality}/power_curve.{ext}",
    },
}


#: Output files of the foundation-figure rules (workflow/rules/figures.smk), relative to
#: ``results/<ds>/figures/``; used by the rules and :func:`figure_targets` through :func:`figure_file`.
FIGURE_FILES: dict[str, str] = {
    "layer_profiles": "{model}/{modality}/layer_profiles_by_region.{ext}",
    "best_layers": "{model}/{modality}/best_layer_by_region.{ext}",
    "layer_profiles_table": "{model}/{modality}/layer_profiles.tsv",
    "best_layers_table": "{model}/{modality}/best_layers.tsv",
    "brain_score_map": "{model}/fmri/brain_score_{kind}.{ext}",
    "best_layer_map": "{model}/fmri/best_layer_{kind}.{ext}",
    "brain_score_nifti": "{model}/fmri/brain_score.nii.gz",
    "depth_nifti": "{model}/fmri/best_relative_depth.nii.gz",
    "time_courses": "{model}/{modality}/time_courses_by_region.{ext}",
    "time_courses_table": "{model}/{modality}/time_courses.tsv",
    "topomaps": "{model}/{modality}/topomaps_by_layer.{ext}",
    "electrodes": "{model}/ieeg/electrodes_on_brain.{ext}",
}


class _KeepWildcards(dict):
    """``str.format_map`` mapping that leaves the fields it lacks as ``{name}`` (Snakemake wildcards)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def figure_file(results: str, key: str, **fields: str) -> str:
    """Path of one foundation-figure output (``key`` of :data:`FIGURE_FILES`); see :func:`analysis_file`."""
    return f"{results}/figures/{FIGURE_FILES[key]}".format_map(_KeepWildcards(fields))


def analysis_file(results: str, analysis: str, key: str, **fields: str) -> str:
    """Path of one output (``key`` of :data:`FILES`) of ``analysis``.

    Fields given (``modality="fmri"``, ``ext="png"``) are filled in; the others stay Snakemake
    wildcards (``{model}``), so the rules get their output patterns and :func:`analysis_targets`
    concrete files from the same template.
    """
    return f"{results}/analyses/{analysis}/{FILES[analysis][key]}".format_map(_KeepWildcards(fields))


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
    ext = figures["format"]
    out = []
    for model in base_models:
        for modality in modalities:
            fields = {"model": model, "modality": modality, "ext": ext}
            out += [figure_file(results, "layer_profiles", **fields), figure_file(results, "best_layers", **fields)]
            if modality == "fmri":
                out += [figure_file(results, what, kind=kind, **fields) for what in ("brain_score_map", "best_layer_map")
                        for kind in figures["map_kinds"]]
            elif modality == "ieeg":
                # implanted electrodes on a glass brain; a scalp topomap would interpolate between them
                out += [figure_file(results, "electrodes", **fields), figure_file(results, "time_courses", **fields)]
            else:
                out += [figure_file(results, "topomaps", **fields), figure_file(results, "time_courses", **fields)]
    return out


def analysis_targets(results: str, base_models: Sequence[str], models: Sequence[str],
                     modalities: Sequence[str], analyses: Mapping, figures: Mapping) -> list[str]:
    """Every enabled analysis output plus the foundation figures (for the top-level ``all`` rule)."""
    out = figure_targets(results, base_models, modalities, figures)
    if analyses["hierarchy"]["enabled"]:
        out += [analysis_file(results, "hierarchy", "correlation", modality=m) for m in modalities]
    fc = analyses["forecast"]
    if fc["enabled"]:
        out += [analysis_file(results, "forecast", "best", model=model, modality=m)
                for model in (fc["models"] or base_models) for m in selected_modalities(fc, modalities)]
    if depth_enabled(fc):
        out += [analysis_file(results, "forecast_depth", "best", model=model, modality=m)
                for model in (fc["models"] or base_models) for m in selected_modalities(fc, modalities)]
    if analyses["comparison"]["enabled"]:
        out += [analysis_file(results, "comparison", "table", modality=m) for m in modalities]
    sim = analyses["similarity"]
    if sim["enabled"]:
        out += [analysis_file(results, "similarity", "table", method=method) for method in sim["methods"]]
    ctx = analyses["context"]
    if ctx["enabled"]:
        out += [analysis_file(results, "context", "table", model=model, modality=m)
                for model in (ctx["models"] or base_models) for m in selected_modalities(ctx, modalities)]
    return out


def depth_enabled(forecast: Mapping) -> bool:
    """Whether ``analyses.forecast`` asks for the forecast-depth analysis: on, with some window layer
    (``depth_layers`` non-empty, or null with ``n_depth_layers > 0``)."""
    if not forecast["enabled"]:
        return False
    if forecast["depth_layers"] is not None:
        return len(forecast["depth_layers"]) > 0
    return int(forecast["n_depth_layers"]) > 0


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
    return [analysis_file(results, "sensitivity", "power", model=model, modality=m)
            for m in selected_modalities(sens, modalities)]
