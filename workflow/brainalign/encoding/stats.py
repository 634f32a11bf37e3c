"""Significance of encoding scores: circular-shift nulls per target, FDR, group-level tests.

A permutation of samples would destroy the temporal autocorrelation of fMRI/MEG signals and make
the null far too narrow.  The circular-shift null keeps it: the held-out predictions of each story
are rotated in time against the recorded data (by at least ``min_shift`` samples), so both series
keep their own autocorrelation and only their alignment is broken.

The scores are averaged over outer folds, and those folds are not independent: with two stories,
the model tested on story a was trained on b and the one tested on b on a, so under the null both
held-out correlations measure the same cross-product (``X_a'Y_a . X_b'Y_b`` for heavy penalties).
Shifting each fold independently breaks that dependence and gives a null too narrow (13 % of
pure-noise targets below p = 0.05 with two stories, measured).  So each fold is tested on its own
(:func:`circular_shift_null` on its held-out rows, valid given the model trained without them) and
the folds' p-values are combined by :func:`combine_fold_p`, valid under any dependence.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _stats


def _zscore_cols(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    a = a - a.mean(0)
    sd = np.sqrt((a * a).sum(0))
    sd[sd == 0] = np.inf  # constant columns give r = 0 under every shift
    return a / sd


def circular_shift_null(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups=None,
    *,
    n_permutations: int = 1000,
    min_shift: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed r, null distribution and one-sided p-value per target from circular shifts.

    Parameters
    ----------
    y_true, y_pred
        (n_samples, n_targets) recorded data and held-out predictions.
    groups
        (n_samples,) story label per row; each story is shifted separately and r is averaged over
        stories (matching how :func:`~brainalign.encoding.cv.cross_validate` averages folds).
        ``None``: one group.
    n_permutations
        Number of random shifts (drawn independently per story, shared across targets).
    min_shift
        Smallest allowed shift in samples (default: 10 % of the shortest story), so that a shift
        never re-aligns autocorrelated neighbours.
    seed
        Seed of the shift generator.

    Returns
    -------
    r_obs : (n_targets,) observed mean-over-stories r.
    null : (n_permutations, n_targets) null r.
    p : (n_targets,) ``(1 + #{null >= r_obs}) / (1 + n_permutations)``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 2-D shapes")
    groups = np.zeros(len(y_true), int) if groups is None else np.asarray(groups)
    labels = list(dict.fromkeys(groups.tolist()))
    lengths = [int((groups == g).sum()) for g in labels]
    if min_shift is None:
        min_shift = max(1, int(0.1 * min(lengths)))
    if any(n <= 2 * min_shift for n in lengths):
        raise ValueError(f"story lengths {lengths} are too short for min_shift={min_shift} samples")
    rng = np.random.default_rng(seed)
    r_obs = np.zeros(y_true.shape[1])
    null = np.zeros((n_permutations, y_true.shape[1]))
    for g, n in zip(labels, lengths):
        rows = groups == g
        a = _zscore_cols(y_true[rows])
        b = _zscore_cols(y_pred[rows])
        # Circular cross-correlation at every lag at once: xcorr[s] = sum_t a[t] b[t - s].
        xcorr = np.fft.irfft(np.fft.rfft(a, axis=0) * np.conj(np.fft.rfft(b, axis=0)), n=n, axis=0)
        shifts = rng.integers(min_shift, n - min_shift + 1, size=n_permutations)
        r_obs += xcorr[0] / len(labels)
        null += xcorr[shifts] / len(labels)
    p = (1 + (null >= r_obs[None]).sum(0)) / (1 + n_permutations)
    return r_obs, null, p


def combine_fold_p(p_folds: np.ndarray) -> np.ndarray:
    """One p-value from the p-values of dependent folds: ``min(1, 2 x mean)`` over folds (axis 0).

    Twice the arithmetic mean of p-values is a valid p-value under any dependence between them
    (Rüschendorf 1982; Vovk & Wang 2020, "Combining p-values via averaging"); with folds that agree
    it costs a factor 2 at most.  A single fold keeps its p-value.
    """
    p_folds = np.asarray(p_folds, dtype=np.float64)
    if p_folds.shape[0] == 1:
        return p_folds[0]
    return np.minimum(1.0, 2.0 * p_folds.mean(0))


def fdr_bh(p: np.ndarray, q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg FDR across targets.

    Parameters
    ----------
    p
        p-values (any shape; NaNs are ignored and never significant).
    q
        False discovery rate.

    Returns
    -------
    significant : boolean array, same shape as ``p``.
    p_adjusted : BH-adjusted p-values (NaN where ``p`` is NaN).
    """
    p = np.asarray(p, dtype=np.float64)
    adj = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        adj[ok] = _stats.false_discovery_control(p[ok], method="bh")
    return np.where(ok, adj <= q, False), adj


def group_test(
    scores: np.ndarray,
    *,
    method: str = "signflip",
    n_permutations: int = 10000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided test across subjects that the mean score per target exceeds 0.

    Parameters
    ----------
    scores
        (n_subjects, n_targets) per-subject scores (e.g. r for one layer).
    method
        ``"signflip"``: permutation test flipping the sign of each subject's score (exact
        enumeration up to 12 subjects, otherwise ``n_permutations`` random flips); ``"t"``: one-sample
        t-test (scipy).
    n_permutations, seed
        For random sign flips.

    Returns
    -------
    statistic : (n_targets,) mean score (signflip) or t (t-test).
    p : (n_targets,) one-sided p-values.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    n = scores.shape[0]
    if n < 2:
        raise ValueError(f"group test needs at least 2 subjects, got {n}")
    if method == "t":
        res = _stats.ttest_1samp(scores, 0.0, axis=0, alternative="greater")
        return np.asarray(res.statistic), np.asarray(res.pvalue)
    if method != "signflip":
        raise ValueError(f"method={method!r}: expected 'signflip' or 't'")
    if n <= 12:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)[None]) & 1)
    else:
        rng = np.random.default_rng(seed)
        signs = np.vstack([np.ones(n, int), rng.choice([-1, 1], size=(n_permutations, n))])
    obs = scores.mean(0)
    null = signs @ scores / n
    p = (null >= obs[None] - 1e-12).mean(0)  # the identity flip is included, so p >= 1 / n_flips
    return obs, p
