"""Checks of config values against what a job finds on disk, with messages naming the config key.

Some settings can only be checked once a job has read its inputs: a layer list is valid only for
the layers the features store holds (``features.layers`` may have kept a subset).  Pure Python, so
every rule's environment can import it.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

from brainalign.errors import ConfigError


def _ranges(values: Sequence[int]) -> str:
    """``[0, 1, 2, 3, 6, 9]`` -> ``"0-3, 6, 9"`` (short, exact: gaps are visible)."""
    out, values = [], sorted(set(values))
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        out.append(f"{values[i]}-{values[j]}" if j > i + 1 else
                   ", ".join(str(v) for v in values[i:j + 1]))
        i = j + 1
    return ", ".join(out)


_STORE_HINT = "features.layers decides which layers are extracted; change one list or the other"


def check_layers(requested: Iterable[int] | None, available: Iterable[int], key: str,
                 store: str | os.PathLike | None = None, hint: str | None = _STORE_HINT) -> list[int] | None:
    """The requested layers, if every one is present; else a :class:`ConfigError` listing those present.

    Parameters
    ----------
    requested
        Layer numbers from the config (None: no explicit list, returned as is).
    available
        The ``layer`` coordinate of the store the job read (0 = embeddings).
    key
        The config key of ``requested`` (``"encoding.layers"``, ``"analyses.forecast.layers"``).
    store
        What ``available`` came from (a path or a description), named in the message.
    hint
        How to fix it (default: a reminder that ``features.layers`` decides what a store holds;
        None when ``available`` is a model's own layers).

    Returns
    -------
    list of int or None
        ``requested`` as ints (None if None).

    Raises
    ------
    ConfigError
        An empty list, or layers that are not in ``available``; the message lists the layers there
        are (gaps included, e.g. ``0, 4, 8, 12`` when ``features.layers`` kept a subset).
    """
    if requested is None:
        return None
    requested = [int(v) for v in requested]
    present = sorted({int(v) for v in available})
    where = f" in {store}" if store is not None else ""
    if not requested:
        raise ConfigError(key, "the layer list is empty", expected=f"layers present{where}: {_ranges(present)}")
    absent = [v for v in requested if v not in present]
    if absent:
        raise ConfigError(
            key, f"layer(s) {absent} are not{where}",
            expected=f"layers present there: {_ranges(present)}", hint=hint)
    return requested
