"""Progress bars for the long loops of the library (scoring, training, preprocessing)."""

from __future__ import annotations

from typing import Iterable


def progress(items: Iterable, *, desc: str, unit: str = "it", total: int | None = None,
             enabled: bool = True) -> Iterable:
    """Wrap a loop in a tqdm progress bar (on stderr: the terminal, or the SLURM job's output file).

    Parameters
    ----------
    items
        What the loop iterates over.
    desc, unit
        The bar's label and the name of one step (``"batch"``, ``"step"``).
    total
        Number of steps, when ``items`` has no length.
    enabled
        False returns ``items`` untouched (library callers and tests that want quiet loops).
    """
    if not enabled:
        return items
    from tqdm.auto import tqdm

    # mininterval keeps a bar written to a SLURM output file to a few lines a minute, not one per step
    return tqdm(items, desc=desc, unit=unit, total=total, mininterval=5.0)
