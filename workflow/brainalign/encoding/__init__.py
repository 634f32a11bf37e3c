"""brainalign.encoding: cross-validated ridge encoders, scores, noise ceilings and statistics.

* :mod:`.ridge` — per-target ridge with inner K-fold alpha selection (numpy/torch backends);
* :mod:`.estimator` — :class:`RidgeCV`, that solver as a scikit-learn estimator (numpy or xarray in/out);
* :mod:`.cv` — story-wise outer cross-validation;
* :mod:`.banded` — banded ridge (several feature spaces) through himalaya;
* :mod:`.scores`, :mod:`.ceiling`, :mod:`.stats` — r/R², noise ceilings, circular-shift nulls, FDR,
  group tests;
* :mod:`.pipeline` — :func:`encode_dataset`, the entry point of the ``encode`` rule, and its phases:
  :mod:`.collect` (every subject's targets), :func:`~.pipeline.fit_group` (one solve per group of
  subjects sharing a design), :mod:`.assemble` (the Scores contract: one target axis, or a pooled
  channel axis for subjects with their own channels);
* :mod:`.electrodes` — electrode table across patients and group statistics (iEEG);
* :mod:`.onsets` — per-subject word onsets (MEG-MASC) read and checked for ``encode_dataset``;
* :mod:`.inputs` — :func:`read_encoding_inputs`, an encoding job's features, recordings and onsets.
"""

from .ceiling import intersubject_ceiling, normalize_by_ceiling, repeat_ceiling
from .cv import CVResult, cross_validate, outer_splits
from .onsets import check_same_words, read_subject_onsets, subject_onsets
from .inputs import EncodingInputs, read_encoding_inputs
from .assemble import own_channels, qualified_channel
from .electrodes import electrode_stats, electrode_table
from .estimator import RidgeCV
from .pipeline import assemble_scores, collect_targets, encode_dataset, fit_group, scores_to_frame, subject_groups
from .ridge import DEFAULT_ALPHAS, RidgeCVFit, fit_ridge_cv, kfold_blocks
from .scores import pearson_r, r2_score
from .stats import circular_shift_null, fdr_bh, group_test

__all__ = [
    "CVResult", "DEFAULT_ALPHAS", "EncodingInputs", "RidgeCV", "RidgeCVFit", "assemble_scores", "check_same_words",
    "circular_shift_null", "collect_targets", "cross_validate", "electrode_stats", "electrode_table",
    "encode_dataset", "fdr_bh", "fit_group", "fit_ridge_cv", "group_test", "intersubject_ceiling", "kfold_blocks",
    "normalize_by_ceiling", "outer_splits", "own_channels", "pearson_r", "qualified_channel", "r2_score",
    "read_encoding_inputs", "read_subject_onsets", "repeat_ceiling", "scores_to_frame", "subject_groups", "subject_onsets",
]
