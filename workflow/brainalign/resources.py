"""Memory and run time of a job from the size of what it reads (the rules' ``mem_mb`` and ``runtime``).

A constant request cannot fit real data: a Narratives scores store (345 subjects x 81,924 vertices x
layers, float32, for 10 models) holds gigabytes where the demo's holds megabytes, and a figure job
that reads it under a 2 GB request is killed by SLURM.  Each rule reading data that grows with the
dataset therefore asks for

    mem_mb  = (base_mb + copies x input MB) x attempt
    runtime = (base_minutes + minutes_per_gb x input GB) x attempt

where the input's size is what it holds *in memory*: a Zarr store counts its arrays' uncompressed
bytes (shape x item size, from the store's consolidated metadata: no chunk is read), any other file
its size on disk.  ``attempt`` is Snakemake's retry counter (a retried job asks for more, as every
rule of the workflow does).  The per-rule constants are in :data:`RULE_SIZES`: measured for the main
score readers with ``benchmarks/rule_memory.py`` (the peak resident memory of each rule on demo score
stores replicated over many subjects, against the uncompressed bytes it read), a wider margin for the
others.

In a dry run the inputs do not exist yet: :func:`path_bytes` raises ``FileNotFoundError``, so
Snakemake shows the request as ``<TBD>`` and computes it when the job is scheduled, from the real files.
"""

from __future__ import annotations

import errno
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

#: Item size (bytes) assumed for an array whose Zarr data type numpy cannot parse (variable-length
#: strings: coordinates such as region or story names).
UNKNOWN_ITEMSIZE = 16


@dataclass(frozen=True)
class JobSize:
    """The sizing of one rule's jobs.

    Attributes
    ----------
    base_mb
        Resident memory before any data (interpreter, imports; matplotlib/nilearn for figures).
    copies
        Peak memory per byte of input held in memory (the arrays read, the copies the job makes).
    base_minutes
        Wall time without data (start-up, imports, small figures).
    minutes_per_gb
        Wall time per GB of input, on one node's core.
    """

    base_mb: float
    copies: float
    base_minutes: float = 5.0
    minutes_per_gb: float = 10.0

    def mem_mb(self, n_bytes: int, attempt: int = 1) -> int:
        """``mem_mb`` for ``n_bytes`` of input (uncompressed), x ``attempt``."""
        return int(math.ceil((self.base_mb + self.copies * n_bytes / 2**20) * max(1, int(attempt))))

    def runtime(self, n_bytes: int, attempt: int = 1) -> int:
        """``runtime`` (minutes) for ``n_bytes`` of input, x ``attempt``."""
        return int(math.ceil((self.base_minutes + self.minutes_per_gb * n_bytes / 2**30) * max(1, int(attempt))))


#: Measured (benchmarks/rule_memory.py, demo fMRI score stores replicated to 3-360 subjects, up to 1.56 GB of
#: input, two runs): peak = base + slope x input with slopes 0.89-1.00 (figure_layer_profiles), 0.85-1.07
#: (analysis_hierarchy), 1.15-1.17 (figure_brain_maps) and base peaks 218-322 MB.  Sized with about twice
#: both (largest peak over request: 0.52).
MEASURED = JobSize(base_mb=600, copies=2.0)
#: Rules not measured at scale (they read the same kind of stores with a few more intermediate tables or
#: figures): a wider margin, three copies.
UNMEASURED = JobSize(base_mb=1000, copies=3.0)

#: Rules sized from their inputs.
RULE_SIZES: dict[str, JobSize] = {
    "analysis_hierarchy": MEASURED,
    "figure_layer_profiles": MEASURED,
    "figure_brain_maps": JobSize(base_mb=800, copies=2.0),  # nilearn's templates and surfaces on top
    "analysis_forecast": UNMEASURED,
    "analysis_forecast_depth": UNMEASURED,
    "analysis_comparison": UNMEASURED,
    "analysis_context": UNMEASURED,
    "analysis_finetune": UNMEASURED,
    "figure_sensors": UNMEASURED,
    "figure_topomaps": UNMEASURED,
    "figure_electrodes": UNMEASURED,
    "table_best_layers": JobSize(base_mb=800, copies=3.0, base_minutes=2.0),
    "table_best_distance": JobSize(base_mb=800, copies=3.0, base_minutes=2.0),
    "electrodes": UNMEASURED,
    "qc_fmri": JobSize(base_mb=1500, copies=3.0),
    "qc_meeg": JobSize(base_mb=1500, copies=3.0),
    "repeat_ceiling": UNMEASURED,
}


