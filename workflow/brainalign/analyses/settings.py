"""Helpers of the ``analyses`` settings.

The settings themselves and their defaults live only in ``workflow/schemas/config.schema.yaml``:
the rules pass the validated (default-filled) ``config["analyses"]`` / ``config["figures"]``, and
library callers outside Snakemake fill a partial section with
:func:`brainalign.config_sections.with_defaults`.
"""

from __future__ import annotations

def evenly_spaced_layers(layers, n: int | None) -> list[int]:
    """At most ``n`` layers spread evenly over ``layers`` (first and last included)."""
    import numpy as np

    layers = sorted(int(x) for x in layers)
    if n is None or n >= len(layers):
        return layers
    idx = np.unique(np.rint(np.linspace(0, len(layers) - 1, max(1, n))).astype(int))
    return [layers[i] for i in idx]
