"""Where does the forecast gain F(d) lose on regions with no look-ahead?  (issue 17, part 1)

Runs on a finished demo's inputs (``results/<ds>/`` with bids/, features/, preproc/fmri/) and fits,
on the voxels of the demo's planted fMRI regions only (each voxel's ridge is independent, so the
region means equal those of the full run):

* ``shared``          one penalty over present + window (the fit before issue 17);
* ``banded``          one penalty per band (analyses.forecast.penalty: banded);
* ``shared_null``     shared penalty, window = the same words' features in shuffled order (same
                      dimensionality, no information): the cost of the window's dimensionality;
* ``banded_null``     the same null window with the banded penalty;
* ``shared_trimmed``  shared penalty, base and joint refitted on the story parts where the window
                      exists (no zero-padded words at the story's end): the cost of those rows.

Prints and writes a table of F(d) (Pearson r, each side's best of the forecast layers, mean over
subjects) per planted region, condition and distance, and the per-subject values (``OUT.subjects.tsv``).

Usage: ``PYTHONPATH=workflow python benchmarks/forecast_penalty.py results/demo out.tsv [--config config/config.yaml]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from brainalign.analyses.forecast import forecast_gain
from brainalign.analyses.forecast_fit import forecast_layers, forecast_window, window_scores
from brainalign.analyses.regions import attach_regions, find_region_sources
from brainalign.config_sections import with_defaults
from brainalign.encoding import encode_dataset
from brainalign.encoding.settings import encoding_settings
from brainalign.io.store import read_zarr


def _labels(results: Path, recording: xr.DataArray) -> np.ndarray:
    """The analysis regions (atlas parcels, analyses.regions defaults) of every voxel."""
    sources = find_region_sources(str(results / "bids"), with_defaults("analyses.regions", {}))
    dummy = xr.Dataset({"r": (("subject", "layer", "voxel"), np.zeros((1, 1, recording.sizes["voxel"])))},
                       coords={**{c: recording[c] for c in ("voxel", "x", "y", "z")}, "layer": [0],
                               "relative_depth": ("layer", [0.0])})
    return attach_regions(dummy, sources)["region"].values.astype(str)


def _inputs(results: Path, model: str, config: Path):
    truth = json.loads((results / "bids/derivatives/groundtruth/truth.json").read_text())
    planted = {r["atlas_name"]: r for r in truth["regions"] if r["modality"] == "fmri"}
    stories = truth["stories"]
    cfg = yaml.safe_load(config.read_text())
    labels = _labels(results, read_zarr(results / f"preproc/fmri/sub-{truth['subjects'][0]}/{stories[0]}.zarr")["data"])
    keep = np.flatnonzero(np.isin(labels, list(planted)))
    features = {s: read_zarr(results / f"features/{model}/{s}.zarr") for s in stories}
    all_layers = features[stories[0]]["layer"].values
    encoding, _, stride = encoding_settings(with_defaults("encoding", cfg.get("encoding", {})), cfg.get("seed", 0))
    layers = forecast_layers(all_layers[::stride], all_layers, {"layers": None, "n_layers": 5})
    features = {s: ds.sel(layer=layers).load() for s, ds in features.items()}
    recordings = {}
    for sub in truth["subjects"]:
        recordings[sub] = {}
        for s in stories:
            da = read_zarr(results / f"preproc/fmri/sub-{sub}/{s}.zarr")["data"].isel(voxel=keep).load()
            recordings[sub][s] = da.assign_coords(region=("voxel", labels[keep]))
    design = with_defaults("design.fmri", cfg.get("design", {}).get("fmri", {}))
    opts = dict(modality="fmri", design=design, encoding=encoding)
    names = {k: f"{k} ({v['name']}, look-ahead {v['forecast_distance']})" for k, v in planted.items()}
    return features, recordings, opts, names


def _trim(features, recordings, d):
    """Stories cut before the first word whose window runs past the end (and the volumes after its onset)."""
    feats, recs = {}, {}
    for s, ds in features.items():
        n = ds.sizes["word"] - d
        feats[s] = ds.isel(word=slice(0, n))
        cut = float(ds["onset"].values[n])
        for sub, runs in recordings.items():
            recs.setdefault(sub, {})[s] = runs[s].sel(time=runs[s]["time"] < cut)
    return feats, recs


def _shuffled(window, seed=0):
    rng = np.random.default_rng(seed)
    return {s: w.isel(word=rng.permutation(w.sizes["word"])).assign_coords(word=w["word"].values)
            for s, w in window.items()}


def _gain(base, joint):
    """F per subject and region (each side's best layer)."""
    return forecast_gain(base, {1: joint}, layer="peak").isel(distance=0).to_pandas()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--distances", type=int, nargs="+", default=[5, 10, 20, 30])
    ap.add_argument("--null-at", type=int, nargs="*", default=[20], help="distances of the null-window conditions")
    ap.add_argument("--trim-at", type=int, nargs="*", default=[20, 30], help="distances of the trimmed condition")
    ap.add_argument("--min-improvement", type=float, default=None, help="banded: default of the library if not given")
    ap.add_argument("--scalings", type=float, nargs="+", default=None,
                    help="banded: default of the library if not given")
    ap.add_argument("--conditions", nargs="+", default=["shared", "banded", "shared_null", "banded_null",
                                                         "shared_trimmed"])
    args = ap.parse_args()
    features, recordings, opts, names = _inputs(args.results, args.model, args.config)
    opts_banded = {k: v for k, v in (("min_improvement", args.min_improvement), ("scalings", args.scalings))
                   if v is not None}
    base = encode_dataset(features, recordings, **opts)
    rows = []

    def add(cond, d, gain):
        rows.extend({"region": names[k], "subject": sub, "condition": cond, "distance": d, "F": float(gain.loc[sub, k])}
                    for sub in gain.index for k in gain.columns)
        print(cond, d, gain.mean().round(4).to_dict(), flush=True)

    for d in args.distances:
        window = forecast_window(features, d)
        for penalty in (c for c in ("shared", "banded") if c in args.conditions):
            extra = opts_banded if penalty == "banded" else {}
            joint = window_scores(features, window, recordings, penalty=penalty, window_alone=False, **extra, **opts)
            add(penalty, d, _gain(base, joint))
        if d in args.null_at:
            null = _shuffled(window)
            for penalty in (c for c in ("shared", "banded") if f"{c}_null" in args.conditions):
                extra = opts_banded if penalty == "banded" else {}
                add(f"{penalty}_null", d, _gain(base, window_scores(features, null, recordings, penalty=penalty,
                                                                   window_alone=False, **extra, **opts)))
        if d not in args.trim_at or "shared_trimmed" not in args.conditions:
            continue
        feats_t, recs_t = _trim(features, recordings, d)
        # the last kept words may fall just past the last kept volume: leave those out
        base_t = encode_dataset(feats_t, recs_t, on_beyond_end="drop", **opts)
        trimmed = window_scores(feats_t, forecast_window(feats_t, d), recs_t, penalty="shared", window_alone=False,
                                on_beyond_end="drop", **opts)
        add("shared_trimmed", d, _gain(base_t, trimmed))
    long = pd.DataFrame(rows)
    long.to_csv(args.out.with_suffix(".subjects.tsv"), sep="\t", index=False)
    table = long.pivot_table(index=["region", "condition"], columns="distance", values="F")  # mean over subjects
    args.out.write_text(table.round(4).to_csv(sep="\t"))
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
