"""Latent time courses that drive a planted region, computed from one layer of the LM's features.

A region planted at layer ``l`` mixes ``k`` latents per word.  Each latent is a seeded random
combination of the top ``n_pcs`` principal components of layer ``l``'s features (standardised per
feature over all words of all stories): low-dimensional enough for a ridge encoder to learn from a
few hundred fMRI volumes.  Residual-stream layers are so correlated that such latents are almost as
well explained by the neighbouring layers, so a fraction ``specificity`` of what the top
components of layers ``l - distance`` and ``l + distance`` explain is regressed out: the planted
layer then stands out in a layer profile.  Measured on SmolLM2-135M's own features (2 stories
x 400 words, 1.5 s TR, FIR ridge, leave-one-story-out): without it the profile is flat to within a
few hundredths of r over 6-9 layers; with ``n_pcs=8, specificity=0.5`` the planted layer leads the
layers 3 away by 0.02-0.08 r, and a larger ``specificity`` sharpens the peak at the cost of a lower
peak (the decorrelated latents are harder to learn from few samples).

A forecast region (``forecast_distance = d``, ``forecast_weight = w``) gets, at word ``t``,
``sqrt(1 - w^2)`` x the latents of word ``t`` plus ``w`` x those of word ``t + d`` of the same story
(zeros past the end): like the regions of Caucheteux et al. (2023), it reflects the present word and
a forecast of a later one, so its layer profile peaks at the planted layer and adding a forecast
window at distance ``d`` helps (when ``d`` words reach further ahead than the encoder's delays).
With ``forecast_layer`` the word ahead's latents come from another layer (its forecast depth ``k``),
so that the window helps most when built from that layer's features.
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def _check_features(features: dict[str, xr.Dataset]) -> tuple[list[str], int]:
    if not features:
        raise ValueError("demo drivers: no features given (expected {story: Dataset with 'hidden'})")
    n_layers = None
    for story, ds in features.items():
        if "hidden" not in ds:
            raise ValueError(f"demo drivers: features of story '{story}' have no variable 'hidden'")
        dims = ds["hidden"].dims
        if dims != ("word", "layer", "feature"):
            raise ValueError(f"demo drivers: features of story '{story}': 'hidden' has dims {dims}, "
                             "expected ('word', 'layer', 'feature')")
        if n_layers is None:
            n_layers = ds.sizes["layer"]
        elif ds.sizes["layer"] != n_layers:
            raise ValueError(f"demo drivers: story '{story}' has {ds.sizes['layer']} layers, others {n_layers}")
    return list(features), int(n_layers)


def _layer_matrix(features: dict[str, xr.Dataset], stories: list[str], layer: int) -> np.ndarray:
    """Features of one layer (by position), all stories stacked, standardised per feature."""
    x = np.concatenate([features[s]["hidden"].isel(layer=layer).values for s in stories]).astype(np.float64)
    x -= x.mean(axis=0)
    sd = x.std(axis=0)
    # constant features (e.g. a dead unit) carry nothing; avoid dividing by zero
    x /= np.where(sd > 0, sd, 1.0)
    return x


def _top_pcs(x: np.ndarray, m: int) -> np.ndarray:
    """Unit-variance scores of the top ``m`` principal components of centred ``x``."""
    cov = x.T @ x / len(x)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:m]
    # fix each component's sign so that results do not depend on the eigensolver's sign choice
    vecs = vecs[:, order]
    vecs *= np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    scores = x @ vecs
    return scores / np.maximum(scores.std(axis=0), 1e-12)


def _layer_latents(features: dict[str, xr.Dataset], stories: list[str], layer: int, n_layers: int, *,
                   n_latents: int, n_pcs: int, specificity: float, specificity_distance: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Latents of one layer (all stories stacked, unit variance): projected top PCs, made specific."""
    pcs = _top_pcs(_layer_matrix(features, stories, layer), n_pcs)
    latents = pcs @ rng.standard_normal((pcs.shape[1], n_latents))
    if specificity > 0 and specificity_distance > 0:
        neighbours = [l for l in (layer - specificity_distance, layer + specificity_distance) if 0 <= l < n_layers]
        if neighbours:
            basis = np.concatenate([_top_pcs(_layer_matrix(features, stories, l), n_pcs) for l in neighbours], axis=1)
            coef, *_ = np.linalg.lstsq(basis, latents, rcond=None)
            latents = latents - specificity * (basis @ coef)
    latents -= latents.mean(axis=0)
    latents /= np.maximum(latents.std(axis=0), 1e-12)
    return latents


def region_latents(features: dict[str, xr.Dataset], layer: int, *, n_latents: int, n_pcs: int,
                   specificity: float, specificity_distance: int, forecast_distance: int,
                   rng: np.random.Generator, forecast_weight: float = 0.5,
                   forecast_layer: int | None = None) -> dict[str, np.ndarray]:
    """Per-word latents of a region planted at ``layer``.

    Parameters
    ----------
    features
        ``{story: Dataset}`` in the Features contract (``hidden``: word x layer x feature).
    layer
        Position along the ``layer`` dimension (0 = embeddings when the coordinate starts at 0).
    n_latents, n_pcs
        Latents per region and principal components they are drawn from.
    specificity, specificity_distance
        Fraction of the neighbours' explainable part removed, and the neighbours' distance.
    forecast_distance
        0, or d > 0 to drive word t also by word t + d's latents.
    rng
        Seeded generator (the projection weights).
    forecast_weight
        Weight ``w`` in (0, 1) of word t + d's latents (word t's get ``sqrt(1 - w^2)``, so that
        the mix keeps unit variance); unused when ``forecast_distance`` is 0.
    forecast_layer
        Position of the layer whose latents of word t + d drive the region (its forecast depth,
        Caucheteux et al. 2023); None: ``layer`` itself.  A different layer gets its own latents,
        drawn from ``rng`` after the present layer's.

    Returns
    -------
    dict
        ``{story: array (n_words, n_latents)}``, each latent with unit variance over all words.
    """
    stories, n_layers = _check_features(features)
    if forecast_distance and not 0.0 < forecast_weight < 1.0:
        raise ValueError(f"demo drivers: forecast_weight must be in (0, 1), got {forecast_weight!r}")
    for name, pos in (("layer", layer), ("forecast_layer", layer if forecast_layer is None else forecast_layer)):
        if not 0 <= pos < n_layers:
            raise ValueError(f"demo drivers: {name} {pos} outside 0..{n_layers - 1}")
    opts = dict(n_latents=n_latents, n_pcs=n_pcs, specificity=specificity, specificity_distance=specificity_distance,
                rng=rng)
    latents = _layer_latents(features, stories, layer, n_layers, **opts)
    future = latents
    if forecast_distance and forecast_layer is not None and forecast_layer != layer:
        future = _layer_latents(features, stories, forecast_layer, n_layers, **opts)
    out, start = {}, 0
    for story in stories:
        n = features[story].sizes["word"]
        lat = latents[start:start + n]
        fut = future[start:start + n]
        start += n
        if forecast_distance:
            d = int(forecast_distance)
            ahead = np.concatenate([fut[d:], np.zeros((min(d, n), n_latents))])[:n]
            # present word + word d ahead (Caucheteux et al. 2023: responses reflect the current word
            # and a forecast): the layer profile peaks at the planted layer and F(d) > 0 at d.
            w = float(forecast_weight)
            lat = np.sqrt(1.0 - w * w) * lat + w * ahead
        out[story] = lat
    return out
