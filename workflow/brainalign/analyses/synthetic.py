"""Synthetic Scores datasets with a known answer, shaped exactly like the encoder's output.

Used by the tests of the analyses and plots, and handy to try a figure without running the
pipeline.  A region's layer profile is a Gaussian bump in relative depth centred on its planted
peak; MEG/EEG scores also get a Gaussian time course over lags centred on the region's latency.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import xarray as xr


def make_scores(
    regions: Mapping[str, Mapping[str, float]],
    *,
    modality: str = "fmri",
    n_subjects: int = 4,
    n_layers: int = 12,
    targets_per_region: int = 6,
    noise: float = 0.01,
    width: float = 0.15,
    lags: np.ndarray | None = None,
    seed: int = 0,
) -> xr.Dataset:
    """Build a Scores dataset (``r``, ``r2``, ``alpha``) with planted layer profiles.

    Parameters
    ----------
    regions
        ``{name: {"depth": peak relative depth, "amplitude": peak r, "latency": s (MEG/EEG)}}``;
        amplitude 0 makes a noise-only region.
    modality
        ``"fmri"`` (dims ``subject × layer × voxel``, coords ``x, y, z`` in MNI mm on a 6 mm grid,
        attrs ``affine``, ``mask_shape``) or ``"meg"``/``"eeg"`` (``subject × layer × channel ×
        lag``, coords ``ch_type``, ``pos_x/y/z`` in m on a sphere of radius 9 cm).
    n_subjects, n_layers, targets_per_region
        Sizes; layers run 0..n_layers (``n_layers + 1`` entries, layer 0 = embeddings).
    noise
        Standard deviation of the Gaussian noise added to every score.
    width
        Standard deviation (in relative depth) of the planted bump.
    lags
        MEG/EEG lags in s (default 0…0.8 s every 0.05 s).
    seed
        Seed of the noise.
    """
    rng = np.random.default_rng(seed)
    layer = np.arange(n_layers + 1)
    depth = layer / n_layers
    names = list(regions)
    region_of = np.repeat(np.asarray(names, dtype=object), targets_per_region)
    n_targets = region_of.size
    profile = np.stack([
        regions[region_of[i]].get("amplitude", 0.3)
        * np.exp(-((depth - regions[region_of[i]].get("depth", 0.5)) ** 2) / (2 * width**2))
        for i in range(n_targets)
    ], axis=1)  # layer × target
    subjects = [f"{i + 1:02d}" for i in range(n_subjects)]
    coords: dict = {"subject": subjects, "layer": layer, "relative_depth": ("layer", depth)}
    if modality == "fmri":
        dim = "voxel"
        # Targets on a 6 mm MNI grid, one small cluster per region.
        centres = np.array([[-48, -18, 6], [48, -18, 6], [-42, 18, 12], [0, -60, 30], [30, 42, 18],
                            [-30, -78, 0], [18, -42, 48], [-12, 48, -12]], dtype=float)  # on the 6 mm grid
        xyz = np.zeros((n_targets, 3))
        offsets = np.array([[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6], [6, 6, 0], [0, 6, 6],
                            [6, 0, 6], [6, 6, 6]], dtype=float)
        for i in range(n_targets):
            r = names.index(region_of[i])
            xyz[i] = centres[r % len(centres)] + offsets[(i % targets_per_region) % len(offsets)] \
                + 12 * (r // len(centres))
        coords.update({"voxel": np.arange(n_targets), "x": ("voxel", xyz[:, 0]), "y": ("voxel", xyz[:, 1]),
                       "z": ("voxel", xyz[:, 2]), "region": ("voxel", region_of.astype(str))})
        shape = (n_subjects, n_layers + 1, n_targets)
        r = profile[None] + noise * rng.standard_normal(shape)
        dims = ("subject", "layer", dim)
        affine = [[6.0, 0, 0, -90.0], [0, 6.0, 0, -126.0], [0, 0, 6.0, -72.0], [0, 0, 0, 1.0]]
        attrs = {"modality": "fmri", "affine": affine, "mask_shape": [31, 37, 31]}
    else:
        dim = "channel"
        lags = np.arange(0.0, 0.81, 0.05) if lags is None else np.asarray(lags, dtype=float)
        # Channels spread over the upper half of a 9 cm sphere, region by region in azimuth.
        az = np.linspace(0, 2 * np.pi, n_targets, endpoint=False)
        el = np.tile(np.linspace(0.2, 1.2, targets_per_region), len(names))
        pos = 0.09 * np.stack([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)], axis=1)
        ch_type = "mag" if modality == "meg" else "eeg"
        coords.update({"channel": [f"CH{i:03d}" for i in range(n_targets)], "lag": lags,
                       "ch_type": ("channel", np.full(n_targets, ch_type)),
                       "pos_x": ("channel", pos[:, 0]), "pos_y": ("channel", pos[:, 1]),
                       "pos_z": ("channel", pos[:, 2]), "region": ("channel", region_of.astype(str))})
        latency = np.array([regions[region_of[i]].get("latency", 0.2) for i in range(n_targets)])
        course = np.exp(-((lags[None, :] - latency[:, None]) ** 2) / (2 * 0.08**2))  # target × lag
        shape = (n_subjects, n_layers + 1, n_targets, lags.size)
        r = profile[None, :, :, None] * course[None, None] + noise * rng.standard_normal(shape)
        dims = ("subject", "layer", dim, "lag")
        attrs = {"modality": modality, "montage": "synthetic"}
    ds = xr.Dataset(
        {"r": (dims, r.astype(np.float32)),
         "r2": (dims, (np.sign(r) * r**2).astype(np.float32)),
         "alpha": (dims, np.full(shape, 100.0, dtype=np.float32))},
        coords=coords, attrs=attrs,
    )
    return ds
