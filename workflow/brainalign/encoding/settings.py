"""Turn the config's `encoding` section into encode_dataset arguments (one place for every script)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from brainalign.config_checks import check_layers


def encoding_settings(section: Mapping[str, Any], seed: int = 0) -> tuple[dict, list[int] | None, int]:
    """Split the validated `encoding` config section into solver settings and the layer selection.

    Parameters
    ----------
    section
        ``config["encoding"]`` (defaults filled by the schema): ``alphas`` as a log10 grid
        ``{start, stop, num}``, ``layers``, ``layer_stride`` and the solver options.
    seed
        The workflow seed (circular-shift nulls).

    Returns
    -------
    encoding, layers, stride
        The ``encoding`` dict for :func:`brainalign.encoding.encode_dataset` (alphas as a list),
        the explicit layer list (or None) and the layer stride.
    """
    encoding = dict(section)
    grid = encoding.pop("alphas")
    encoding["alphas"] = np.logspace(grid["start"], grid["stop"], grid["num"]).tolist()
    layers = encoding.pop("layers", None)
    stride = int(encoding.pop("layer_stride", 1))
    encoding["seed"] = seed
    return encoding, layers, stride


def select_layers(available: Sequence[int], layers: Sequence[int] | None, stride: int,
                  store: str | None = None) -> list[int] | None:
    """Layers to encode: the explicit list, else every ``stride``-th available layer plus the last.

    An explicit list naming a layer that ``available`` lacks (``store``: the features store it came
    from) is a :class:`brainalign.errors.ConfigError` naming ``encoding.layers`` and listing the
    layers present.
    """
    if layers is not None:
        return check_layers(layers, available, "encoding.layers", store)
    if stride <= 1:
        return None
    available = [int(v) for v in available]
    return sorted(set(available[::stride]) | {available[-1]})
