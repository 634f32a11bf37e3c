"""The inputs of an encoding job read in one call: features per story, recordings per run, onsets.

The ``encode``, ``encode_shard``, ``context_scores`` and ``analysis_sensitivity`` rules all read the
same three things, in the order ``workflow/rules/common.smk`` lists them (``features_of``,
``recordings_of`` / ``runs_of``, ``subject_words_of``).
"""

from __future__ import annotations

import os
from typing import Iterable, NamedTuple, Sequence

import xarray as xr

from ..io.store import read_zarr
from .onsets import read_subject_onsets


class EncodingInputs(NamedTuple):
    """What :func:`brainalign.encoding.encode_dataset` (and its shard and sensitivity variants) reads
    (a named tuple: ``features, recordings, onsets = read_encoding_inputs(...)``).

    Attributes
    ----------
    features
        ``{story: Features}``, opened lazily (a job loads the layers it fits).
    recordings
        ``{subject: {story: data}}``, each the ``data`` variable of a preprocessed store, lazily (a
        shard reads its block only).
    onsets
        ``{subject: {story: onsets}}`` with per-subject word tables (``dataset.timings.per_subject``),
        else None: the features' onsets for everyone.
    """

    features: dict[str, xr.Dataset]
    recordings: dict[str, dict[str, xr.DataArray]]
    onsets: dict[str, dict[str, xr.DataArray]] | None


def read_encoding_inputs(stories: Sequence[str], feature_paths: Sequence[str | os.PathLike],
                         runs: Iterable[tuple[str, str]], recording_paths: Sequence[str | os.PathLike],
                         word_paths: Sequence[str | os.PathLike] = ()) -> EncodingInputs:
    """Open the features of every story, the recording of every run and the per-subject onsets.

    Parameters
    ----------
    stories, feature_paths
        The stories and their Features stores, in the same order.
    runs, recording_paths
        ``(subject, story)`` of each run and its preprocessed store, in the same order.
    word_paths
        One per-subject word table per run (same order as ``runs``), or none.

    Returns
    -------
    EncodingInputs

    Raises
    ------
    ValueError
        Stories and feature stores, or runs and recordings, differ in number (the rule lists them
        out of step); word tables that are not one per run (:func:`read_subject_onsets`).
    """
    stories, feature_paths, runs = list(stories), list(feature_paths), list(runs)
    recording_paths = list(recording_paths)
    if len(stories) != len(feature_paths):
        raise ValueError(f"{len(feature_paths)} feature stores for {len(stories)} stories: expected one per story")
    if len(runs) != len(recording_paths):
        raise ValueError(f"{len(recording_paths)} recordings for {len(runs)} runs: expected one per run")
    features = {story: read_zarr(path) for story, path in zip(stories, feature_paths)}
    recordings: dict[str, dict[str, xr.DataArray]] = {}
    for (subject, story), path in zip(runs, recording_paths):
        recordings.setdefault(subject, {})[story] = read_zarr(path)["data"]
    return EncodingInputs(features, recordings, read_subject_onsets(runs, word_paths))
