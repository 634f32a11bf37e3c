"""Layer-profile, hierarchy, comparison, forecast and context curves (brainalign.plotting.curves)."""

from __future__ import annotations

import pandas as pd

from brainalign import analyses as A
from brainalign import plotting as P
from brainalign.analyses.synthetic import make_scores
from tests.figure_checks import is_png


def test_curves(regions, fmri, tmp_path):
    control = make_scores({k: {**v, "amplitude": 0.05} for k, v in regions.items()}, n_layers=8, n_subjects=3, seed=5)
    profiles = {"model": A.layer_profiles(fmri), "model_random": A.layer_profiles(control)}
    assert is_png(P.plot_layer_profiles(profiles, tmp_path / "prof.png", controls=("model_random",)))
    best = A.best_layers(fmri)
    assert is_png(P.plot_best_depths({"model": best}, tmp_path / "best.png"))
    corr = A.hierarchy_correlation({"early": 1, "late": 2, "noise": 3}, best)
    assert is_png(P.plot_hierarchy(best, {"early": 1, "late": 2, "noise": 3}, corr, tmp_path / "h.png"))
    assert is_png(P.plot_control_comparison(A.compare_to_control(fmri, control), tmp_path / "ctrl.png"))
    fop = A.fraction_of_peak_table({"model": fmri, "model_random": control})
    assert is_png(P.plot_fraction_of_peak(fop, tmp_path / "fop.png"))
    brain = pd.concat([A.peak_scores(fmri, model="model"), A.peak_scores(control, model="model_random")],
                      ignore_index=True)
    table, cor = A.brain_vs_quality(brain, A.quality_table({"model": 20.0, "model_random": 5000.0}))
    assert is_png(P.plot_quality(table, cor, tmp_path / "q.png"))
    assert is_png(P.plot_quality(table, cor, tmp_path / "q_bb.png", quality="brainbench_accuracy"))


def test_forecast_and_context_curves(regions, fmri, tmp_path):
    by_d = {d: make_scores(regions, n_layers=8, n_subjects=3, seed=d) for d in (1, 2, 4)}
    gain = A.forecast_gain(fmri, by_d)
    assert is_png(P.plot_forecast(A.forecast_table(gain), A.best_distance(gain), tmp_path / "f.png"))
    ctx = A.context_profile(A.context_scores({0: fmri, 16: by_d[1], 128: by_d[2]}))
    assert is_png(P.plot_context(ctx, tmp_path / "c.png"))
