"""brainalign.analyses.hierarchy_analysis: the hierarchy coordinate and the analysis in one call."""

import pytest

from brainalign.analyses import best_layers
from brainalign.analyses.hierarchy_analysis import ELECTRODE_COLUMNS, hierarchy_analysis, hierarchy_coordinate
from brainalign.analyses.synthetic import make_scores
from brainalign.config_sections import with_defaults

# MEG: deeper regions respond later; "silent" has no signal (its latency is noise).
MEG = {"early": {"depth": 0.2, "latency": 0.1}, "middle": {"depth": 0.5, "latency": 0.25},
       "late": {"depth": 0.8, "latency": 0.4}, "silent": {"amplitude": 0.0, "latency": 0.05}}
FMRI = {"early": {"depth": 0.2}, "middle": {"depth": 0.5}, "late": {"depth": 0.8}}


def _analyses(**hierarchy) -> dict:
    return with_defaults("analyses", {"hierarchy": hierarchy})


@pytest.fixture(scope="module")
def meg():
    return make_scores(MEG, modality="meg", n_layers=10, n_subjects=6, seed=3)


def test_latency_of_responsive_regions_only(meg):
    an = _analyses()
    best = best_layers(meg, lag_reduce=an["lag_reduce"])
    position, xlabel, source = hierarchy_coordinate(meg, best, an["hierarchy"])
    assert source == "latency" and "latency" in xlabel
    assert set(position) == {"early", "middle", "late"}  # the silent region's peak is not above 0
    assert position["early"] < position["middle"] < position["late"]
    loose, _, _ = hierarchy_coordinate(meg, best, {**an["hierarchy"], "latency_max_p": 1.0})
    assert set(loose) == set(MEG)  # the threshold is what drops it


def test_meg_analysis_correlates_latency_with_depth(meg):
    result = hierarchy_analysis({"m": meg, "m_random": meg}, ["m"], _analyses())
    assert set(result.best) == {"m", "m_random"}
    row = result.correlation.iloc[0]
    assert list(result.correlation.columns[:5]) == ["model", "position_source", "scope", "region", "subject"]
    assert (row["model"], row["position_source"], row["n"]) == ("m", "latency", 3)
    assert row["spearman_rho"] == pytest.approx(1.0)
    assert result.figure.kind == "regions" and result.figure.model == "m"
    assert list(result.electrodes.columns) == ELECTRODE_COLUMNS and result.electrodes.empty
    assert set(result.fraction["model"]) == {"m", "m_random"}


def test_configured_positions_win_and_fmri_without_them_has_none():
    fmri = make_scores(FMRI, n_layers=10, n_subjects=4, seed=1)
    none = hierarchy_analysis({"m": fmri}, ["m"], _analyses())
    assert none.correlation.iloc[0]["position_source"] == "none" and none.correlation.iloc[0]["n"] == 0
    assert none.figure.kind == "none"
    configured = hierarchy_analysis({"m": fmri}, ["m"], _analyses(positions={"early": 1, "middle": 2, "late": 3}))
    row = configured.correlation.iloc[0]
    assert row["position_source"] == "positions" and row["n"] == 3 and row["spearman_rho"] == pytest.approx(1.0)
