"""Bookkeeping of the figure/analysis rules and the config defaults (brainalign.analyses.plan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainalign.analyses import plan
from brainalign.config_sections import defaults, with_defaults


def test_with_defaults_overrides_nested_keys_only():
    cfg = with_defaults("analyses", {"forecast": {"distances": [3]}, "hierarchy": {"positions": {"A1": 1}}})
    assert cfg["forecast"]["distances"] == [3] and cfg["forecast"]["width"] == defaults("analyses.forecast.width") == 1
    assert cfg["hierarchy"]["positions"] == {"A1": 1}
    assert cfg["sensitivity"]["latents"]["n_pcs"] == 8                 # nested defaults are filled
    assert with_defaults("figures")["format"] == "png"
    assert defaults("analyses.forecast.distances") == [1, 2, 4, 6, 8, 12, 20, 30]  # defaults not mutated
    with pytest.raises(Exception, match="analyses.typo"):
        with_defaults("analyses", {"typo": 1})


def test_targets_follow_modalities_and_switches():
    an = with_defaults("analyses", {"context": {"enabled": True, "lengths": [0, 8]}})
    fig = with_defaults("figures", {"map_kinds": ["glass"], "format": "svg"})
    out = plan.analysis_targets("results/demo", ["m"], ["m", "m_random"], ["fmri", "eeg"], an, fig)
    assert "results/demo/figures/m/fmri/brain_score_glass.svg" in out
    assert "results/demo/figures/m/eeg/topomaps_by_layer.svg" in out
    assert not any("m_random" in p for p in out)      # controls appear inside their model's figures
    assert not any("eeg/brain_score" in p or "fmri/topomaps" in p for p in out)
    assert "results/demo/analyses/forecast/m/fmri/best_distance.tsv" in out
    assert "results/demo/analyses/forecast/m/eeg/best_distance.tsv" not in out   # fMRI only by default
    assert "results/demo/analyses/context/m/fmri/context_profile.tsv" in out
    assert "results/demo/analyses/similarity/cka.tsv" in out
    off = with_defaults("analyses", {k: {"enabled": False} for k in
                                     ("hierarchy", "forecast", "comparison", "similarity", "context")})
    assert plan.analysis_targets("r", ["m"], ["m"], ["fmri"], off, fig) == plan.figure_targets("r", ["m"], ["fmri"], fig)


def test_check_models_names_the_key():
    an = with_defaults("analyses", {"forecast": {"models": ["nope"]}})
    with pytest.raises(ValueError, match="analyses.forecast.models"):
        plan.check_models(an, ["m"])
    assert plan.alternation([]) == "(?!)" and plan.alternation(["a.b"]) == r"a\.b"


def test_output_names_are_written_only_in_the_plan_modules():
    """The rules build the analyses/figures/BrainBench output paths from the plan modules' templates."""
    import re

    from brainalign.brainbench import plan as bb_plan

    repo = Path(__file__).resolve().parents[3]
    code = "\n".join(line.split("#")[0] for rules in sorted((repo / "workflow" / "rules").glob("*.smk"))
                     for line in rules.read_text().splitlines()
                     if "/logs/" not in line and "/benchmarks/" not in line)  # log names echo the outputs
    templates = [v for files in plan.FILES.values() for v in files.values()] + list(plan.FIGURE_FILES.values())
    templates += list(bb_plan.FILES.values()) + list(bb_plan.LORA_FILES.values())
    for template in templates:
        # the last literal piece of the file name, e.g. "best_distance.tsv", "_layer_by_layer_all_model_pairs."
        name = max(re.split(r"\{[^}]*\}", template.rsplit("/", 1)[-1]), key=len)
        if "." not in name or re.fullmatch(r"\.?\w{1,5}", name):
            continue  # only an extension ("{method}.tsv") or a stem that also names keys ("brain_score_")
        assert name not in code, f"{name!r} is written in workflow/rules again; use the plan's template"
    assert plan.analysis_file("r", "forecast", "best", model="m", modality="fmri") == "r/analyses/forecast/m/fmri/best_distance.tsv"
    assert plan.figure_file("r", "topomaps", modality="{meeg}", ext="svg") == "r/figures/{model}/{meeg}/topomaps_by_layer.svg"
