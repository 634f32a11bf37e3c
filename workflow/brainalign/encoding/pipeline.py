"""The encode stage: every layer of one model, all subjects of one modality, in three phases.

``encode_dataset`` turns the Features contract (``word x layer x feature`` per story) and the
Preprocessed contract (``time x voxel|channel`` per subject and story) into the Scores contract
(``subject x layer x voxel`` or ``subject x layer x channel x lag``), see ``docs/architecture.md``.
It runs three named phases, which a sharded run (one job per subject group or layer block) calls
in the same way, so both paths share one code path:

1. :func:`~brainalign.encoding.collect.collect_targets`: check the inputs, read every subject's
   targets on each story's sample layout, decide whether subjects share one target axis (``joint``)
   or keep their own channels (``separate``: iEEG patients);
2. :func:`subject_groups`, then per group :func:`fit_group` (and :func:`group_ceiling`): subjects
   that share the stimulus (same stories, same retained samples) share the design, so their target
   columns are concatenated and one decomposition per fold serves them all; which columns belong
   to whom is bookkeeping (:class:`GroupProblem`), whether the subjects share targets or not;
3. :func:`~brainalign.encoding.assemble.assemble_scores`: the Scores dataset.

Per layer: the layer's word features are z-scored per feature over all words of all stories (LM
hidden-state scales differ by orders of magnitude between layers, and centring keeps a feature's
constant offset from turning into a word-rate regressor once words are summed or convolved; this
uses the stimulus only, never brain data), put on each story's time base by :mod:`brainalign.design`,
stacked over stories, and fitted with story-wise outer CV.

Per-subject onsets (``onsets=``, e.g. MEG-MASC, where each subject's recording has its own word
onsets) replace the features' ``onset`` for that subject.  MEG/EEG designs are the word features
themselves (one row per word), so subjects with different onsets still share a design when the same
words keep a complete window; fMRI designs put the words on the TR grid through the onsets, so there
the onsets are part of the sharing key and each group's operators use its own onsets.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..design.fmri import apply_operator, fmri_operator
from .assemble import assemble_scores, scores_to_frame
from .ceiling import intersubject_ceiling
from .collect import (FMRI, MEEG, ON_BEYOND_END, EncodingTargets, SubjectTargets, collect_targets,  # noqa: F401
                      recording_span)
from .cv import cross_validate
from .stats import circular_shift_null, combine_fold_p

__all__ = ["FMRI", "MEEG", "ON_BEYOND_END", "EncodingTargets", "GroupFit", "GroupProblem", "SubjectTargets",
           "assemble_scores", "collect_targets", "encode_dataset", "fit_group", "group_ceiling", "group_problem",
           "recording_span", "scores_to_frame", "subject_groups"]


def _layer_words(features: dict[str, xr.Dataset], stories: list[str], layer: int) -> dict[str, xr.DataArray]:
    """One layer's ``word x feature`` features per story, z-scored per feature over all stories' words."""
    per_story = {s: features[s]["hidden"].sel(layer=layer).load() for s in stories}
    stacked = np.concatenate([per_story[s].values for s in stories], axis=0).astype(np.float64)
    if not np.all(np.isfinite(stacked)):
        bad = [s for s in stories if not np.all(np.isfinite(per_story[s].values))]
        raise ValueError(f"features of layer {layer} contain NaN/inf (stories {bad})")
    mu, sd = stacked.mean(0), stacked.std(0)
    sd[sd == 0] = 1.0
    return {s: ((per_story[s] - mu) / sd).astype(np.float32) for s in stories}


def _subject_groups(keys: dict[str, tuple]) -> list[list[str]]:
    """Subjects with identical sample layouts (same stories, same retained samples) share a design.

    The key is whatever makes the design differ: for fMRI the story, TR, volume times and word
    onsets; for MEG/EEG the story and the words kept (a complete window), not the onsets.
    """
    groups: dict[tuple, list[str]] = {}
    for subject, key in keys.items():
        groups.setdefault(key, []).append(subject)
    return list(groups.values())


def subject_groups(targets: EncodingTargets) -> list[list[str]]:
    """The groups of subjects fitted in one solve: those whose designs are the same (phase 2).

    Subjects with their own targets (``separate``) are grouped in the same way: their columns are
    concatenated, and the ridge solves each column on its own, so a group only shares the design's
    decompositions.
    """
    return _subject_groups({subject: t.layout for subject, t in targets.subjects.items()})


@dataclass
class GroupProblem:
    """One solve: the group's stacked targets, the row labels and the design of each layer.

    Attributes
    ----------
    subjects : the group, in order.
    stories : the stories of its rows, in order.
    rows_story : (n_rows,) story label of each row (the outer folds hold whole stories out).
    Y : (n_rows, n_columns) the subjects' target columns side by side.
    columns : ``{subject: slice}`` of ``Y``'s columns that are that subject's targets.
    design_of_layer : ``layer -> (n_rows, n_design_columns)`` design.
    """

    subjects: list[str]
    stories: list[str]
    rows_story: np.ndarray
    Y: np.ndarray
    columns: dict[str, slice]
    design_of_layer: Callable[[int], np.ndarray]


def group_problem(features: dict[str, xr.Dataset], targets: EncodingTargets, group: Sequence[str]) -> GroupProblem:
    """Stack a group's targets and build its design (the first subject's layout stands for all).

    Raises
    ------
    ValueError
        Subjects of different layouts in one group, or an fMRI recording without ``tr``.
    """
    group = list(group)
    first: SubjectTargets = targets.subjects[group[0]]
    other = [s for s in group[1:] if targets.subjects[s].layout != first.layout]
    if other:
        raise ValueError(f"subjects {other} do not share subject {group[0]}'s design (stories, samples kept): "
                         "they cannot be fitted in one group (use subject_groups)")
    g_stories = list(first.stories)
    rows_story = np.concatenate([np.full(first.values[s].shape[0], s, dtype=object) for s in g_stories])
    Y = np.concatenate([np.concatenate([targets.subjects[sub].values[s] for sub in group], axis=1)
                        for s in g_stories], axis=0)
    columns, start = {}, 0
    for sub in group:
        n = targets.subjects[sub].n_columns
        columns[sub] = slice(start, start + n)
        start += n
    if targets.modality in FMRI:
        dpar = targets.design
        ops = {}
        for s in g_stories:
            tr = first.tr[s]
            if tr is None:
                raise ValueError(f"subject {group[0]}, story {s}: fMRI recording has no 'tr' attribute")
            ops[s] = fmri_operator(first.onsets[s], first.times[s], float(tr), dpar["method"], dpar["delays"],
                                   dpar["hrf_model"])

        def design_of_layer(layer, ops=ops, g_stories=g_stories):
            words = _layer_words(features, g_stories, layer)
            return np.concatenate([apply_operator(ops[s], words[s]).values for s in g_stories], axis=0)
    else:
        kept = {s: first.rows[s] for s in g_stories}

        def design_of_layer(layer, kept=kept, g_stories=g_stories):
            words = _layer_words(features, g_stories, layer)
            return np.concatenate([words[s].values[kept[s]] for s in g_stories], axis=0)

    return GroupProblem(subjects=group, stories=g_stories, rows_story=rows_story, Y=Y, columns=columns,
                        design_of_layer=design_of_layer)


def _fit_layers(
    design_of_layer,
    Y: np.ndarray,
    rows_story: np.ndarray,
    layers: list[int],
    enc: dict,
    progress: bool,
    n_lags: int | None = None,
) -> dict[str, np.ndarray]:
    """Cross-validate every layer against the shared targets ``Y``; arrays are ``layer x target``.

    With permutations, ``p`` is the circular-shift p-value of each target, tested in each held-out
    fold and combined over folds (:mod:`brainalign.encoding.stats`).  With ``n_lags`` too
    (word-locked designs: ``Y``'s columns are channel x lag, channel-major), also ``null_max``
    (fold x permutation x channel) and ``obs_max`` (fold x channel): the peak over these layers and
    the lags of each channel's held-out r, observed and under every shift.  The shifts are the same
    for every layer (one seed per fold), so the peaks of layer blocks combine by a maximum.
    """
    n_t = Y.shape[1]
    out = {k: np.full((len(layers), n_t), np.nan, dtype=np.float32) for k in ("r", "r2", "alpha")}
    n_perm = enc["n_permutations"]
    if n_perm:
        out["p"] = np.full((len(layers), n_t), np.nan, dtype=np.float32)
    iterator = enumerate(layers)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(list(iterator), desc="layers", unit="layer")
    for i, layer in iterator:
        X = design_of_layer(layer)
        res = cross_validate(X, Y, rows_story, alphas=enc["alphas"], inner_folds=enc["inner_folds"],
                             outer_folds=enc["outer_folds"], backend=enc["backend"], chunk_size=enc["chunk_size"],
                             return_predictions=bool(n_perm))
        out["r"][i], out["r2"][i], out["alpha"][i] = res.r, res.r2, res.alpha
        if not n_perm:
            continue
        if n_lags and "null_max" not in out:
            out["null_max"] = np.full((len(res.splits), n_perm, n_t // n_lags), -np.inf)
            out["obs_max"] = np.full((len(res.splits), n_t // n_lags), -np.inf)
        p_folds = []
        for k, (_, test) in enumerate(res.splits):
            # Each held-out fold on its own: its stories shifted, r averaged over them (as the scores are).
            r_obs, null, p = circular_shift_null(Y[test], res.predictions[test], rows_story[test],
                                                 n_permutations=n_perm, seed=enc["seed"])
            p_folds.append(p)
            if n_lags:
                np.maximum(out["null_max"][k], null.reshape(n_perm, -1, n_lags).max(-1), out=out["null_max"][k])
                np.maximum(out["obs_max"][k], r_obs.reshape(-1, n_lags).max(-1), out=out["obs_max"][k])
        out["p"][i] = combine_fold_p(np.stack(p_folds))
    return out


@dataclass
class GroupFit:
    """Scores of one group's fit (phase 2), to be placed by :func:`assemble_scores`.

    Attributes
    ----------
    subjects : the group.
    layers : the layers fitted (all of ``targets.layers``, or a block of them).
    scores : ``{subject: {variable: (n_layers, n_columns) float32}}`` for ``r``, ``r2``, ``alpha``
        (and ``p`` with permutations); columns in the subject's target order (voxel, or channel x
        lag, channel-major).
    channel_null : ``{subject: {"null_max": (n_folds, n_permutations, n_channels), "obs_max":
        (n_folds, n_channels)}}`` with permutations of word-locked fits: each channel's peak held-out
        r over the fitted layers and the lags in each outer fold, observed and under every circular
        shift (the channel-level test, :func:`brainalign.encoding.assemble.channel_p`); else empty.
    """

    subjects: list[str]
    layers: list[int]
    scores: dict[str, dict[str, np.ndarray]]
    channel_null: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def fit_group(
    features: dict[str, xr.Dataset],
    targets: EncodingTargets,
    group: Sequence[str],
    *,
    layers: Sequence[int] | None = None,
    progress: bool = False,
) -> GroupFit:
    """Cross-validate every layer (or ``layers``, a block of them) for one group of subjects.

    Parameters
    ----------
    features
        ``{story: Dataset}`` (Features contract).
    targets
        From :func:`collect_targets`.
    group
        Subjects sharing one design (one element of :func:`subject_groups`).
    layers
        A subset of ``targets.layers`` (a shard's layer block); default all.
    progress
        Show a progress bar over layers.

    Returns
    -------
    GroupFit
    """
    layers = list(targets.layers) if layers is None else [int(v) for v in layers]
    unknown = [v for v in layers if v not in targets.layers]
    if unknown:
        raise ValueError(f"layers {unknown} are not among the layers to encode ({targets.layers})")
    problem = group_problem(features, targets, group)
    n_lags = None if targets.lags is None else len(targets.lags)
    fitted = _fit_layers(problem.design_of_layer, problem.Y, problem.rows_story, layers, targets.encoding, progress,
                         n_lags=n_lags)
    null_max, obs_max = fitted.pop("null_max", None), fitted.pop("obs_max", None)
    scores = {sub: {k: v[..., cols] for k, v in fitted.items()} for sub, cols in problem.columns.items()}
    channel_null = {}
    if null_max is not None:
        for sub, cols in problem.columns.items():
            ch = slice(cols.start // n_lags, cols.stop // n_lags)
            channel_null[sub] = {"null_max": null_max[..., ch], "obs_max": obs_max[..., ch]}
    return GroupFit(subjects=list(group), layers=layers, scores=scores, channel_null=channel_null)


def group_ceiling(targets: EncodingTargets, group: Sequence[str]) -> dict[str, np.ndarray]:
    """Inter-subject noise ceiling of each subject of a group (``{subject: (n_columns,)}``).

    Leave-one-subject-out correlation with the mean of the others, per story, averaged over stories;
    only for subjects that share targets (``joint``), with ``encoding.ceiling: intersubject`` and at
    least two subjects in the group; else ``{}``.
    """
    group = list(group)
    if targets.subject_fits != "joint" or targets.encoding["ceiling"] != "intersubject" or len(group) < 2:
        return {}
    per_story = []
    for s in targets.subjects[group[0]].stories:
        stack = np.stack([targets.subjects[sub].values[s] for sub in group])
        per_story.append(intersubject_ceiling(stack))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        isc = np.nanmean(np.stack(per_story), axis=0)
    return {sub: isc[j] for j, sub in enumerate(group)}


def encode_dataset(
    features: dict[str, xr.Dataset],
    recordings: dict[str, dict[str, xr.DataArray]],
    *,
    modality: str,
    design: dict,
    encoding: dict,
    layers: list[int] | None = None,
    progress: bool = False,
    onsets: Mapping[str, Mapping[str, np.ndarray | xr.DataArray]] | None = None,
    on_beyond_end: str = "error",
    word_sources: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Cross-validated encoding scores of every layer for every subject.

    Parameters
    ----------
    features
        ``{story: Dataset}`` following the Features contract (``hidden``: word x layer x feature,
        coords ``onset``, ``layer``, ``relative_depth``).
    recordings
        ``{subject: {story: DataArray}}`` following the Preprocessed contract (``time x voxel`` for
        fMRI, ``time x channel`` for MEG/EEG/iEEG).
    modality
        ``"fmri"``, or ``"meg"``, ``"eeg"``, ``"ieeg"``.
    design
        fMRI: ``{"method": "hrf"|"fir", "delays": [...], "hrf_model": "spm"|"glover"}``; MEG/EEG:
        ``{"method": "word_locked", "tmin": ..., "tmax": ...}`` (s, word-locked lags).  The complete
        ``design.fmri`` / ``design.meeg`` section (the workflow's validated config; outside
        Snakemake :func:`brainalign.encoding.settings.design_settings`, the schema's defaults, fMRI
        ``fir``): a missing key is a :class:`~brainalign.errors.ConfigError` naming it.
    encoding
        ``{"alphas": [...], "inner_folds", "outer_folds" (None: leave one story out),
        "backend": "numpy"|"torch"|..., "chunk_size", "n_permutations" (circular-shift
        p-values if > 0), "fdr_q", "ceiling": "intersubject"|"none", "seed",
        "channels_across_runs": "drop"|"error", "subjects": "auto"|"joint"|"separate"}``, complete
        (:func:`brainalign.encoding.settings.encoding_settings` of the validated section, or
        :func:`~brainalign.encoding.settings.solver_settings` outside Snakemake; a missing key is a
        :class:`~brainalign.errors.ConfigError` naming it)
        (MEG/EEG/iEEG runs of one subject with different channels,
        :func:`brainalign.encoding.targets.align_channels`; ``subjects``: whether subjects share one
        target axis, :func:`brainalign.encoding.settings.resolve_subject_fits`: ``auto`` fits iEEG
        patients separately, each on their own electrodes, and every other modality jointly).
    layers
        Subset of layers (default all).
    progress
        Show progress bars.
    onsets
        Per-subject word onsets ``{subject: {story: onsets}}`` (s, on the clock of that subject's
        recording), replacing the features' ``onset`` for those runs; runs not listed use the
        features' onsets.  Each entry is a 1-D array (one onset per word of the story) or a
        DataArray with dim ``word`` (:func:`brainalign.encoding.onsets.subject_onsets`); when it has
        a ``norm`` coord and the features a ``text`` coord, the normalised words must match the
        story's in order.  MEG/EEG subjects with different onsets are still fitted jointly when
        they keep the same words; fMRI subjects are grouped only with subjects sharing their onsets
        (no inter-subject ceiling for a subject alone in its group).
    on_beyond_end
        Word onsets outside a run's recording (:func:`recording_span`; config
        ``dataset.timings.on_beyond_end``): ``"error"`` (default) raises; ``"drop"`` (or ``"warn"``)
        leaves them out of that run's design, logs them and records the counts in the attribute
        ``words_outside_recording`` (JSON ``{subject: {story: n}}``).
    word_sources
        ``{story: word table path}``, named in those errors (per-subject onsets name their own
        ``source``).

    Returns
    -------
    xr.Dataset
        ``r``, ``r2``, ``alpha`` with dims ``subject x layer x voxel`` (fMRI) or
        ``subject x layer x channel x lag`` (MEG/EEG); target coords carried through,
        ``relative_depth`` on ``layer``.  Subjects fitted separately (attr ``subject_fits``) are on
        a pooled channel axis of subject-qualified channels (:mod:`brainalign.encoding.assemble`).
        With ``ceiling="intersubject"``, joint fits and >= 2 subjects:
        ``ceiling`` (subject x target) and ``r_normalized`` (``r / ceiling``, NaN where the ceiling
        is below 0.05).  With ``n_permutations > 0``: ``p`` (circular-shift, one-sided) and
        ``significant`` (BH-FDR at ``fdr_q`` across targets, per subject and layer).  Attrs
        ``channels_across_runs`` and, when used, ``channels_dropped`` (JSON ``{subject: [channels]}``)
        and ``words_left_out_bad_samples`` (JSON ``{subject: {story: n}}``: MEG/EEG/iEEG words whose
        window touches a NaN sample of a ``BAD`` segment, left out of that subject's fit).

    Raises
    ------
    InputError
        Word onsets outside a recording (``on_beyond_end="error"``), naming the word file, the
        recording, the subject, story, count and first such word; subjects fitted jointly whose
        targets differ (voxel counts or positions, channel sets), naming the file and subjects.
    ValueError
        Unknown modality or keys, missing stories, NaN/inf data (fMRI; inf for MEG/EEG/iEEG, whose
        NaN marks ``BAD`` samples); onsets of unknown subjects or stories, or whose words differ
        from the story's (naming the file when the onsets carry a ``source`` attribute, the subject,
        story, first differing word index and both words).
    """
    targets = collect_targets(features, recordings, modality=modality, design=design, encoding=encoding,
                              layers=layers, onsets=onsets, on_beyond_end=on_beyond_end, word_sources=word_sources)
    fits, ceilings = [], {}
    for group in subject_groups(targets):
        fits.append(fit_group(features, targets, group, progress=progress))
        ceilings.update(group_ceiling(targets, group))
    return assemble_scores(targets, fits, ceilings)
