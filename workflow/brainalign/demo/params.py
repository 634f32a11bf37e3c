"""Parameters of the demo simulator: defaults, documentation and validation.

``params`` given to :func:`brainalign.demo.generate_demo` are merged over :data:`DEFAULT_PARAMS`
(nested mappings key by key, lists replaced whole); an unknown key is an error naming it.

Keys
----
n_subjects : int
    Number of simulated subjects (``sub-01`` ...).  Default 3.
n_latents : int
    Latent time courses per planted region (random projections of the layer's features that the
    region's voxels/channels mix).  Default 4.
n_pcs : int
    The projection is restricted to the top ``n_pcs`` principal components of the standardised
    layer features, so that a ridge encoder can learn it from a few hundred samples.  Default 8.
specificity : float
    Fraction (0..1) of the part of the driving latents that the layers ``specificity_distance``
    away can explain, removed from the latents.  Residual-stream layers are highly correlated;
    this makes the planted layer win clearly.  0 = plain projection.  Default 0.5.
specificity_distance : int
    Distance (layers) of the neighbours the latents are decorrelated from.  Default 3.
fmri : mapping
    ``tr`` (s, 1.5), ``voxel_size`` (mm, 6; 4 or 6 ... any resolution nilearn's MNI152 mask
    offers), ``n_dummy_trs`` (non-steady-state volumes at the start, 3), ``tail`` (s of scanning
    after the last word, 10), ``snr`` (variance of the planted signal / variance of the
    unstructured noise in a planted voxel, 2.5), ``ar1`` (AR(1) coefficient of the noise, 0.3),
    ``smoothness_mm`` (FWHM of the spatial noise smoothing, 9), ``drift`` (sd of slow drifts
    relative to the unstructured noise, 1.0), ``motion`` (sd of motion-driven signal relative to
    the unstructured noise, 0.8), ``physio`` (sd of the CSF/white-matter/global signals relative to
    the unstructured noise, 0.8), ``n_parcels`` (k-means parcels of the mask in the demo atlas,
    30), ``baseline`` (mean intensity, 10000), ``noise_sd`` (sd of the unstructured noise in
    intensity units, 100), ``dtype`` (``int16`` or ``float32``).
eeg : mapping
    ``sfreq`` (Hz, 250), ``montage`` (an MNE standard montage, ``biosemi64``), ``snr`` (variance
    of the planted signal / variance of the background EEG after 0.5-20 Hz filtering, in a
    planted channel, 0.25), ``line_freq`` (Hz, 50), ``line_amplitude`` (V, 5e-6),
    ``drift_amplitude`` (V, 20e-6), ``background_amplitude`` (V, 10e-6), ``kernel_peak`` (s, 0.3),
    ``kernel_width`` (s, 0.08), ``kernel_length`` (s, 0.6), ``n_groups`` (channel groups, 8),
    ``tail`` (s after the last word, 3), ``format`` (mne-bids EEG format, ``BrainVision``).
regions : list of mappings
    Planted regions: ``name``, ``relative_depth`` (planted layer = round(depth * n_layers)),
    ``forecast_distance`` (0 = driven by the current word; d > 0 = also by the word d positions
    ahead), ``forecast_weight`` (share w of a forecast region's latents that comes from the word
    ahead: present word weighted sqrt(1 - w^2), word ahead w; 0.5), ``forecast_depth`` (relative
    depth of the layer whose representation of the word ahead drives the region, its forecast depth
    k; null, the default: the planted layer itself; its truth entry then has no ``forecast_layer``),
    ``modalities`` (subset of ``["fmri", "eeg"]``), ``fmri_seed`` (MNI mm: the planted parcel is
    the one nearest to it), ``eeg_seed`` (a channel name: the planted group is the one holding it).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

DEFAULT_PARAMS: dict[str, Any] = {
    "n_subjects": 3,
    "n_latents": 4,
    "n_pcs": 8,
    "specificity": 0.5,
    "specificity_distance": 3,
    "fmri": {
        "tr": 1.5,
        "voxel_size": 6,
        "n_dummy_trs": 3,
        "tail": 10.0,
        "snr": 2.5,
        "ar1": 0.3,
        "smoothness_mm": 9.0,
        "drift": 1.0,
        "motion": 0.8,
        "physio": 0.8,
        "n_parcels": 30,
        "baseline": 10000.0,
        "noise_sd": 100.0,
        "dtype": "int16",
    },
    "eeg": {
        "sfreq": 250.0,
        "montage": "biosemi64",
        "snr": 0.25,
        "line_freq": 50.0,
        "line_amplitude": 5e-6,
        "drift_amplitude": 20e-6,
        "background_amplitude": 10e-6,
        "kernel_peak": 0.3,
        "kernel_width": 0.08,
        "kernel_length": 0.6,
        "n_groups": 8,
        "tail": 3.0,
        "format": "BrainVision",
    },
    # Depths chosen so the planted layers of a 30-block model (7, 16, 25, 13) are never multiples
    # of 3: the reduced test config encodes every third layer, and then two encoded layers lie
    # within the +-2 tolerance of each planted one.
    "regions": [
        {"name": "early", "relative_depth": 0.23, "forecast_distance": 0,
         "modalities": ["fmri", "eeg"], "fmri_seed": [-54.0, -22.0, 8.0], "eeg_seed": "T7"},
        {"name": "middle", "relative_depth": 0.53, "forecast_distance": 0,
         "modalities": ["fmri", "eeg"], "fmri_seed": [-56.0, -4.0, -16.0], "eeg_seed": "Cz"},
        {"name": "late", "relative_depth": 0.83, "forecast_distance": 0,
         "modalities": ["fmri", "eeg"], "fmri_seed": [-46.0, 24.0, 10.0], "eeg_seed": "Fz"},
        # Forecast region (fMRI only: word-locked EEG lags cannot see words not heard yet).  Its
        # look-ahead must outlast what the FIR delays (1-4 TRs = 1.5-6 s) absorb: a response to word
        # t + d at word t is a response to word t + d at a latency d x 0.33 s earlier, which the
        # delays of the present words' features reproduce unless that shift reaches past them.
        # Measured on SmolLM2's features (3 subjects x 2 stories x 1,000 words): planted at d = 4,
        # F(d) <= 0 at every d; at d = 20, F(5/10/20/30) = 0.00/0.05/0.08/0.01, so d* = 20.  Depth
        # 0.63 (layer 19): at 0.43 (layer 13) the unexplained look-ahead half flattens SmolLM2's
        # profile between layers 8 and 14, so the recovered layer wandered; at 19 it stays at 18-20.
        {"name": "forecast", "relative_depth": 0.63, "forecast_distance": 20, "forecast_weight": 0.5,
         "modalities": ["fmri"], "fmri_seed": [-44.0, -62.0, 30.0], "eeg_seed": None},
    ],
}

_REGION_KEYS = {"name", "relative_depth", "forecast_distance", "forecast_weight", "forecast_depth", "modalities",
                "fmri_seed", "eeg_seed"}
MODALITIES = ("fmri", "eeg")


def _merge(base: dict, over: Mapping, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if key not in base:
            raise ValueError(f"demo params: unknown key '{where}{key}' (expected one of {sorted(base)})")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ValueError(f"demo params: '{where}{key}' must be a mapping, got {type(value).__name__}")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_params(params: Mapping | None) -> dict:
    """Merge ``params`` over :data:`DEFAULT_PARAMS` and check them.

    Raises
    ------
    ValueError
        Naming the offending key (``fmri.tr``, ``regions[2].relative_depth``...) and what is expected.
    """
    out = _merge(DEFAULT_PARAMS, dict(params or {}), "")
    if int(out["n_subjects"]) < 1:
        raise ValueError(f"demo params: 'n_subjects' must be >= 1, got {out['n_subjects']!r}")
    for key in ("n_latents", "n_pcs"):
        if int(out[key]) < 1:
            raise ValueError(f"demo params: '{key}' must be >= 1, got {out[key]!r}")
    if not 0.0 <= float(out["specificity"]) <= 1.0:
        raise ValueError(f"demo params: 'specificity' must be in [0, 1], got {out['specificity']!r}")
    for mod, key in (("fmri", "tr"), ("fmri", "voxel_size"), ("fmri", "snr"), ("eeg", "sfreq"), ("eeg", "snr")):
        if not float(out[mod][key]) > 0:
            raise ValueError(f"demo params: '{mod}.{key}' must be > 0, got {out[mod][key]!r}")
    if out["fmri"]["dtype"] not in ("int16", "float32"):
        raise ValueError(f"demo params: 'fmri.dtype' must be 'int16' or 'float32', got {out['fmri']['dtype']!r}")
    if not 0.0 <= float(out["fmri"]["ar1"]) < 1.0:
        raise ValueError(f"demo params: 'fmri.ar1' must be in [0, 1), got {out['fmri']['ar1']!r}")
    if float(out["eeg"]["sfreq"]) < 200:
        raise ValueError(f"demo params: 'eeg.sfreq' must be >= 200 Hz, got {out['eeg']['sfreq']!r}")
    regions = out["regions"]
    if not isinstance(regions, list) or not regions:
        raise ValueError("demo params: 'regions' must be a non-empty list of mappings")
    names = set()
    for i, region in enumerate(regions):
        where = f"regions[{i}]"
        if not isinstance(region, Mapping):
            raise ValueError(f"demo params: '{where}' must be a mapping")
        unknown = set(region) - _REGION_KEYS
        if unknown:
            raise ValueError(f"demo params: unknown key '{where}.{sorted(unknown)[0]}' (expected {sorted(_REGION_KEYS)})")
        # forecast_depth is not filled in: a default region resolves (and is echoed in truth.json) as before
        full = {"forecast_distance": 0, "forecast_weight": 0.5, "modalities": list(MODALITIES), "fmri_seed": None,
                "eeg_seed": None}
        full.update(region)
        for key in ("name", "relative_depth"):
            if key not in full:
                raise ValueError(f"demo params: '{where}.{key}' is required")
        if full["name"] in names or full["name"] == "noise":
            raise ValueError(f"demo params: '{where}.name' = {full['name']!r} is reserved or repeated")
        names.add(full["name"])
        if not 0.0 <= float(full["relative_depth"]) <= 1.0:
            raise ValueError(f"demo params: '{where}.relative_depth' must be in [0, 1], got {full['relative_depth']!r}")
        if int(full["forecast_distance"]) < 0:
            raise ValueError(f"demo params: '{where}.forecast_distance' must be >= 0, got {full['forecast_distance']!r}")
        depth = full.get("forecast_depth")
        if depth is not None and not (0.0 <= float(depth) <= 1.0 and int(full["forecast_distance"]) > 0):
            raise ValueError(f"demo params: '{where}.forecast_depth' must be null or in [0, 1] with forecast_distance "
                             f"> 0, got {depth!r} (forecast_distance {full['forecast_distance']!r})")
        if not 0.0 < float(full["forecast_weight"]) < 1.0:
            raise ValueError(f"demo params: '{where}.forecast_weight' must be in (0, 1), got {full['forecast_weight']!r}")
        bad = set(full["modalities"]) - set(MODALITIES)
        if bad or not full["modalities"]:
            raise ValueError(f"demo params: '{where}.modalities' must be a non-empty subset of {list(MODALITIES)}, got {full['modalities']!r}")
        regions[i] = full
    return out
