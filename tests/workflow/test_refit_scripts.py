"""The sharded refits' rule scripts (issue 16): forecast_shard + forecast_gather, forecast_depth_shard +
forecast_depth_gather and context_shard + context_gather, run on voxel-chunked stores, write exactly the
stores the single jobs' scripts (forecast_scores, forecast_depth_scores, context_scores) write: the same
variables, coordinates, values (max |dr| <= 1e-6, the same alphas) and attributes (config hash included)."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from tests.synthetic_features import random_features

from brainalign.config_sections import with_defaults
from brainalign.design.fmri import apply_operator, fmri_operator
from brainalign.encoding import encode_dataset
from brainalign.encoding.settings import design_settings, encoding_settings
from brainalign.encoding.shards import Shard
from brainalign.io.store import read_zarr, target_chunks, write_zarr

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
STORIES = ["s1", "s2", "s3"]
SUBJECTS = ["01", "02"]
TR = 2.0


class Files(list):
    """A Snakemake input/output list: by position and by name."""

    def __init__(self, items=(), **named):
        super().__init__(items)
        self.__dict__.update(named)


def _run(script: str, tmp: Path, *, input: Files, output: list, params: dict, **wildcards) -> None:
    log = tmp / "logs" / f"{script}-{len(list(tmp.glob('logs/*')))}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    smk = SimpleNamespace(input=input, output=Files(output), params=SimpleNamespace(**params), log=[str(log)],
                          wildcards=SimpleNamespace(**wildcards), threads=1)
    runpy.run_path(str(SCRIPTS / f"analysis_{script}.py"), init_globals={"snakemake": smk}, run_name="__main__")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Features (3 layers) of 3 stories and 2 subjects' voxel-chunked fMRI runs, as the workflow stores them."""
    tmp = tmp_path_factory.mktemp("refit_scripts")
    rng = np.random.default_rng(3)
    feats = random_features(rng, 3, 5, 120, tuple(STORIES))
    features = []
    for story, ds in feats.items():
        features.append(str(tmp / "features" / f"{story}.zarr"))
        write_zarr(ds, features[-1])
    runs, recordings = [], []
    for sub in SUBJECTS:
        for story, f in feats.items():
            x = f.hidden.sel(layer=1)
            ahead = xr.zeros_like(x)
            ahead[:-2] = x.values[2:]
            times = (np.arange(2, int(f.onset.values[-1] / TR) + 8) + 0.5) * TR
            sig = apply_operator(fmri_operator(f.onset.values, times, TR), x + ahead).values[:, :4]
            data = rng.standard_normal((times.size, 10))
            data[:, :4] += sig / sig.std(0)
            da = xr.DataArray(data.astype(np.float32), dims=("time", "voxel"), name="data", coords={
                "time": times, "x": ("voxel", np.arange(10) * 4.0), "y": ("voxel", np.zeros(10)),
                "z": ("voxel", np.ones(10))}, attrs={"tr": TR})
            runs.append((sub, story))
            recordings.append(str(tmp / "preproc" / f"sub-{sub}_{story}.zarr"))
            write_zarr(da, recordings[-1], encoding=target_chunks(da, chunk_mb=0.0001))
    # base scores: their layers are what the forecast analysis compares
    encoding = with_defaults("encoding", {"alphas": {"start": -1, "stop": 4, "num": 6}, "inner_folds": 3,
                                          "ceiling": "intersubject"})
    encoding.pop("max_job_memory_gb")
    design = design_settings("fmri", method="hrf")
    opened = {s: {t: read_zarr(p)["data"] for (s2, t), p in zip(runs, recordings) if s2 == s} for s in SUBJECTS}
    base = str(tmp / "base.zarr")
    write_zarr(encode_dataset(feats, opened, modality="fmri", design=design,
                              encoding=encoding_settings(encoding, 0)[0]), base)
    forecast = with_defaults("analyses", {"forecast": {"distances": [1, 2], "n_layers": 2, "depth_layers": [0, 2],
                                                       "window_scalings": [0.5, 1.0]}})["forecast"]
    common = {"stories": STORIES, "design": design, "encoding": encoding, "seed": 0, "on_beyond_end": "error",
              "word_tables": {}}
    return SimpleNamespace(tmp=tmp, features=features, runs=runs, recordings=recordings, base=base,
                           forecast=forecast, common=common)


