"""Forecast windows (Caucheteux et al. 2023): present features plus those of upcoming words.

Derived from stored features; the model is never called again.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

COMBINES = ("concat", "sum")


def forecast_features(ds: xr.Dataset, distances: list[int], width: int = 1,
                      combine: str = "concat") -> xr.Dataset:
    """Features of word ``t`` joined with those of words ``t+d … t+d+w−1``, for each distance ``d``.

    Parameters
    ----------
    ds
        One story's features (the output of :func:`extract_features`: ``hidden`` with dims
        ``word × layer × feature``).  Select layers first (``ds.sel(layer=[...])``) to bound memory:
        the output holds ``len(distances)`` copies of the (widened) features.
    distances
        Distances ``d >= 1`` in words.
    width
        Number ``w >= 1`` of future words per window.
    combine
        ``"concat"``: ``[x_t, x_{t+d}, …, x_{t+d+w−1}]`` (feature size ``(1 + w)·H``);
        ``"sum"``: ``[x_t, Σ_k x_{t+d+k}]`` (feature size ``2·H``).

    Returns
    -------
    xr.Dataset
        ``hidden`` with dims ``distance × word × layer × feature`` (float32) and coordinate ``block``
        on ``feature`` (0 = present word, k = k-th future word; for ``sum`` 1 = the summed window);
        ``valid`` (``distance × word``, bool) is false where the window runs past the end of the
        story — there the missing future words are zeros (``sum``: only the words that exist are
        summed).  Other coordinates and attributes are carried over, plus ``forecast_width`` and
        ``forecast_combine``.
    """
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}")
    if int(width) != width or width < 1:
        raise ValueError(f"forecast width must be an integer >= 1, got {width!r}")
    distances = [int(d) for d in distances]
    if not distances or min(distances) < 1:
        raise ValueError(f"forecast distances must be a non-empty list of integers >= 1, got {distances}")
    if "hidden" not in ds or ds["hidden"].dims != ("word", "layer", "feature"):
        raise ValueError("forecast_features needs variable 'hidden' with dims (word, layer, feature)")

    x = np.asarray(ds["hidden"].values, dtype=np.float32)
    n, n_layer, h = x.shape
    n_blocks = 1 + (width if combine == "concat" else 1)
    out = np.zeros((len(distances), n, n_layer, n_blocks * h), dtype=np.float32)
    valid = np.zeros((len(distances), n), dtype=bool)
    for i, d in enumerate(distances):
        out[i, :, :, :h] = x
        valid[i] = np.arange(n) + d + width - 1 < n
        for k in range(width):
            shift = d + k
            if shift >= n:
                continue
            future = x[shift:]                          # future[t] = x[t + shift]
            if combine == "concat":
                out[i, : n - shift, :, (1 + k) * h:(2 + k) * h] = future
            else:
                out[i, : n - shift, :, h:] += future

    block = np.repeat(np.arange(n_blocks), h)
    coords = {name: c for name, c in ds["hidden"].coords.items() if name != "feature"}
    result = xr.Dataset(
        {
            "hidden": (("distance", "word", "layer", "feature"), out),
            "valid": (("distance", "word"), valid),
        },
        coords={**coords, "distance": np.asarray(distances), "feature": np.arange(n_blocks * h),
                "block": ("feature", block)},
        attrs={**ds.attrs, "forecast_width": int(width), "forecast_combine": combine},
    )
    for name in ("perplexity", "n_tokens"):
        if name in ds:
            result[name] = ds[name]
    return result
