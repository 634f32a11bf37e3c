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