def _itemsize(data_type: object) -> int:
    """Bytes per element of a Zarr v2/v3 data type (a numpy name, or a v3 object with its length)."""
    if isinstance(data_type, dict):
        config = data_type.get("configuration") or {}
        if "length_bytes" in config:
            return int(config["length_bytes"])
        data_type = data_type.get("name")
    try:
        return int(np.dtype(str(data_type)).itemsize) or UNKNOWN_ITEMSIZE
    except TypeError:
        return UNKNOWN_ITEMSIZE


def _arrays(metadata: dict) -> Iterable[tuple[list, object]]:
    """``(shape, data type)`` of every array described by a store's root metadata (v3 or v2)."""
    consolidated = (metadata.get("consolidated_metadata") or {}).get("metadata")
    if consolidated is not None:  # v3: {"path": {"node_type": "array", "shape", "data_type"}}
        for node in consolidated.values():
            if node.get("node_type") == "array":
                yield node["shape"], node["data_type"]
        return
    for key, node in (metadata.get("metadata") or {}).items():  # v2 .zmetadata: {"x/.zarray": {...}}
        if key.endswith(".zarray"):
            yield node["shape"], node["dtype"]


def zarr_bytes(path: str | os.PathLike) -> int | None:
    """Uncompressed bytes of a Zarr store's arrays, from its consolidated metadata (None if it has none).

    Parameters
    ----------
    path
        The store's directory (``zarr.json`` for Zarr v3, ``.zmetadata`` for v2).
    """
    path = Path(path)
    for name in ("zarr.json", ".zmetadata"):
        meta = path / name
        if meta.is_file():
            try:
                metadata = json.loads(meta.read_text())
            except (OSError, ValueError):
                return None
            if name == "zarr.json" and "consolidated_metadata" not in metadata:
                return None
            return int(sum(math.prod(int(n) for n in shape) * _itemsize(dtype) for shape, dtype in _arrays(metadata)))
    return None


def path_bytes(path: str | os.PathLike) -> int:
    """Bytes a job reading ``path`` holds: a Zarr store's uncompressed arrays, a directory's files, a file's size.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (yet): Snakemake then defers the request (``<TBD>`` in a dry run) and
        computes it when the job is scheduled, once its inputs exist.
    """
    name, path = str(path), Path(path)
    if not path.exists():
        # errno and filename set: Snakemake recognises a missing input by the error's filename
        raise FileNotFoundError(errno.ENOENT, "input not made yet (its size decides the job's request)", name)
    if path.is_dir():
        stored = zarr_bytes(path)
        if stored is not None:
            return stored
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def input_bytes(paths: Iterable[str | os.PathLike]) -> int:
    """Total of :func:`path_bytes` over a job's inputs."""
    return int(sum(path_bytes(p) for p in paths))


def rule_size(rule: str) -> JobSize:
    """The sizing of ``rule`` (KeyError naming the rules sized when it has none)."""
    if rule not in RULE_SIZES:
        raise KeyError(f"rule {rule!r} has no entry in brainalign.resources.RULE_SIZES (sized: {sorted(RULE_SIZES)})")
    return RULE_SIZES[rule]


def _named_bytes(input, names: tuple[str, ...]) -> int:
    """Bytes of a job's inputs ``names`` (a Snakemake ``input`` namedlist; every input when none)."""
    if not names:
        return input_bytes(list(input))
    paths = []
    for name in names:
        value = input[name]
        paths += [value] if isinstance(value, (str, os.PathLike)) else list(value)
    return input_bytes(paths)


def input_mem_mb(rule: str, *names: str):
    """A rule's ``mem_mb`` callable: :data:`RULE_SIZES` ``[rule]`` of its inputs ``names`` (all when none), x attempt.

    Used in the rule files as ``mem_mb=input_mem_mb("figure_brain_maps", "scores")``; Snakemake passes
    the job's ``input`` and ``attempt``.
    """
    size = rule_size(rule)
    return lambda wildcards, input, attempt: size.mem_mb(_named_bytes(input, names), attempt)


def input_runtime(rule: str, *names: str):
    """A rule's ``runtime`` callable (minutes), like :func:`input_mem_mb`."""
    size = rule_size(rule)
    return lambda wildcards, input, attempt: size.runtime(_named_bytes(input, names), attempt)
