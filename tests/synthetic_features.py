"""Random word features in the Features contract (``hidden``: word x layer x feature, with onsets),
for the encoder tests.  Importable from every test
folder as ``tests.synthetic_features`` (``tests/`` is a package and pytest puts the repository root on ``sys.path``)."""

from __future__ import annotations

import numpy as np
import xarray as xr


def random_features(rng: np.random.Generator, n_layers: int, p: int, n_words: int, stories=("s1", "s2"),
                    *, text: bool = False) -> dict[str, xr.Dataset]:
    """``{story: Dataset}`` of standard-normal features, words 0.3-0.5 s apart from 2 s on; ``text``
    adds a ``text`` coordinate (``W0,``, ``W1,`` ...) as a word table gives."""
    feats = {}
    for s in stories:
        onset = np.cumsum(rng.uniform(0.3, 0.5, n_words)) + 2.0
        h = rng.standard_normal((n_words, n_layers, p)).astype(np.float32)
        coords = {"word": np.arange(n_words), "onset": ("word", onset), "layer": np.arange(n_layers),
                  "relative_depth": ("layer", np.arange(n_layers) / (n_layers - 1))}
        if text:
            coords["text"] = ("word", [f"W{i}," for i in range(n_words)])
        feats[s] = xr.Dataset({"hidden": (("word", "layer", "feature"), h)}, coords=coords)
    return feats
