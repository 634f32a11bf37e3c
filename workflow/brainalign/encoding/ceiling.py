"""Noise ceilings: the best score a model could reach given the noise in the data.

* With repeated presentations of the same stimulus: split-half reliability of the repeat average,
  Spearman-Brown corrected to all repeats; the ceiling on r is its square root (a perfect model of
  the stimulus-driven signal correlates with the noisy average by at most that much).
* Otherwise inter-subject: leave one subject out, correlate its data with the mean of the others
  (subjects must share the stimulus and the target space, e.g. voxels in MNI space or a
  parcellation).  This is the inter-subject correlation (ISC) used as ceiling by Nastase et al.;
  it is conservative because the others' mean is noisy too.
"""

from __future__ import annotations

import warnings

import numpy as np

from .scores import pearson_r


def repeat_ceiling(repeats: np.ndarray, n_splits: int = 100, seed: int = 0) -> np.ndarray:
    """Ceiling on r from repeated presentations.

    Parameters
    ----------
    repeats
        (n_repeats, n_samples, n_targets) responses to the same stimulus.
    n_splits
        Random split-halves averaged.
    seed
        Seed of the split generator.

    Returns
    -------
    (n_targets,) ceiling, ``sqrt(2 r_sh / (1 + r_sh))`` with ``r_sh`` the mean split-half r
    (negative reliabilities give 0).
    """
    repeats = np.asarray(repeats, dtype=np.float64)
    if repeats.ndim != 3 or repeats.shape[0] < 2:
        raise ValueError(f"repeats must be (n_repeats >= 2, n_samples, n_targets), got {repeats.shape}")
    rng = np.random.default_rng(seed)
    k = repeats.shape[0]
    r_sh = np.zeros(repeats.shape[2])
    for _ in range(n_splits):
        perm = rng.permutation(k)
        a, b = perm[: k // 2], perm[k // 2:]
        r_sh += pearson_r(repeats[a].mean(0), repeats[b].mean(0)) / n_splits
    rel = np.clip(2 * r_sh / (1 + r_sh), 0, None)
    return np.sqrt(rel)


def intersubject_ceiling(data: np.ndarray) -> np.ndarray:
    """Leave-one-subject-out ceiling: r between each subject and the mean of the others.

    Parameters
    ----------
    data
        (n_subjects, n_samples, n_targets) responses to the same stimulus.

    Returns
    -------
    (n_subjects, n_targets) r per subject and target.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 3 or data.shape[0] < 2:
        raise ValueError(f"data must be (n_subjects >= 2, n_samples, n_targets), got {data.shape}")
    total = data.sum(0)
    n = data.shape[0]
    return np.stack([pearson_r(data[s], (total - data[s]) / (n - 1)) for s in range(n)])


def normalize_by_ceiling(r: np.ndarray, ceiling: np.ndarray, min_ceiling: float = 0.05) -> np.ndarray:
    """Ceiling-normalised score ``r / ceiling``; NaN where the ceiling is below ``min_ceiling``.

    Dividing by a near-zero ceiling would blow noise up, so such targets are left out (with a
    warning giving their number) rather than clipped.
    """
    r = np.asarray(r, dtype=np.float64)
    ceiling = np.broadcast_to(np.asarray(ceiling, dtype=np.float64), r.shape)
    low = ~(ceiling >= min_ceiling)
    if low.any():
        warnings.warn(f"{int(low.sum())} targets have a noise ceiling below {min_ceiling}: normalised score set to NaN",
                      UserWarning, stacklevel=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = r / ceiling
    return np.where(low, np.nan, out)
