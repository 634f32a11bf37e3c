"""Non-finite samples (NaN, +inf, -inf) in a recording: one policy per modality, never a silent zero.

A NaN in a BOLD volume, an ``.hf5`` response or an M/EEG sample used to be set to 0 by a library
on the way (nilearn's maskers replace non-finite values by 0; LeBel et al.'s loaders call
``np.nan_to_num``); after z-scoring, that one sample became a spike of -16 standard deviations
that the encoder fitted like any other.  Each preprocessing function now calls
:func:`apply_nonfinite_policy` on its ``time x target`` data *before* any filtering, with the
option ``nonfinite`` of its config block (``preprocess.fmri`` / ``preprocess.meeg`` /
``preprocess.ieeg``):

``error`` (default)
    :class:`~brainalign.errors.InputError` naming the file, the number of affected targets (voxels
    or channels, the first few named), the number of non-finite values and the first affected
    samples with their times.
``interpolate``
    Within each affected target, linear interpolation in time between the nearest finite samples
    (a run of non-finite samples at the start or end takes the nearest finite value).  A target
    whose fraction of non-finite samples exceeds ``nonfinite_max_fraction`` is not interpolated:
    an fMRI voxel (targets are positions shared by every subject) is set to 0 over the whole run
    and so carries no signal (after cleaning and z-scoring it stays 0, like a zero-variance voxel);
    an M/EEG/iEEG channel is dropped from the run, like a channel marked bad (the encoder's
    ``encoding.channels_across_runs`` then handles the subject's other runs).
``mark`` (MEG/EEG/iEEG only)
    The non-finite samples are annotated ``BAD_nonfinite``, widened by one output sample on either
    side (so, with ``bad_segments: nan``, the output samples they touch are NaN like every ``BAD``
    segment, and the encoder leaves out the words whose window reaches them); to keep the filters
    finite their values are interpolated first, as above.
    Channels beyond ``nonfinite_max_fraction`` are dropped as with ``interpolate``.

Whatever is done is logged and recorded in the output's attributes (:data:`ATTRS`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from brainalign.errors import ConfigError, InputError

log = logging.getLogger(__name__)

#: The policies each modality accepts (config ``preprocess.<block>.nonfinite``).
POLICIES = {"fmri": ("error", "interpolate"), "meeg": ("error", "interpolate", "mark"),
            "ieeg": ("error", "interpolate", "mark")}
#: Default largest fraction of a target's samples that ``interpolate`` / ``mark`` repairs.
DEFAULT_MAX_FRACTION = 0.1
#: Attributes written on the output DataArray.
ATTRS = ("nonfinite", "nonfinite_max_fraction", "nonfinite_values", "nonfinite_targets",
         "nonfinite_interpolated", "nonfinite_zeroed", "nonfinite_dropped", "nonfinite_marked_samples",
         "nonfinite_outside_targets")


@dataclass
class NonfiniteResult:
    """What :func:`apply_nonfinite_policy` did.

    Attributes
    ----------
    data
        The repaired ``time x target`` array (a copy when anything changed).
    keep
        Boolean mask over targets: False for targets dropped (M/EEG/iEEG beyond the maximum fraction).
    bad_samples
        Boolean mask over samples: True where any kept target was non-finite (``mark`` annotates these).
    attrs
        The record for the output's attributes (see :data:`ATTRS`).
    """

    data: np.ndarray
    keep: np.ndarray
    bad_samples: np.ndarray
    attrs: dict = field(default_factory=dict)


def index_spans(indices: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs ``(first, last)`` of sorted integer indices."""
    if indices.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    starts = np.r_[indices[0], indices[breaks + 1]]
    ends = np.r_[indices[breaks], indices[-1]]
    return list(zip(starts.tolist(), ends.tolist()))


def describe_samples(rows: np.ndarray, times: np.ndarray | None, *, sample_name: str = "sample",
                     offset: int = 0, limit: int = 5) -> str:
    """``"samples 10, 1500-1504 (t = 4.0 s, 6.0-6.016 s)"``: the first ``limit`` runs of ``rows``.

    ``rows`` index the data (and ``times``, aligned with them); they are shown plus ``offset`` (the
    index in the file of the data's first row).
    """
    spans = index_spans(np.asarray(rows, dtype=np.int64))
    shown = spans[:limit]
    idx = ", ".join(f"{a + offset}" if a == b else f"{a + offset}-{b + offset}" for a, b in shown)
    more = f" and {len(spans) - limit} more run(s)" if len(spans) > limit else ""
    text = f"{sample_name}s {idx}{more}"
    if times is not None:
        t = np.asarray(times, dtype=float)
        when = ", ".join(f"{t[a]:.6g} s" if a == b else f"{t[a]:.6g}-{t[b]:.6g} s" for a, b in shown)
        text += f" (t = {when})"
    return text


