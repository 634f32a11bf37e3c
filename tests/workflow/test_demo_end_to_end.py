"""End to end: the workflow recovers what was planted in the demo (`make demo`'s config)."""

import pandas as pd
import pytest
import xarray as xr

from brainalign.io.store import read_zarr

pytestmark = pytest.mark.slow


def _validation(workdir) -> pd.DataFrame:
    (path,) = list((workdir / "results").glob("*/validation.tsv"))
    return pd.read_csv(path, sep="\t")


def test_every_planted_region_is_recovered(demo_run):
    table = _validation(demo_run)
    regions = table[table["region"] != "noise"]
    assert len(regions) >= 4, table
    for row in regions.itertuples():
        assert abs(row.recovered_layer - row.planted_layer) <= 2, row
        assert row.score_model > 0.2, row
        assert row.score_control < row.score_model, row
        assert bool(row.passed), row


def test_noise_only_targets_score_zero(demo_run):
    table = _validation(demo_run)
    noise = table[table["region"] == "noise"]
    assert len(noise) >= 1
    for row in noise.itertuples():
        assert abs(row.score_model) <= 0.03, row


def test_outputs_are_self_describing(demo_run):
    results = next((demo_run / "results").iterdir())
    feats = sorted(results.glob("features/*/*.zarr"))
    assert feats
    ds = read_zarr(feats[0])
    assert ds["hidden"].dims == ("word", "layer", "feature")
    for key in ("model_id", "weights_sha256", "context_mode", "config_hash"):
        assert key in ds.attrs, key
    scores = sorted(results.glob("scores/*/*.zarr"))
    assert scores
    for path in scores:
        sc = read_zarr(path)
        assert {"r", "alpha"} <= set(sc.data_vars)
        assert sc["r"].dims[:2] == ("subject", "layer")


def test_second_run_has_nothing_to_do(demo_run):
    from workflow_runner import run_workflow

    out = run_workflow(demo_run, "-n")
    assert out.returncode == 0, out.stderr
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout + out.stderr


# ---- the seed analyses recover the planted structure (issue: analyses validated on the demo) ------

def _truth(workdir) -> list[dict]:
    import json

    (path,) = list((workdir / "results").glob("*/bids/derivatives/groundtruth/truth.json"))
    return json.loads(path.read_text())["regions"]


def _unit_name(region: dict) -> str:
    """The atlas parcel (fMRI) or channel group (EEG) the analyses report a planted region as."""
    return region["atlas_name"] if region["modality"] == "fmri" else region["channel_group"]


def _analysis_table(workdir, *parts) -> pd.DataFrame:
    (path,) = list((workdir / "results").glob("*/analyses/" + "/".join(parts)))
    return pd.read_csv(path, sep="\t")


@pytest.mark.parametrize("modality", ["fmri", "eeg"])
def test_hierarchy_recovers_each_planted_relative_depth(demo_run, modality):
    best = _analysis_table(demo_run, "hierarchy", modality, "best_layers.tsv")
    best = best[best["model"] == "smollm2"].set_index("region")
    planted = [r for r in _truth(demo_run) if r["modality"] == modality]
    assert planted
    for region in planted:
        got = float(best.loc[_unit_name(region), "best_relative_depth"])
        assert abs(got - region["planted_relative_depth"]) <= 0.1, (region["name"], got, region["planted_relative_depth"])


def test_forecast_region_peaks_ahead_and_the_others_at_zero(demo_run):
    table = _analysis_table(demo_run, "forecast", "smollm2", "fmri", "best_distance.tsv").set_index("region")
    planted = [r for r in _truth(demo_run) if r["modality"] == "fmri"]
    assert any(r["forecast_distance"] > 0 for r in planted)
    for region in planted:
        row = table.loc[_unit_name(region)]
        if region["forecast_distance"] > 0:
            assert row["d_star"] > 0 and bool(row["significant"]), (region["name"], row.to_dict())
        else:
            assert row["d_star"] == 0, (region["name"], row.to_dict())


@pytest.mark.parametrize("modality", ["fmri", "eeg"])
def test_trained_model_beats_its_random_control_in_planted_regions(demo_run, modality):
    table = _analysis_table(demo_run, "comparison", modality, "trained_vs_control.tsv").set_index("region")
    for region in (r for r in _truth(demo_run) if r["modality"] == modality):
        row = table.loc[_unit_name(region)]
        assert row["difference"] > 0 and row["p"] < 0.05, (region["name"], row.to_dict())
