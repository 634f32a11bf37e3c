"""Defaults of the ``analyses`` and ``figures`` config sections (mirrors config.schema.yaml).

The rules read their settings through :func:`merged` so that a config written before a key
existed still gets the documented default.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

ANALYSES: dict[str, Any] = {
    "score": "r",                 # score variable of the Scores stores (r | r2)
    "lag_reduce": "mean",         # MEG/EEG: mean (unbiased for noise) or peak (max) score over lags
    "confidence": 0.95,           # level of the across-subject bands
    # Where targets get their region when preprocessing attached none ("auto": the BIDS root's
    # derivatives/atlas/*_dseg.nii.gz (+ .tsv) and *_channelgroups.tsv, as the demo ships; null: none).
    # iEEG electrodes: electrodes.tsv labels and/or the atlas at their MNI position (nearest
    # labelled voxel within the radius, mm).
    "regions": {"atlas": "auto", "atlas_labels": "auto", "channel_groups": "auto", "ieeg": "auto",
                "ieeg_radius_mm": 5.0},
    # iEEG: distance from primary auditory cortex (MNI mm) per hemisphere is the hierarchy coordinate.
    "hierarchy": {"enabled": True, "positions": {}, "fraction": 0.95,
                  "ieeg_reference": {"left": [-45.0, -20.0, 8.0], "right": [45.0, -20.0, 8.0]},
                  "ieeg_fdr_q": 0.05, "ieeg_min_score": 0.0},
    "forecast": {"enabled": True, "distances": [1, 2, 4, 6, 8, 12, 20, 30], "width": 1, "combine": "concat",
                 "layers": None, "n_layers": 5, "layer": "peak", "min_gain": 0.01, "alpha": 0.05,
                 # fMRI by default: with word-locked MEG/EEG lags, words d ahead fall inside the lag
                 # window, so F(d) there mixes their own evoked response with any forecast.
                 "models": None, "modalities": ["fmri"]},
    "comparison": {"enabled": True, "brainbench_testset": None},
    "similarity": {"enabled": True, "methods": ["cka"], "debiased": True, "standardize": True, "max_words": 1000,
                   "models": None},
    "context": {"enabled": False, "lengths": [0, 4, 16, 64, 256], "layers": None, "n_layers": 6,
                "models": None, "modalities": None},
    # What can this dataset resolve? (brainalign.analyses.sensitivity).  Latent settings = the demo
    # simulator's (brainalign.demo.params.DEFAULT_PARAMS), so planted signals look like the demo's.
    "sensitivity": {"enabled": False, "model": None, "modalities": None, "depths": [0.25, 0.5, 0.75],
                    "snrs": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0], "n_targets": [20], "n_null": 100, "n_repeats": 2,
                    "hosts": "weakest", "host_quantile": 0.5, "shift_hosts": True, "layers": None, "n_layers": 8,
                    "n_permutations": 1000, "fdr_q": 0.05, "quantiles": [0.5, 0.9, 0.99], "seed": None,
                    "latents": {"n_latents": 4, "n_pcs": 8, "specificity": 0.5, "specificity_distance": 3},
                    "meeg_kernel": {"peak": 0.3, "width": 0.08, "length": 0.6}},
}

FIGURES: dict[str, Any] = {
    "format": "png",              # png | svg
    "max_regions": 8,             # panels per figure: the best regions by peak score
    "regions": [],                # regions always shown
    "map_kinds": ["glass", "surface"],
    "min_score": 0.02,            # best-layer maps: voxels whose peak score is below are not drawn
    "topomap_layers": None,       # layers shown as topomaps (default: up to 8 evenly spaced)
}


def _merge(base: dict, override: Mapping | None) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict) and key != "positions":
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merged(section: str, config: Mapping | None) -> dict:
    """Defaults of ``section`` (``"analyses"`` or ``"figures"``) updated with the config's values."""
    if section not in ("analyses", "figures"):
        raise ValueError(f"unknown section {section!r}")
    return _merge(ANALYSES if section == "analyses" else FIGURES, (config or {}).get(section))


def evenly_spaced_layers(layers, n: int | None) -> list[int]:
    """At most ``n`` layers spread evenly over ``layers`` (first and last included)."""
    import numpy as np

    layers = sorted(int(x) for x in layers)
    if n is None or n >= len(layers):
        return layers
    idx = np.unique(np.rint(np.linspace(0, len(layers) - 1, max(1, n))).astype(int))
    return [layers[i] for i in idx]