def check_policy(policy: str, modality: str, max_fraction: float, *, key: str) -> None:
    """Raise :class:`ConfigError` for a policy the modality does not support or a bad fraction."""
    allowed = POLICIES[modality]
    if policy not in allowed:
        raise ConfigError(f"{key}.nonfinite", f"{policy!r} is not a policy for {modality} data",
                          expected=f"one of {list(allowed)}")
    if not 0.0 <= float(max_fraction) <= 1.0:
        raise ConfigError(f"{key}.nonfinite_max_fraction", f"{max_fraction!r} is not a fraction",
                          expected="a number between 0 and 1")


def clean_attrs(policy: str, max_fraction: float) -> dict:
    """The attributes recorded for data without any non-finite value."""
    return {"nonfinite": policy, "nonfinite_max_fraction": float(max_fraction), "nonfinite_values": 0,
            "nonfinite_targets": []}


class _Names:
    """Target names by index: given names, or the index itself."""

    def __init__(self, names: Sequence[str] | None) -> None:
        self.names = names

    def __getitem__(self, c: int) -> str:
        return str(c) if self.names is None else str(self.names[int(c)])


def _interpolate_column(y: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of the non-finite entries of one target (edges: nearest value)."""
    x = np.arange(y.size)
    out = y.copy()
    out[bad] = np.interp(x[bad], x[~bad], y[~bad])
    return out


def _summarise(data: np.ndarray, bad: np.ndarray, cols: np.ndarray, names: _Names, times: np.ndarray | None,
               *, what: str, sample_name: str, first_sample: int) -> tuple[str, int]:
    """The message describing the non-finite values (``bad``; ``cols`` the affected targets) and their count."""
    n_time, n_targets = data.shape
    rows = np.flatnonzero(bad.any(axis=1))
    n_nan, n_inf = int(np.isnan(data).sum()), int(np.isinf(data).sum())
    shown = ", ".join(names[c] for c in cols[:5]) + (" ..." if cols.size > 5 else "")
    when = describe_samples(rows, times, sample_name=sample_name, offset=first_sample)
    summary = (f"{n_nan + n_inf} non-finite value(s) ({n_nan} NaN, {n_inf} inf) in {cols.size} of {n_targets} "
               f"{what}(s) [{shown}] at {rows.size} of {n_time} {sample_name}(s): {when}")
    return summary, n_nan + n_inf


def _repair(data: np.ndarray, bad: np.ndarray, cols: np.ndarray, *,
            max_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate the affected targets ``cols`` whose non-finite fraction is at most ``max_fraction``.

    Returns a float copy of ``data``, the repaired targets and those beyond the fraction.  The latter
    are set to 0: an fMRI voxel then carries no signal, and an M/EEG/iEEG channel (which the caller
    drops) stays finite meanwhile.
    """
    fraction = bad[:, cols].mean(axis=0)
    beyond = cols[fraction > max_fraction]
    repair = cols[fraction <= max_fraction]
    out = np.array(data, dtype=np.float64 if data.dtype == np.float64 else np.float32, copy=True)
    for c in repair:
        out[:, c] = _interpolate_column(out[:, c], bad[:, c])
    out[:, beyond] = 0.0
    return out, repair, beyond


def _repair_and_record(data: np.ndarray, bad: np.ndarray, cols: np.ndarray, names: _Names, attrs: dict, *,
                       policy: str, max_fraction: float, source: str, modality: str, key: str, what: str,
                       summary: str) -> NonfiniteResult:
    """The ``interpolate``/``mark`` policies: repair, zero (fMRI) or drop the affected targets, log, record."""
    n_targets = data.shape[1]
    keep = np.ones(n_targets, dtype=bool)
    out, repair, beyond = _repair(data, bad, cols, max_fraction=max_fraction)
    attrs["nonfinite_interpolated"] = [names[c] for c in repair]
    beyond_names = [names[c] for c in beyond]
    if modality == "fmri":
        attrs["nonfinite_zeroed"] = beyond_names
    else:
        keep[beyond] = False
        attrs["nonfinite_dropped"] = beyond_names
        if not keep.any():
            raise InputError(source, summary + f"; every {what} has more than {max_fraction:g} of its samples "
                             "non-finite, none left", expected="finite samples",
                             hint=f"raise {key}.nonfinite_max_fraction or exclude the run")
    bad_samples = bad[:, keep].any(axis=1)
    action = {"interpolate": "interpolated linearly in time",
              "mark": "interpolated and marked BAD_nonfinite"}[policy]
    log.warning("%s: %s; %d %s(s) %s%s", source, summary, repair.size, what, action,
                f"; {len(beyond_names)} {what}(s) with more than {max_fraction:g} of samples non-finite "
                f"{'set to 0' if modality == 'fmri' else 'dropped'}: {beyond_names[:10]}" if beyond_names else "")
    if policy == "mark":
        attrs["nonfinite_marked_samples"] = int(bad_samples.sum())
    return NonfiniteResult(out, keep, bad_samples, attrs)


def apply_nonfinite_policy(
    data: np.ndarray,
    *,
    policy: str,
    max_fraction: float,
    source: str,
    modality: str,
    key: str,
    target_names: Sequence[str] | None = None,
    times: np.ndarray | None = None,
    what: str = "voxel",
    sample_name: str = "sample",
    first_sample: int = 0,
) -> NonfiniteResult:
    """Find NaN/inf samples in ``time x target`` data and apply the configured policy.

    Parameters
    ----------
    data
        ``time x target`` array (not modified).
    policy
        ``"error"``, ``"interpolate"`` or ``"mark"`` (see the module docstring and :data:`POLICIES`).
    max_fraction
        Largest fraction of a target's samples that ``interpolate``/``mark`` repairs; beyond it an
        fMRI target is set to 0 and an M/EEG/iEEG target dropped.
    source
        The file named in messages and attributes.
    modality
        ``"fmri"``, ``"meeg"`` or ``"ieeg"`` (which policies apply and what happens beyond the fraction).
    key
        The config block (``"preprocess.fmri"``) named in the hint.
    target_names
        Names of the targets (channel names, voxel ``i,j,k``), any sequence indexable by target
        number (only the affected ones are read); default their indices.
    times
        Time (s) of each sample, for messages.
    what, sample_name
        Words for a target (``voxel``, ``channel``) and a sample (``volume``, ``sample``).
    first_sample
        Index in the file of ``data``'s first row (dropped initial volumes), for messages.

    Returns
    -------
    NonfiniteResult

    Raises
    ------
    InputError
        ``policy="error"`` and a non-finite value is present; or every target is beyond the fraction.
    ConfigError
        A policy the modality does not support.
    """
    check_policy(policy, modality, max_fraction, key=key)
    data = np.asarray(data)
    n_time, n_targets = data.shape
    attrs = clean_attrs(policy, max_fraction)
    keep = np.ones(n_targets, dtype=bool)
    if not np.issubdtype(data.dtype, np.floating):  # integer data cannot hold NaN or inf
        return NonfiniteResult(data, keep, np.zeros(n_time, bool), attrs)
    bad = ~np.isfinite(data)
    if not bad.any():
        return NonfiniteResult(data, keep, np.zeros(n_time, bool), attrs)
    names = _Names(target_names)
    cols = np.flatnonzero(bad.any(axis=0))
    summary, n_values = _summarise(data, bad, cols, names, times, what=what, sample_name=sample_name,
                                   first_sample=first_sample)
    attrs.update(nonfinite_values=n_values, nonfinite_targets=[names[c] for c in cols])
    if policy == "error":
        options = " / ".join(repr(p) for p in POLICIES[modality] if p != "error")
        raise InputError(source, summary, expected="finite samples",
                         hint=f"set {key}.nonfinite to {options} to repair them (see the schema's description)")
    return _repair_and_record(data, bad, cols, names, attrs, policy=policy, max_fraction=max_fraction,
                              source=source, modality=modality, key=key, what=what, summary=summary)


def mark_bad_samples(raw, bad_samples: np.ndarray, description: str = "BAD_nonfinite", pad: float = 0.0) -> int:
    """Annotate each run of True in ``bad_samples`` (over ``raw``'s samples) as ``description``.

    Each annotation covers its samples widened by ``pad`` seconds on either side (clipped to the
    recording).  Without padding, :meth:`mne.io.Raw.get_data` with ``reject_by_annotation="NaN"``
    blanks exactly those samples; after resampling, a span shorter than one output sample would
    blank none, so the caller pads by the output sample period.  Returns the number of annotations.
    """
    spans = index_spans(np.flatnonzero(bad_samples))
    if not spans:
        return 0
    sfreq = float(raw.info["sfreq"])
    orig_time = raw.annotations.orig_time
    # Annotations without orig_time count from the first sample; with one, from the measurement date.
    start = 0.0 if orig_time is None else raw.first_time
    end = raw.n_times / sfreq
    t0 = [max(0.0, a / sfreq - pad) for a, _ in spans]
    t1 = [min(end, (b + 1) / sfreq + pad) for _, b in spans]
    onsets = [start + a for a in t0]
    durations = [b - a for a, b in zip(t0, t1)]
    import mne

    raw.set_annotations(raw.annotations + mne.Annotations(onsets, durations, [description] * len(spans),
                                                          orig_time=orig_time))
    return len(spans)
