"""Resources of the single (unsharded) jobs that fit encoders, from the sizes of their inputs.

``encode`` and the analyses that refit encoders (``forecast_scores``, ``forecast_depth_scores``,
``context_scores``) each hold every subject's every run of a modality in one job when the run is not
sharded (``encoding.max_job_memory_gb`` null).  Their ``mem_mb`` follows from the same estimate as a
shard's (:func:`brainalign.encoding.shards.estimate_mb`): one solve group fitted at a time while
the other subjects' collected targets wait in memory; their ``runtime`` from the floating-point work
of the cross-validated ridge fits.  Both from the sizes the input check records (``inputs.tsv``,
:func:`brainalign.encoding.shards.sizing_from_config`).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from .shards import estimate_mb, size_groups, sizing_from_config

#: Layers assumed when the config does not list them (``encoding.layers: null``: every layer of the model,
#: known only once its features exist): 48, the deepest models planned, so the request is an upper bound.
LAYERS_BOUND = 48
#: Floating-point operations per minute of one job: 20 GFLOP/s.  Measured 53-77 GFLOP/s of wall time
#: (encode_dataset, 2 subjects x 740 volumes x 6,000 voxels, FIR design of 2,048 columns, 3 layers, on a
#: 2-core node shared with other jobs); the margin covers slower nodes and the parts not counted.
FLOPS_PER_MINUTE = 1.2e12
#: Minutes every job gets besides its fits (start-up, reading the stores, writing the scores).
BASE_MINUTES = 10
#: The jobs sized here.
JOBS = ("encode", "forecast", "forecast_depth", "context")


def single_job_mb(sizes: Mapping[str, Mapping], *, subject_fits: str, design_width: int, n_alphas: int,
                  n_permutations: int = 0, n_lags: int = 1) -> int:
    """Estimated peak memory (MB) of one job fitting every subject of ``sizes``.

    Every subject's targets are collected first (one float32 copy), then each solve group is fitted
    (:func:`~brainalign.encoding.shards.estimate_mb` of the group with all its targets); the peak is
    the largest group's fit plus the other subjects' collected targets.  Arguments as in
    :func:`~brainalign.encoding.shards.plan_shards`.
    """
    cells = {s: int(v["rows"]) * int(v["targets"]) * n_lags for s, v in sizes.items()}
    peak = 0
    for group in size_groups(sizes, subject_fits):
        rows = max(int(sizes[s]["rows"]) for s in group)
        columns = max(int(sizes[s]["targets"]) for s in group) * n_lags
        fit = estimate_mb(rows, columns * len(group), design_width=design_width, n_alphas=n_alphas,
                          n_permutations=n_permutations, n_read_columns=columns if n_lags > 1 else 0,
                          target_cells=sum(cells[s] for s in group))
        others = 4 * sum(c for s, c in cells.items() if s not in group) / 2**20
        peak = max(peak, int(math.ceil(fit + others)))
    return peak


def single_job_flops(sizes: Mapping[str, Mapping], *, subject_fits: str, design_width: int, n_alphas: int,
                     n_layers: int, n_fits: int = 1, n_permutations: int = 0, n_lags: int = 1,
                     inner_folds: int = 5, outer_folds: int | None = None) -> float:
    """Estimated floating-point operations of one job fitting every subject of ``sizes``.

    Per solve group, layer and cross-validated fit (``n_fits``: a forecast distance's joint, banded
    and window-alone fits count each), every outer fold projects the training design (``2 n p k``
    flops, ``k = min(n, p)``), decomposes it once and per inner fold (``k^3`` each), and predicts
    every inner fold's held-out rows at every penalty (``2 n k`` per target and penalty over the
    inner folds, as :mod:`brainalign.encoding.ridge` does) besides two cross-products per target;
    plus the circular-shift nulls.  ``outer_folds`` None: one per story (at least 2).
    """
    flops = 0.0
    for group in size_groups(sizes, subject_fits):
        n = max(int(sizes[s]["rows"]) for s in group)
        columns = max(int(sizes[s]["targets"]) for s in group) * n_lags * len(group)
        folds = outer_folds or max(2, max(len(sizes[s].get("stories", ())) for s in group))
        k = min(n, design_width)
        per_fit = folds * (2.0 * n * design_width * k + (1 + inner_folds) * float(k) ** 3
                           + 2.0 * n * k * columns * (n_alphas + 2))
        flops += n_layers * n_fits * per_fit + n_permutations * n * columns
    return flops


def single_job_minutes(sizes: Mapping[str, Mapping], **work) -> int:
    """Estimated run time (minutes) of one job: :func:`single_job_flops` (``work``: its arguments) at
    :data:`FLOPS_PER_MINUTE`, over :data:`BASE_MINUTES`."""
    return int(BASE_MINUTES + math.ceil(single_job_flops(sizes, **work) / FLOPS_PER_MINUTE))


def _job_shape(job: str, config: Mapping) -> dict:
    """Design factor, layers and fits per layer of a job, from the config (``LAYERS_BOUND`` where unknown)."""
    enc = config["encoding"]
    analyses = config["analyses"]
    if job == "encode":
        layers = len(enc["layers"]) if enc["layers"] else -(-LAYERS_BOUND // int(enc["layer_stride"]))
        return dict(design_factor=1, n_layers=layers, n_fits=1, n_permutations=int(enc["n_permutations"]))
    if job == "context":
        ctx = analyses["context"]
        return dict(design_factor=1, n_layers=len(ctx["layers"]) if ctx["layers"] else int(ctx["n_layers"]),
                    n_fits=1, n_permutations=int(enc["n_permutations"]))
    fc = analyses["forecast"]
    # banded: one fit per window scaling and the window left out; the window alone besides (forecast only)
    per_cell = len(fc["window_scalings"]) + 1 if fc["penalty"] == "banded" else 1
    factor = 1 + (int(fc["width"]) if fc["combine"] == "concat" else 1)
    layers = len(fc["layers"]) if fc["layers"] else int(fc["n_layers"])
    if job == "forecast":
        return dict(design_factor=factor, n_layers=layers, n_fits=len(fc["distances"]) * (per_cell + 1),
                    n_permutations=0)
    n_k = len(fc["depth_layers"]) if fc["depth_layers"] else int(fc["n_depth_layers"])
    n_d = len(fc["depth_distances"] or fc["distances"])
    return dict(design_factor=factor, n_layers=layers, n_fits=n_k * n_d * per_cell, n_permutations=0)


def job_resources(job: str, table, modality: str, runs: Sequence[tuple[str, str]], config: Mapping) -> dict[str, int]:
    """``mem_mb`` and ``runtime`` (minutes) of one unsharded ``job`` of a modality, from its inputs' sizes.

    Parameters
    ----------
    job
        ``encode``, ``forecast``, ``forecast_depth`` or ``context``.
    table
        The input check's table (``inputs.tsv``, or its DataFrame): every run's samples, words and targets.
    modality, runs
        The modality and its ``(subject, story)`` runs.
    config
        The validated workflow config (``encoding``, ``design``, ``preprocess``, ``analyses``).

    Raises
    ------
    ValueError
        An unknown job.
    InputError
        A run without sizes in the table (:func:`~brainalign.encoding.shards.run_sizes`).
    """
    work = job_work(job, table, modality, runs, config)
    memory = {k: work[k] for k in ("sizes", "subject_fits", "design_width", "n_alphas", "n_permutations", "n_lags")}
    return {"mem_mb": single_job_mb(**memory), "runtime": single_job_minutes(**work)}


def job_work(job: str, table, modality: str, runs: Sequence[tuple[str, str]], config: Mapping) -> dict:
    """What the work of ``job``'s fits depends on: :func:`single_job_flops`' arguments for every subject.

    Computed once per job and modality (it reads the input check's table) and shared by the estimates of
    its shards (:func:`shard_minutes`).  Arguments as :func:`job_resources`.
    """
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}: expected one of {JOBS}")
    shape = _job_shape(job, config)
    sizing = sizing_from_config(table, modality, runs, config, design_factor=shape["design_factor"])
    enc = config["encoding"]
    return dict(sizing, n_permutations=shape["n_permutations"], n_layers=shape["n_layers"], n_fits=shape["n_fits"],
                inner_folds=int(enc["inner_folds"]), outer_folds=enc["outer_folds"])


def shard_minutes(work: Mapping, shard: Mapping) -> int:
    """Estimated run time (minutes) of one shard: its subjects, its block of targets and of layers.

    The single job's flop count (:func:`single_job_flops`) restricted to the shard: the subjects of its
    group, ``ceil(targets / n_target_blocks)`` targets each, ``ceil(layers / n_layer_blocks)`` layers.
    The design's decompositions count in full in every shard (each shard repeats them: the sharding's
    CPU overhead).

    Parameters
    ----------
    work
        :func:`job_work` of the shard's job and modality.
    shard
        The shard (:class:`~brainalign.encoding.shards.Shard` as a dict: ``id``, ``subjects``,
        ``n_target_blocks``, ``n_layer_blocks``).
    """
    subjects = {str(s) for s in shard["subjects"]}
    blocks = int(shard["n_target_blocks"])
    sizes = {s: dict(v, targets=-(-int(v["targets"]) // blocks)) for s, v in work["sizes"].items() if s in subjects}
    if not sizes:
        raise ValueError(f"shard {shard.get('id')}: none of its subjects {sorted(subjects)[:5]} has planned runs")
    layers = -(-int(work["n_layers"]) // int(shard["n_layer_blocks"]))
    return single_job_minutes(**dict(work, sizes=sizes, n_layers=layers))


#: Minutes a gather needs per GB of shard files it reads (joining, FDR, the long table): ~1.7 MB/s, far
#: below a disk's rate; benchmarks/scale.py compares the gather's wall time with it.
GATHER_MINUTES_PER_GB = 10


def gather_minutes(shard_bytes: int) -> int:
    """Estimated run time (minutes) of a gather from the total size of the shard files it reads."""
    return int(BASE_MINUTES + math.ceil(GATHER_MINUTES_PER_GB * shard_bytes / 2**30))