def _shards(n_blocks: int) -> list[dict]:
    return [vars(Shard(id=f"g0-l0-t{t}", subjects=tuple(SUBJECTS), layer_block=0, n_layer_blocks=1,
                       target_block=t, n_target_blocks=n_blocks, mem_mb=1000)) for t in range(n_blocks)]


def _same(sharded: str, single: str) -> float:
    a, b = read_zarr(sharded, load=True), read_zarr(single, load=True)
    assert set(a.data_vars) == set(b.data_vars) and dict(a.sizes) == dict(b.sizes)
    assert a.attrs == b.attrs  # provenance (config hash) included
    for name in b.coords:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    for name in b.data_vars:
        assert a[name].attrs == b[name].attrs, name
        np.testing.assert_allclose(a[name].values, b[name].values, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(a.alpha.values, b.alpha.values)
    return float(np.nanmax(np.abs(a.r.values - b.r.values)))


@pytest.mark.parametrize("analysis", ["forecast", "forecast_depth"])
def test_forecast_shards_and_gather_write_the_single_jobs_store(stores, analysis):
    s, tmp = stores, stores.tmp / analysis
    inputs = dict(base=s.base, features=s.features, words=[])
    params = {**s.common, "forecast": s.forecast}
    single = str(tmp / "single.zarr")
    _run(f"{analysis}_scores", tmp, input=Files(recordings=s.recordings, **inputs), output=[single],
         params={**params, "runs": s.runs}, model="m", modality="fmri")
    parts = []
    for shard in _shards(3):
        parts.append(str(tmp / "shards" / f"{shard['id']}.pkl"))
        _run(f"{analysis}_shard", tmp, input=Files(recordings=s.recordings, **inputs), output=[parts[-1]],
             params={**params, "runs": s.runs, "shard": shard}, model="m", modality="fmri", shard=shard["id"])
    sharded = str(tmp / "sharded.zarr")
    _run(f"{analysis}_gather", tmp, input=Files(shards=parts), output=[sharded],
         params={"subjects": SUBJECTS, "forecast": s.forecast, "design": s.common["design"],
                 "encoding": s.common["encoding"]}, model="m", modality="fmri")
    print(f"{analysis}: max |dr| = {_same(sharded, single):.2e}")


def test_context_shards_and_gather_write_the_single_jobs_store(stores):
    s, tmp = stores, stores.tmp / "context"
    single = str(tmp / "single.zarr")
    inputs = dict(features=s.features, words=[])
    _run("context_scores", tmp, input=Files(recordings=s.recordings, **inputs), output=[single],
         params={**s.common, "runs": s.runs}, model="m", modality="fmri", context="8")
    parts = []
    for shard in _shards(2):
        parts.append(str(tmp / "shards" / f"{shard['id']}.pkl"))
        _run("context_shard", tmp, input=Files(recordings=s.recordings, **inputs), output=[parts[-1]],
             params={**s.common, "runs": s.runs, "shard": shard}, model="m", modality="fmri", context="8",
             shard=shard["id"])
    sharded = str(tmp / "sharded.zarr")
    _run("context_gather", tmp, input=Files(shards=parts), output=[sharded],
         params={"subjects": SUBJECTS, "design": s.common["design"], "encoding": s.common["encoding"]},
         model="m", modality="fmri", context="8")
    dr = _same(sharded, single)
    print(f"context: max |dr| = {dr:.2e}")
    assert "ceiling" in read_zarr(single)  # the inter-subject ceiling, per target block in the shards
