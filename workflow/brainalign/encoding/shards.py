"""Sharded encoding: the encode stage split into jobs that each fit within a memory budget.

One ``encode`` job per model x modality holds every subject's every run; a large dataset
(Narratives on fsaverage6: ~30 GB of targets for one story) outgrows one machine there.  A sharded
run splits the same work (``encoding.max_job_memory_gb``, ``docs/architecture.md``):

1. :func:`plan_shards` (at plan time, from sizes in the input check's ``inputs.tsv``): blocks
   ``(subject group, layer block, target block)`` such that each shard's estimated peak memory
   (:func:`estimate_mb`) fits the budget, and the ``mem_mb`` each shard asks for.  Subjects who
   share targets (``joint``) stay in one shard and one solve (the design and its decompositions are
   shared; only their target columns are split); subjects fitted on their own channels
   (``separate``, iEEG) are each a group of their own.
2. :func:`fit_shard`: the shard's subjects, its block of targets (read from the stores alone: a
   Zarr store chunked along the target dimension, :func:`brainalign.io.store.target_chunks`, reads
   only those chunks) and its layers, fitted by the phases of
   :func:`~brainalign.encoding.pipeline.encode_dataset` (``collect_targets`` with ``block``,
   ``fit_group``, ``group_ceiling`` per target block); written by :func:`write_shard`.
3. :func:`gather_shards`: the shards' targets metadata and fits joined along targets, then
   :func:`~brainalign.encoding.assemble.assemble_scores` as in the single job: FDR over all targets
   of a subject and layer, the channel-level max statistic over the peaks of every layer block.

Ridge alphas are chosen per target and the circular shifts depend on the seed only, so the
sharded scores equal the single job's (tested: max |dr| <= 1e-6, same alphas and p-values).
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from ..errors import ConfigError
from .assemble import assemble_scores
from .collect import FMRI, EncodingTargets, SubjectTargets, collect_targets
from .pipeline import GroupFit, fit_group, group_ceiling, subject_groups

#: Design features assumed when planning (the model's hidden size is known only once features are
#: extracted, after the plan): 4096, the hidden size of 7-8B-parameter models.  The plan must not
#: change when the features appear, or the set of shard jobs would change between runs.
DESIGN_FEATURES_BOUND = 4096
#: Memory of the interpreter and libraries (numpy, xarray, zarr, scipy) before any data (MB); measured
#: 160 MB after the imports, the rest for the stores' read buffers.
BASE_MB = 250
#: Bytes per sample and target column at a shard's peak, in float32 copies: the collected values,
#: the group's stacked ``Y``, the outer fold's training rows, the held-out predictions, the ridge's
#: cross-products and the ceiling's per-story stack.  Measured: 7 copies (5 subjects x 600 TRs x
#: 20,000 voxels, 1 and 4 target blocks: peak RSS 2169 and 940 MB), 7.8 at 1,200 samples
#: (benchmarks/scale.py: 7 subjects x 20,000 voxels in 1 and 4 blocks, 5515 and ~1620 MB); 9 keeps
#: a margin (8 left 13 MB in one shard of 1696 MB: too little for a SLURM limit).
TARGET_COPIES = 9
#: Memory of the gather per MB of shard files it reads: the results held, the joined arrays, the
#: assembled scores and the long CSV table (one row per subject x layer x target, with its coordinates).
GATHER_COPIES = 6
#: Version of the shard file layout; the gather refuses other versions.
SHARD_FORMAT = 1


@dataclass(frozen=True)
class Shard:
    """One job of a sharded encode.

    Attributes
    ----------
    id : ``g<group>-l<layer block>-t<target block>``, the ``shard`` wildcard.
    subjects : the subjects fitted (a whole group of subjects sharing targets, or one subject).
    layer_block, n_layer_blocks : this block of the layers to encode (``numpy.array_split`` order).
    target_block, n_target_blocks : this block of each subject's targets
        (:func:`brainalign.encoding.collect.target_block`).
    mem_mb : the memory the job requests (its estimated peak).
    """

    id: str
    subjects: tuple[str, ...]
    layer_block: int
    n_layer_blocks: int
    target_block: int
    n_target_blocks: int
    mem_mb: int


@dataclass
class ShardPlan:
    """Every shard of one model x modality, and the budget they were sized for."""

    shards: list[Shard]
    budget_mb: int
    subjects: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.shards]

    def shard(self, shard_id: str) -> Shard:
        """The shard of an id (a ``shard`` wildcard)."""
        # a dict built once: the plan of a large dataset has thousands of shards, each looked up per job
        index = self.__dict__.setdefault("_index", {s.id: s for s in self.shards})
        if shard_id not in index:
            raise KeyError(f"no shard {shard_id!r} in the plan (shards: {self.ids[:10]} ...)")
        return index[shard_id]


def estimate_mb(n_rows: int, n_columns: int, *, design_width: int, n_alphas: int, n_permutations: int = 0,
                n_read_columns: int = 0, target_cells: int | None = None) -> int:
    """Estimated peak memory (MB) of fitting ``n_columns`` target columns over ``n_rows`` samples.

    Parameters
    ----------
    n_rows
        Samples of a subject over all stories (fMRI volumes, MEG/EEG/iEEG words).
    n_columns
        Target columns of the shard over all its subjects (voxels, or channels x lags).
    design_width
        Design columns of one layer (features, x delays for an FIR design).
    n_alphas
        Ridge penalties (the inner folds' validation operators hold ``n_alphas`` rows per sample).
    n_permutations
        Circular shifts (each held-out fold's null is ``n_permutations x n_columns`` float64).
    n_read_columns
        Columns read beyond the block (word-locked: every channel x lag of one subject's story,
        whose NaN windows decide the words kept), held while the run is epoched.
    target_cells
        Samples x target columns over the shard's subjects, when they have different numbers of
        samples (subjects who heard different stories); default ``n_rows * n_columns``.

    Returns
    -------
    int
        MB: the interpreter, one layer's design and its decompositions (float64), the inner folds'
        validation operators, the target copies (:data:`TARGET_COPIES`, float32), the permutation
        nulls, and the full runs read for word-locked epochs.
    """
    k = min(n_rows, design_width)
    design = 8 * (4 * n_rows * design_width + n_alphas * n_rows * k + 2 * k * k)
    targets = 4 * TARGET_COPIES * (n_rows * n_columns if target_cells is None else target_cells)
    nulls = 8 * 2 * n_permutations * n_columns
    read = 4 * 2 * n_rows * n_read_columns
    chunk = 2 * 64 * 2**20  # the ridge's per-chunk prediction block (ridge.CHUNK_BYTES) and its products
    return int(math.ceil(BASE_MB + (design + targets + nulls + read + chunk) / 2**20))


def gather_mem_mb(shard_bytes: int) -> int:
    """Estimated peak memory (MB) of the gather from the total size of the shard files it reads.

    The shard files hold the fits (float32 ``layer x target`` arrays per subject) and the targets'
    coordinates: everything the scores are made of, so the gather's memory follows from their size
    (:data:`GATHER_COPIES` copies over twice :data:`BASE_MB`: it imports pandas too and writes a table).
    """
    return int(math.ceil(2 * BASE_MB + GATHER_COPIES * shard_bytes / 2**20))


def design_width(modality: str, design: Mapping, n_features: int = DESIGN_FEATURES_BOUND) -> int:
    """Design columns of one layer: the features (HRF, word-locked), times the delays (FIR).

    ``design`` is the validated ``design.fmri`` (fMRI: ``method``, ``delays``) or ``design.meeg``
    section: nothing is defaulted here (the schema's default method is ``fir``).
    """
    if modality in FMRI and design["method"] == "fir":
        return n_features * len(design["delays"])
    return n_features


def size_groups(sizes: Mapping[str, Mapping], subject_fits: str) -> list[list[str]]:
    """The subjects fitted in one solve, from the planned sizes: ``joint``, those who heard the same stories;
    ``separate``, each subject alone."""
    if subject_fits != "joint":
        return [[s] for s in sizes]
    # subjects who heard different stories never share a solve (their designs differ,
    # pipeline.subject_groups): a shard group per set of stories reads only its subjects' runs
    by_stories: dict = {}
    for s in sizes:
        by_stories.setdefault(tuple(sorted(sizes[s].get("stories", ()))), []).append(s)
    return list(by_stories.values())


def plan_shards(
    sizes: Mapping[str, Mapping[str, int]],
    *,
    subject_fits: str,
    max_job_memory_gb: float,
    design_width: int,
    n_alphas: int,
    n_permutations: int = 0,
    n_lags: int = 1,
    n_layer_blocks: int = 1,
) -> ShardPlan:
    """Shards of one model x modality whose estimated peaks fit ``max_job_memory_gb``.

    Parameters
    ----------
    sizes
        ``{subject: {"rows": samples over all stories, "targets": voxels or channels}}`` in the
        recordings' order (upper bounds are fine: the blocks are fractions of the real counts);
        optionally ``"stories"``, the subject's stories.
    subject_fits
        ``joint``: the subjects who heard the same stories in each shard of their group, one solve
        (inter-subject ceiling per target block); ``separate``: one subject per shard group.
    max_job_memory_gb
        The budget of one job (GB = 1024 MB).
    design_width, n_alphas, n_permutations
        See :func:`estimate_mb`.
    n_lags
        Columns per target (word-locked lags; 1 for fMRI).
    n_layer_blocks
        Blocks of layers (jobs that run side by side; memory does not grow with the layers, which
        are fitted one after the other).

    Returns
    -------
    ShardPlan

    Raises
    ------
    ConfigError
        A budget below what one target of a group needs (the design and its decompositions do not
        shrink with the targets), naming ``encoding.max_job_memory_gb`` and the smallest budget.
    """
    budget = int(max_job_memory_gb * 1024)
    groups = size_groups(sizes, subject_fits)
    shards = []
    for gi, group in enumerate(groups):
        # the design is one group's at a time (at most the longest subject's samples); the targets are
        # every subject's block: their samples summed, not the longest times the subjects
        rows = max(int(sizes[s]["rows"]) for s in group)
        all_rows = sum(int(sizes[s]["rows"]) for s in group)
        n_targets = max(int(sizes[s]["targets"]) for s in group)
        read = n_targets * n_lags if n_lags > 1 else 0

        def peak(n_blocks: int) -> int:
            per_subject = -(-n_targets // n_blocks) * n_lags
            return estimate_mb(rows, per_subject * len(group), design_width=design_width, n_alphas=n_alphas,
                               n_permutations=n_permutations, n_read_columns=read, target_cells=all_rows * per_subject)

        if peak(n_targets) > budget:
            raise ConfigError("encoding.max_job_memory_gb",
                              f"{max_job_memory_gb} GB is below what one target of subjects {group[:3]} needs "
                              f"({peak(n_targets)} MB: {rows} samples, a design of {design_width} columns)",
                              expected=f"at least {math.ceil(peak(n_targets) / 1024 * 10) / 10} GB")
        # the fewest target blocks that fit: peaks fall as blocks are added, so bisect
        lo, hi = 1, n_targets
        while lo < hi:
            mid = (lo + hi) // 2
            if peak(mid) <= budget:
                hi = mid
            else:
                lo = mid + 1
        for li in range(n_layer_blocks):
            for ti in range(lo):
                shards.append(Shard(id=f"g{gi}-l{li}-t{ti}", subjects=tuple(group), layer_block=li,
                                    n_layer_blocks=n_layer_blocks, target_block=ti, n_target_blocks=lo,
                                    mem_mb=peak(lo)))
    return ShardPlan(shards=shards, budget_mb=budget, subjects=list(sizes))


def _number(value) -> float | None:
    """A table cell as a finite number, else None (``n/a``, empty)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def run_sizes(table, modality: str, runs: Sequence[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{subject: {"rows", "targets"}}`` of a modality's runs from the input check's table.

    Rows: fMRI volumes, or MEG/EEG/iEEG words (each word is a design row), summed over the
    subject's runs; stories: the subject's stories; targets: the most voxels (the BOLD image's grid: an upper bound of the masked
    voxels) or channels of its runs.

    Raises
    ------
    InputError
        A planned run missing from the table, or without a size, naming the table.
    """
    import pandas as pd

    from ..errors import InputError
    from ..io.tsv import read_bids_tsv

    source = str(table)
    table = read_bids_tsv(table) if not isinstance(table, pd.DataFrame) else table
    rows_col = "n_samples" if modality in FMRI else "n_words"
    table = table[table["modality"].astype(str) == modality]
    index = {(str(r.subject), str(r.story)): r for r in table.itertuples()}
    sizes: dict[str, dict[str, int]] = {}
    for subject, story in runs:
        row = index.get((str(subject), str(story)))
        values = None if row is None else (_number(getattr(row, rows_col)), _number(row.n_targets))
        if values is None or None in values:
            raise InputError(source, f"run sub-{subject} {story} ({modality}) has no {rows_col}/n_targets",
                             field=f"{rows_col}, n_targets", expected="the sizes the input check records for "
                             "every planned run (re-run check_inputs)")
        entry = sizes.setdefault(str(subject), {"rows": 0, "targets": 0, "stories": []})
        entry["stories"].append(str(story))
        entry["rows"] += int(values[0])
        entry["targets"] = max(entry["targets"], int(values[1]))
    return sizes


def sizing_from_config(table, modality: str, runs: Sequence[tuple[str, str]], config: Mapping, *,
                       design_factor: int = 1) -> dict:
    """What sizes the jobs of a modality: :func:`plan_shards`' arguments but the budget.

    ``config``: the validated workflow config; ``encoding.subjects`` joint or separate, ``design`` the
    design width and word-locked lags (at ``preprocess.<meeg|ieeg>.resample`` Hz, or the runs' own
    rate).  ``design_factor``: times the encode design's width one fit holds (a forecast window's
    features join the present's, :func:`brainalign.analyses.refit_shards.refit_design_factor`).

    Returns
    -------
    dict
        ``sizes`` (:func:`run_sizes`), ``subject_fits``, ``design_width``, ``n_alphas``,
        ``n_permutations``, ``n_lags``.
    """
    from .settings import resolve_subject_fits

    enc = config["encoding"]
    sizes = run_sizes(table, modality, runs)
    n_lags = 1
    if modality in FMRI:
        design = config["design"]["fmri"]
    else:
        design = config["design"]["meeg"]
        sfreq = config["preprocess"]["ieeg" if modality == "ieeg" else "meeg"]["resample"]
        if not sfreq:
            import pandas as pd

            from ..io.tsv import read_bids_tsv

            t = read_bids_tsv(table) if not isinstance(table, pd.DataFrame) else table
            sfreq = max(_number(v) or 0.0 for v in t.loc[t["modality"] == modality, "sfreq_hz"])
        n_lags = int(round((float(design["tmax"]) - float(design["tmin"])) * float(sfreq))) + 1
    return dict(sizes=sizes, subject_fits=resolve_subject_fits(enc["subjects"], modality),
                design_width=design_width(modality, design) * int(design_factor), n_alphas=int(enc["alphas"]["num"]),
                n_permutations=int(enc["n_permutations"]), n_lags=n_lags)


def plan_from_config(table, modality: str, runs: Sequence[tuple[str, str]], config: Mapping, *,
                     design_factor: int = 1) -> ShardPlan:
    """The shard plan of a modality from the input check's table and the workflow config.

    ``config``: the validated workflow config; ``encoding.max_job_memory_gb`` the budget, the rest
    as in :func:`sizing_from_config` (``design_factor``: the wider design of a forecast window).
    """
    return plan_shards(**sizing_from_config(table, modality, runs, config, design_factor=design_factor),
                       max_job_memory_gb=float(config["encoding"]["max_job_memory_gb"]))


@dataclass
class ShardResult:
    """What one shard hands to the gather: its targets' metadata (no arrays), fits and ceilings."""

    shard: Shard
    subjects: list[str]
    targets: EncodingTargets
    fits: list[GroupFit]
    ceilings: dict[str, np.ndarray]
    format: int = SHARD_FORMAT


def layer_block(layers: Sequence[int], block: int, n_blocks: int) -> list[int]:
    """Block ``block`` of ``n_blocks`` of the layers (contiguous, ``numpy.array_split`` sizes)."""
    parts = np.array_split(np.asarray(list(layers), dtype=int), n_blocks)
    if not len(parts[block]):
        raise ValueError(f"layer block {block} of {n_blocks} holds no layer ({len(layers)} layers)")
    return [int(v) for v in parts[block]]


def fit_shard(
    features: dict[str, xr.Dataset],
    recordings: Mapping[str, Mapping[str, xr.DataArray]],
    shard: Shard,
    *,
    modality: str,
    design: dict,
    encoding: dict,
    layers: list[int] | None = None,
    onsets: Mapping | None = None,
    on_beyond_end: str = "error",
    word_sources: Mapping[str, str] | None = None,
    progress: bool = False,
) -> ShardResult:
    """Fit one shard: its subjects, its block of targets, its block of layers.

    ``recordings`` may hold every subject (lazily opened stores): only the shard's subjects and
    target block are read.  The other arguments are those of
    :func:`~brainalign.encoding.pipeline.encode_dataset`.  The inter-subject ceilings are computed
    by the shards of the first layer block only (they do not depend on the layers).
    """
    missing = [s for s in shard.subjects if s not in recordings]
    if missing:
        raise ValueError(f"shard {shard.id}: subjects {missing} have no recordings")
    recs = {s: recordings[s] for s in shard.subjects}
    own_onsets = None if onsets is None else {s: v for s, v in onsets.items() if s in recs}
    targets = collect_targets(features, recs, modality=modality, design=design, encoding=encoding, layers=layers,
                              onsets=own_onsets, on_beyond_end=on_beyond_end, word_sources=word_sources,
                              block=(shard.target_block, shard.n_target_blocks))
    block_layers = layer_block(targets.layers, shard.layer_block, shard.n_layer_blocks)
    fits, ceilings = [], {}
    for group in subject_groups(targets):
        fits.append(fit_group(features, targets, group, layers=block_layers, progress=progress))
        if shard.layer_block == 0:
            ceilings.update(group_ceiling(targets, group))
    return ShardResult(shard=shard, subjects=list(recs), targets=targets.metadata(), fits=fits, ceilings=ceilings)


def write_shard(result: ShardResult, path: str | Path) -> Path:
    """Write a shard's result (a pickle: a transient file between two jobs of one workflow run)."""
    from ..io.atomic import atomic_write_bytes

    return atomic_write_bytes(Path(path), pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


def read_shard(path: str | Path) -> ShardResult:
    """Read a shard's result written by :func:`write_shard`.

    Raises
    ------
    InputError
        A damaged file (truncated, not a pickle) or one of another layout version (written by another
        version of brainalign), naming it.
    """
    from ..errors import InputError

    try:
        with open(path, "rb") as fh:
            result = pickle.load(fh)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as err:
        raise InputError(path, f"cannot be read as a shard result ({type(err).__name__}: {err})",
                         expected="the pickle its encode_shard job wrote",
                         hint="delete it and re-run its encode_shard job") from err
    if not isinstance(result, ShardResult) or getattr(result, "format", None) != SHARD_FORMAT:
        raise InputError(path, f"not a shard result of format {SHARD_FORMAT}",
                         expected="the file its encode_shard job wrote with this version of brainalign",
                         hint="re-run its encode_shard job")
    return result


def _join_subject(parts: list[SubjectTargets], target_dim: str) -> SubjectTargets:
    """One subject's metadata from its target blocks (in order, covering every target once)."""
    parts = sorted(parts, key=lambda t: t.block[0])
    n_total = parts[0].block[2]
    edges = [(t.block[0], t.block[1]) for t in parts]
    if edges[0][0] != 0 or edges[-1][1] != n_total or any(a[1] != b[0] for a, b in zip(edges, edges[1:])):
        raise ValueError(f"subject {parts[0].subject}: the target blocks {edges} do not cover its {n_total} targets "
                         "exactly once")
    first = parts[0]
    coords = {name: (dims, np.concatenate([np.asarray(t.coords[name][1]) for t in parts]))
              for name, (dims, _) in first.coords.items()}
    shape = (n_total,) + tuple(first.target_shape[1:])
    return SubjectTargets(subject=first.subject, stories=first.stories, values={}, onsets=first.onsets,
                          rows=first.rows, times=first.times, tr=first.tr, layout=first.layout, target_shape=shape,
                          coords=coords, attrs=first.attrs)


def _merge_attrs(results: Sequence[ShardResult]) -> dict:
    """The targets' attributes over every shard: per-subject records joined (separate shards each see one)."""
    import json

    attrs = dict(results[0].targets.attrs)
    for key in ("words_left_out_bad_samples", "words_outside_recording"):
        merged = {}
        for r in results:
            merged.update(r.targets.attrs.get(key) or {})
        if merged:
            attrs[key] = merged
    dropped = {}
    for r in results:
        if "channels_dropped" in r.targets.attrs:
            dropped.update(json.loads(r.targets.attrs["channels_dropped"]))
    if dropped:
        attrs["channels_dropped"] = json.dumps(dropped)
    return attrs


def gather_shards(results: Sequence[ShardResult], subjects: Sequence[str] | None = None) -> xr.Dataset:
    """The Scores dataset of a sharded run, as :func:`~brainalign.encoding.pipeline.encode_dataset` gives.

    Each subject's target blocks are joined (metadata, fits, channel-level peaks, ceilings), then
    :func:`~brainalign.encoding.assemble.assemble_scores` places them: FDR over every target, the
    channel-level p from the peaks of all layer blocks.  ``subjects``: their order in the scores
    (the recordings' order of the single job); default, the order the shards list them.

    Raises
    ------
    ValueError
        No results, results of different runs, or blocks that do not cover every subject, layer and
        target exactly once.
    """
    if not results:
        raise ValueError("no shard results to gather")
    found = list(dict.fromkeys(s for r in results for s in r.subjects))
    if subjects is None:
        all_subjects = found
    else:
        all_subjects = [str(s) for s in subjects]
        if sorted(all_subjects) != sorted(found):
            raise ValueError(f"the shards fitted subjects {found}, expected {all_subjects}")
    meta: dict[str, list[SubjectTargets]] = {}
    # (subject, layer block) -> [(start, scores, channel peaks)]
    blocks: dict[tuple[str, int], list] = {}
    ceilings: dict[str, list] = {}
    for r in results:
        for sub in r.subjects:
            if r.shard.layer_block == 0:
                meta.setdefault(sub, []).append(r.targets.subjects[sub])
            start = r.targets.subjects[sub].block[0]
            for fit in r.fits:
                if sub in fit.subjects:
                    blocks.setdefault((sub, r.shard.layer_block), []).append(
                        (start, fit.layers, fit.scores[sub], fit.channel_null.get(sub)))
            if sub in r.ceilings:
                ceilings.setdefault(sub, []).append((start, r.ceilings[sub]))
    first = results[0].targets
    joined = {sub: _join_subject(meta[sub], first.target_dim) for sub in all_subjects}
    targets = EncodingTargets(modality=first.modality, target_dim=first.target_dim, subject_fits=first.subject_fits,
                              stories=first.stories, layers=first.layers, depth=first.depth, design=first.design,
                              encoding=first.encoding, subjects=joined, lags=first.lags, attrs=_merge_attrs(results))
    fits = []
    for (sub, _), parts in blocks.items():
        parts.sort(key=lambda p: p[0])
        layers = parts[0][1]
        scores = {k: np.concatenate([p[2][k] for p in parts], axis=-1) for k in parts[0][2]}
        null = {}
        if parts[0][3] is not None:
            null = {sub: {k: np.concatenate([p[3][k] for p in parts], axis=-1) for k in parts[0][3]}}
        fits.append(GroupFit(subjects=[sub], layers=layers, scores={sub: scores}, channel_null=null))
    ceiling = {sub: np.concatenate([c for _, c in sorted(parts, key=lambda p: p[0])])
               for sub, parts in ceilings.items()}
    return assemble_scores(targets, fits, ceiling)
