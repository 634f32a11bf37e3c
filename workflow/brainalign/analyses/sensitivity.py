"""What can this dataset resolve?  Power and depth resolution of the encoders on the user's own recordings.

Before a user believes "layer 16 peaks in STG" they should know whether their recordings could have
told layer 12 from layer 16 at their noise level.  :func:`sensitivity_analysis` answers with planted
signals, in six steps:

1. **Hosts.**  Targets (voxels / channels) of the user's real preprocessed recordings receive the
   planted signals; every subject's recording of a host keeps its real noise, autocorrelation,
   preprocessing and NaN (``BAD``) samples.  With ``hosts: weakest`` (default) they are drawn
   (seeded) from the targets whose own peak brain score (the real scores, max over the analysed
   layers of the mean over subjects) is at most the ``host_quantile`` quantile, the targets closest
   to pure noise; ``random`` draws from every usable target.  Constant or unscored targets (fMRI
   voxels zeroed for non-finite samples) never host.  With ``shift_hosts`` (default) every run is
   first rotated in time by one random shift for all its targets (:func:`shift_run`): the noise and
   its spatial structure stay, their alignment with the stimulus goes, so that neither the selection
   of weak hosts (noise that happened to fit the features badly) nor a host's own real signal biases
   the curve, and the unplanted hosts are a true null.
2. **Planted signal**, exactly as the demo simulator plants its regions: per planted depth, latents
   from the model's own features of the encoded layer nearest ``depth x n_layers``
   (:func:`brainalign.demo.drivers.region_latents`: seeded random mixtures of the layer's top
   principal components, decorrelated from the layers ``specificity_distance`` away), put on each
   run's own time base (fMRI: word impulses convolved with the Glover HRF,
   :func:`brainalign.demo.fmri.hrf_regressors`, sampled at the run's ``time`` coordinate;
   MEG/EEG/iEEG: a word-locked Gaussian response kernel, :func:`brainalign.demo.eeg.word_locked`),
   and mixed into each host with seeded unit-norm weights per subject (one draw per subject, as the
   demo's subjects differ).  Each repeat draws its own latents (independent random projections of
   the same components: the layer's decomposition is computed once per depth).
3. **Injection at a chosen SNR** (:func:`inject`): in every subject, run and host the signal is
   scaled so that its variance over the run's samples is ``snr`` times the host's variance (NaN
   samples left out).  The SNR is therefore defined on the preprocessed recordings, the data the
   encoders see; the real data's own signal, if a host has any, counts as noise.  The injection
   happens after preprocessing: the planted signal does not pass through the confound regression and
   filters (see the caption).  Within a repeat, every SNR and target count reuses the same hosts,
   latents and weights (a paired design: only the amplitude changes along the curve).
4. **Encoding.**  :func:`brainalign.encoding.encode_dataset` with the workflow's ``design`` and
   ``encoding`` settings on the chosen layers (one call per repeat: all depths, SNRs and the
   unplanted *null* hosts of a repeat share one decomposition per layer), with circular-shift
   p-values when ``n_permutations > 0``.
5. **Metrics.**  *Detection*: each target's held-out r per subject, layer (and MEG/EEG lag) is
   turned into a one-sided p-value by a z-test against the r of the repeat's ``n_null`` unplanted
   hosts, encoded in the same call (:func:`null_calibrated_p`: real, time-shifted noise through the
   identical pipeline calibrates the test, including the dependence between CV folds that the
   encoder's circular-shift null misses); the p-values of a target are combined over layers (and
   lags) with Simes' test (valid for the positively dependent tests of neighbouring layers and lags),
   then BH-FDR at ``fdr_q`` runs per subject over a family made of the planted set and the unplanted
   hosts, as the map of a real analysis mixes responsive and silent targets.  The detection rate is
   the fraction of (subject, planted target) pairs significant; the unplanted hosts give the
   false-positive rate and the false-discovery proportion.  With ``n_permutations > 0`` the same is
   reported for the encoder's own circular-shift p-values (``*_encoder_p`` columns: what its
   ``significant`` maps would claim, and how often they claim it for noise).  *Depth error*: per
   planted target, the best layer of the across-subject mean score (the one a best-layer map shows)
   minus the planted layer, in layers; per planted set, the best layer of the set's mean profile
   (the region-level claim).
6. **The real data's SNR.**  The simulated curve *median peak score vs SNR* (per planted depth, and
   pooled) is inverted at the real data's own peak scores (per region: the median over its targets,
   with the curve of the planted depth nearest the region's best depth; and the 50/90/99 % quantiles
   over all targets, with the pooled curve), and the power table is read at that SNR.

Everything is seeded from ``seed``; the same inputs give the same tables.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..demo.drivers import region_latents
from ..demo.eeg import response_kernel, word_locked
from ..demo.fmri import hrf_regressors
from ..encoding.pipeline import FMRI, MEEG, encode_dataset
from ..encoding.stats import fdr_bh
from ..errors import ConfigError, InputError
from ..config_sections import defaults as _schema_defaults
from ..config_sections import require
from .settings import evenly_spaced_layers
from .units import reduce_lag, target_dim

log = logging.getLogger(__name__)

KEY = "analyses.sensitivity"


@dataclass
class SensitivityResult:
    """Tables of :func:`sensitivity_analysis`.

    Attributes
    ----------
    power : one row per planted depth x target count x SNR (means over repeats): detection rate,
        false-positive rate, false-discovery proportion, depth errors, scores, measured SNR.
    curve : one row per SNR and planted depth (and ``depth = "all"``): median and quartiles of the
        planted targets' peak score, detection rate, depth error.
    observed : the real data's peak scores per region and quantile, their SNR on the curve and the
        detection rate and depth error at that SNR.
    targets : one row per repeat x depth x SNR x planted target (host, measured SNR, score, best
        layer, fraction of subjects detecting it at the largest target count's family).
    summary : settings used, layers, hosts, run times (s).
    """

    power: pd.DataFrame
    curve: pd.DataFrame
    observed: pd.DataFrame
    targets: pd.DataFrame
    summary: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------ settings
def check_settings(settings: Mapping[str, Any] | None) -> dict:
    """The complete ``analyses.sensitivity`` section ``settings``, checked.

    The section must hold every key (the workflow's validation fills the schema's defaults; outside
    Snakemake use ``brainalign.config_sections.with_defaults("analyses.sensitivity", partial)``).

    Raises
    ------
    ConfigError
        Naming the key (``analyses.sensitivity.snrs`` ...) that is missing, unknown, or out of range,
        and what is expected.
    """
    s = require(settings, KEY)
    s = {k: (dict(v) if isinstance(v, dict) else v) for k, v in s.items()}
    depths = [float(d) for d in s["depths"]]
    if not depths or any(not 0.0 <= d <= 1.0 for d in depths):
        raise ConfigError(f"{KEY}.depths", f"{s['depths']!r}", expected="a non-empty list of relative depths in [0, 1]")
    snrs = [float(v) for v in s["snrs"]]
    if len(snrs) < 2 or any(not v > 0 for v in snrs) or len(set(snrs)) != len(snrs):
        raise ConfigError(f"{KEY}.snrs", f"{s['snrs']!r}", expected="at least 2 distinct SNRs > 0 (a curve)")
    counts = [int(v) for v in s["n_targets"]]
    if not counts or any(v < 2 for v in counts):
        raise ConfigError(f"{KEY}.n_targets", f"{s['n_targets']!r}", expected="a non-empty list of counts >= 2")
    for key, low in (("n_null", 20), ("n_repeats", 1), ("n_layers", 2), ("n_permutations", 0)):
        if int(s[key]) < low:
            raise ConfigError(f"{KEY}.{key}", f"{s[key]!r}", expected=f"an integer >= {low}")
    if s["hosts"] not in ("weakest", "random"):
        raise ConfigError(f"{KEY}.hosts", f"{s['hosts']!r}", expected="'weakest' or 'random'")
    for key in ("host_quantile", "fdr_q"):
        if not 0.0 < float(s[key]) <= 1.0:
            raise ConfigError(f"{KEY}.{key}", f"{s[key]!r}", expected="a number in (0, 1]")
    if any(not 0.0 < float(q) < 1.0 for q in s["quantiles"]):
        raise ConfigError(f"{KEY}.quantiles", f"{s['quantiles']!r}", expected="numbers in (0, 1)")
    lat = s["latents"]
    if int(lat["n_latents"]) < 1 or int(lat["n_pcs"]) < 1 or not 0.0 <= float(lat["specificity"]) <= 1.0:
        raise ConfigError(f"{KEY}.latents", f"{lat!r}", expected="n_latents >= 1, n_pcs >= 1, specificity in [0, 1]")
    ker = s["meeg_kernel"]
    if not (float(ker["width"]) > 0 and float(ker["length"]) > 0 and 0 <= float(ker["peak"]) <= float(ker["length"])):
        raise ConfigError(f"{KEY}.meeg_kernel", f"{ker!r}", expected="width > 0, length > 0, 0 <= peak <= length")
    s.update(depths=depths, snrs=sorted(snrs), n_targets=sorted(set(counts)))
    return s


def resolve_layers(available: Sequence[int], layers: Sequence[int] | None, n_layers: int) -> list[int]:
    """Layers encoded: the explicit list, else ``n_layers`` evenly spaced over ``available``.

    Raises
    ------
    ConfigError
        When an explicit layer is not available.
    """
    available = sorted(int(v) for v in available)
    if layers is not None:
        bad = [int(v) for v in layers if int(v) not in available]
        if bad:
            raise ConfigError(f"{KEY}.layers", f"layers {bad} are not encoded in the real scores",
                              expected=f"a subset of {available}")
        return sorted({int(v) for v in layers})
    return evenly_spaced_layers(available, n_layers)


def planted_layers(depths: Sequence[float], layers: Sequence[int], n_blocks: int) -> list[int]:
    """The encoded layer nearest ``depth x n_blocks`` for each depth (so that depth error 0 is reachable)."""
    layers = np.asarray(sorted(layers))
    return [int(layers[np.abs(layers - float(d) * n_blocks).argmin()]) for d in depths]


# ------------------------------------------------------------------------------- scores, hosts
def peak_scores(scores: xr.Dataset, layers: Sequence[int], *, var: str = "r", lag_reduce: str = "mean") -> pd.DataFrame:
    """Per target: the peak over ``layers`` of the across-subject mean score, and the layer reaching it.

    The statistic of a best-layer map (``figures.min_score`` uses the same peak).  MEG/EEG lags are
    reduced first (``lag_reduce``).  Columns ``target`` (label), ``position``, ``peak_score``,
    ``best_layer`` and ``region`` when the scores carry one.
    """
    if var not in scores:
        raise ValueError(f"scores have no variable {var!r} (have {sorted(scores.data_vars)})")
    dim = target_dim(scores)
    da = reduce_lag(scores[var], lag_reduce).sel(layer=list(layers)).mean("subject")
    values = da.transpose("layer", dim).values.astype(np.float64)
    finite = np.isfinite(values).any(axis=0)
    filled = np.where(np.isfinite(values), values, -np.inf)
    best = filled.argmax(axis=0)
    out = pd.DataFrame({"target": scores[dim].values, "position": np.arange(values.shape[1]),
                        "peak_score": np.where(finite, filled.max(axis=0), np.nan),
                        "best_layer": np.where(finite, np.asarray(layers)[best], -1)})
    if "region" in scores.coords and scores["region"].dims == (dim,):
        out["region"] = np.asarray(scores["region"].values).astype(str)
    return out


def host_pool(peaks: pd.DataFrame, usable: np.ndarray, *, hosts: str, quantile: float) -> np.ndarray:
    """Positions of the targets that may host a planted signal.

    ``weakest``: usable targets whose real peak score is at most its ``quantile`` quantile over the
    usable targets; ``random``: every usable target.  Unscored targets (NaN) never host.
    """
    score = peaks["peak_score"].to_numpy(np.float64)
    pos = np.flatnonzero(np.asarray(usable, bool) & np.isfinite(score))
    if hosts == "random" or pos.size == 0:
        return pos
    return pos[score[pos] <= np.quantile(score[pos], quantile)]


def shift_run(data: np.ndarray, rng: np.random.Generator, min_fraction: float = 0.1) -> np.ndarray:
    """``data`` (time first) rotated in time by a random shift of at least ``min_fraction`` of the run.

    One shift for all targets of a run: the noise keeps its spectrum, autocorrelation, NaN segments
    and spatial covariance, but no longer lines up with the stimulus.  Hosts chosen as the weakest by
    their own fit to the model would otherwise bring noise selected to fit the features badly (a
    downward bias at the low end of the score-vs-SNR curve), and any real stimulus-locked signal of a
    host would be counted as planted.
    """
    n = data.shape[0]
    low = max(1, int(min_fraction * n))
    if n <= 2 * low:
        return data
    return np.roll(data, int(rng.integers(low, n - low + 1)), axis=0)


# ------------------------------------------------------------------------------------ planting
def inject(host: np.ndarray, signal: np.ndarray, snr: float) -> np.ndarray:
    """``host`` plus ``signal`` scaled to a signal-to-noise ratio ``snr`` in every column.

    Parameters
    ----------
    host
        ``(n_samples, n_targets)`` recorded data (NaN samples allowed: they stay NaN and are left out
        of the variances).
    signal
        ``(n_samples, n_targets)`` planted time courses (any scale; centred here).
    snr
        Variance of the added signal / variance of the host, per column, over the host's finite
        samples.

    Returns
    -------
    numpy.ndarray
        float64 ``host + a * (signal - mean)``; a column whose host or signal is constant gets nothing.
    """
    host = np.asarray(host, dtype=np.float64)
    signal = np.asarray(signal, dtype=np.float64)
    if host.shape != signal.shape or host.ndim != 2:
        raise ValueError(f"inject: host {host.shape} and signal {signal.shape} must be equal 2-D shapes")
    if not snr >= 0:
        raise ValueError(f"inject: snr must be >= 0, got {snr!r}")
    ok = np.isfinite(host)
    n = np.maximum(ok.sum(axis=0), 1)
    s = signal - np.where(ok, signal, 0.0).sum(axis=0) / n
    s_var = np.where(ok, s * s, 0.0).sum(axis=0) / n
    h = np.where(ok, host, 0.0)
    h_var = (np.where(ok, (h - h.sum(axis=0) / n) ** 2, 0.0)).sum(axis=0) / n
    scale = np.where(s_var > 0, np.sqrt(snr * h_var / np.where(s_var > 0, s_var, 1.0)), 0.0)
    return host + scale * s


def measured_snr(injected: np.ndarray, host: np.ndarray) -> np.ndarray:
    """Variance of ``injected - host`` over the variance of ``host``, per column (finite samples)."""
    added = np.asarray(injected, dtype=np.float64) - np.asarray(host, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanvar(added, axis=0) / np.nanvar(np.asarray(host, dtype=np.float64), axis=0)


def mixing_weights(rng: np.random.Generator, n_latents: int, n_targets: int) -> np.ndarray:
    """Random unit-norm mixing of ``n_latents`` latents into ``n_targets`` targets, as the demo mixes
    a planted region's latents into its voxels/channels (``brainalign.demo.generate``)."""
    w = rng.standard_normal((n_latents, n_targets))
    return w / np.linalg.norm(w, axis=0, keepdims=True)


def planted_time_courses(latents: np.ndarray, onsets: np.ndarray, recording: xr.DataArray, modality: str,
                         kernel: Mapping[str, float] | None = None) -> np.ndarray:
    """Per-word latents on a recording's time base, as the demo simulator puts them.

    Parameters
    ----------
    latents
        ``(n_words, k)`` per-word latents of one story.
    onsets
        Word onsets (s, on the recording's clock).
    recording
        Preprocessed run (``time`` coordinate in s; fMRI attr ``tr``, MEG/EEG attr ``sfreq`` or a
        regular ``time`` grid).
    modality
        ``fmri`` (Glover HRF, :func:`brainalign.demo.fmri.hrf_regressors`) or MEG/EEG/iEEG
        (word-locked Gaussian kernel ``kernel = {peak, width, length}`` in s, by default the
        schema's ``analyses.sensitivity.meeg_kernel``;
        :func:`brainalign.demo.eeg.word_locked`).

    Returns
    -------
    numpy.ndarray
        ``(n_times, k)``.
    """
    times = np.asarray(recording["time"].values, dtype=np.float64)
    onsets = np.asarray(onsets, dtype=np.float64)
    if modality in FMRI:
        tr = recording.attrs.get("tr")
        if tr is None:
            raise InputError(str(recording.attrs.get("source_file", "fMRI recording")), "no 'tr' attribute",
                             field="tr", expected="the repetition time in s (Preprocessed contract)")
        # a clock starting before 0 (words before the run) is shifted so that every time is >= 0
        t0 = min(0.0, float(times.min()), float(onsets.min()) if onsets.size else 0.0)
        return hrf_regressors(latents, onsets - t0, float(tr), 0, times=times - t0)
    sfreq = recording.attrs.get("sfreq")
    sfreq = float(sfreq) if sfreq else 1.0 / float(np.median(np.diff(times)))
    k = kernel if kernel is not None else _schema_defaults(f"{KEY}.meeg_kernel")
    ker = response_kernel(sfreq, float(k["peak"]), float(k["width"]), float(k["length"]))
    return word_locked(latents, onsets - times[0], times.size, ker, sfreq)


# -------------------------------------------------------------------------------------- tests
def simes(p: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """Simes' combination of p-values over ``axis``: ``min_k m p_(k) / k`` (NaNs ignored).

    Valid for independent or positively dependent tests (Sarkar 2008), as the tests of one target at
    neighbouring layers and lags are; unlike Bonferroni it returns ``p`` when all ``m`` p-values are
    equal, so the permutation resolution is not lost.
    """
    p = np.asarray(p, dtype=np.float64)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % p.ndim for a in axes)
    rest = [a for a in range(p.ndim) if a not in axes]
    flat = np.transpose(p, rest + list(axes)).reshape([p.shape[a] for a in rest] + [-1])
    srt = np.sort(np.where(np.isfinite(flat), flat, np.inf), axis=-1)
    m = np.isfinite(flat).sum(axis=-1, keepdims=True)
    k = np.arange(1, srt.shape[-1] + 1)
    with np.errstate(invalid="ignore"):
        comb = np.where(np.isfinite(srt), m * srt / k, np.inf).min(axis=-1)
    comb = np.minimum(comb, 1.0)
    return np.where(m[..., 0] > 0, comb, np.nan)


def null_calibrated_p(r: np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided p-values of held-out r against the r of unplanted hosts through the same pipeline.

    Parameters
    ----------
    r
        ``(..., n_targets)`` held-out r (e.g. subject x layer [x lag] x target, target last).
    null
        ``(..., n_null)`` held-out r of the unplanted hosts, same leading axes.

    Returns
    -------
    numpy.ndarray
        ``Phi(-(r - mean_null) / sd_null)`` per leading index: a z-test whose null mean and spread
        are measured on real (time-shifted) noise encoded exactly like the planted targets.  Unlike
        the circular shift of held-out predictions, this spread includes the dependence between the
        folds of a story-wise CV (each fold's model is fitted on the other stories' data), which the
        shift breaks: with two stories, leave-one-story-out, both folds' r of a noise target are
        nearly the same quadratic form of the two stories' data, so their mean varies like one
        story's r while the shifted null averages two independent ones.  Measured on AR(1) noise
        (2 stories x 300 words, FIR ridge): the circular-shift p falls at or below 0.01 for 4.5-5.6 %
        and at or below 0.05 for 11-14 % of noise targets; this z-test gives 1 % and 5 %
        (tests/unit/analyses/test_sensitivity.py).
    """
    from scipy.stats import norm

    mu = null.mean(axis=-1, keepdims=True)
    sd = null.std(axis=-1, ddof=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (r - mu) / np.where(sd > 0, sd, np.nan)
    return norm.sf(z)


def detect(p_planted: np.ndarray, p_null: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """BH-FDR at ``q`` over one family (planted set + unplanted hosts), separately per subject.

    Parameters
    ----------
    p_planted, p_null
        ``(n_subjects, n_planted)`` and ``(n_subjects, n_null)`` combined p-values.

    Returns
    -------
    (significant planted, significant null), boolean arrays of the input shapes.
    """
    p = np.concatenate([p_planted, p_null], axis=1)
    sig = np.stack([fdr_bh(row, q)[0] for row in p])
    return sig[:, :p_planted.shape[1]], sig[:, p_planted.shape[1]:]


def snr_at_score(score: float, snrs: Sequence[float], curve: Sequence[float]) -> tuple[float, str]:
    """Invert a score-vs-SNR curve (interpolated in log SNR) at ``score``.

    The curve is made non-decreasing (running maximum) first.  Returns ``(snr, "")`` inside the
    simulated range, ``(nan, "<snr_min")`` below and ``(nan, ">snr_max")`` above it (a bound).
    """
    x = np.log10(np.asarray(snrs, dtype=np.float64))
    y = np.maximum.accumulate(np.asarray(curve, dtype=np.float64))
    if not np.isfinite(score) or not np.all(np.isfinite(y)):
        return float("nan"), "undefined"
    if score < y[0]:
        return float("nan"), f"<{snrs[0]:g}"
    if score > y[-1]:
        return float("nan"), f">{snrs[-1]:g}"
    i = int(np.searchsorted(y, score, side="left"))
    if i == 0 or y[i] == y[i - 1]:
        return float(10 ** x[i]), ""
    frac = (score - y[i - 1]) / (y[i] - y[i - 1])
    return float(10 ** (x[i - 1] + frac * (x[i] - x[i - 1]))), ""


# ------------------------------------------------------------------------------------- driver
def _word_onsets(features: Mapping[str, xr.Dataset], onsets: Mapping | None, subject: str, story: str) -> np.ndarray:
    given = None if onsets is None else onsets.get(subject, {}).get(story)
    if given is None:
        return np.asarray(features[story]["onset"].values, dtype=np.float64)
    return np.asarray(given.values if isinstance(given, xr.DataArray) else given, dtype=np.float64)


def _host_data(rec: xr.DataArray, dim: str, labels: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``(time, n)`` float64 data of the hosts in one run, by label when the run has the coordinate."""
    rec = rec.transpose("time", dim)
    if dim in rec.coords:
        missing = np.setdiff1d(labels, rec[dim].values)
        if missing.size:
            raise InputError(str(rec.attrs.get("source_file", "recording")),
                             f"{dim}s {list(missing[:5])} of the scores are not in this run", field=dim)
        return np.asarray(rec.sel({dim: labels}).values, dtype=np.float64)
    return np.asarray(rec.isel({dim: positions}).values, dtype=np.float64)


def _usable(recordings: Mapping[str, Mapping[str, xr.DataArray]], dim: str, labels: np.ndarray) -> np.ndarray:
    """Targets with variance in every run of every subject (a constant host cannot carry an SNR)."""
    ok = np.ones(labels.size, bool)
    for recs in recordings.values():
        for rec in recs.values():
            data = _host_data(rec, dim, labels, np.arange(labels.size))
            with np.errstate(invalid="ignore"):
                ok &= np.nan_to_num(np.nanstd(data, axis=0)) > 0
    return ok


def _sim_recording(host: xr.DataArray, data: np.ndarray, dim: str) -> xr.DataArray:
    names = (np.arange(data.shape[1]) if dim == "voxel" else np.array([f"SIM{j:05d}" for j in range(data.shape[1])]))
    return xr.DataArray(data.astype(np.float32), dims=("time", dim),
                        coords={"time": host["time"].values, dim: names}, attrs=dict(host.attrs))


@dataclass
class _Plan:
    """What every repeat shares: settings, layers, targets and the host pool (see :func:`sensitivity_analysis`)."""

    s: dict
    seed: int
    modality: str
    stories: list[str]
    subjects: list[str]
    layers: list[int]
    n_blocks: int
    depth_layers: list[int]
    dim: str
    peaks: pd.DataFrame
    labels: np.ndarray
    usable: np.ndarray
    pool: np.ndarray
    n_copies: int

    @property
    def snrs(self) -> list[float]:
        return self.s["snrs"]

    @property
    def n_max(self) -> int:
        return max(self.s["n_targets"])

    @property
    def n_null(self) -> int:
        return int(self.s["n_null"])

    @property
    def n_columns(self) -> int:
        """Columns of each subject's simulated recordings: the planted blocks, then the nulls."""
        return self.n_max * len(self.depth_layers) * len(self.snrs) + self.n_null


def _check_layers(features: dict[str, xr.Dataset], stories: list[str], scores: xr.Dataset,
                  s: dict) -> tuple[list[int], int, dict[int, int], list[int]]:
    """``(analysed layers, n_blocks, position of each feature layer, planted layer of each depth)``."""
    feat_layers = [int(v) for v in features[stories[0]]["layer"].values]
    score_layers = [int(v) for v in scores["layer"].values]
    missing = [v for v in score_layers if v not in feat_layers]
    if missing:
        raise InputError("scores", f"layers {missing} are not in the features (layers {feat_layers})", field="layer")
    layers = resolve_layers(score_layers, s["layers"], int(s["n_layers"]))
    n_blocks = max(feat_layers)
    layer_pos = {v: i for i, v in enumerate(feat_layers)}
    return layers, n_blocks, layer_pos, planted_layers(s["depths"], layers, n_blocks)


def _checked_pool(peaks: pd.DataFrame, usable: np.ndarray, s: dict) -> tuple[np.ndarray, int]:
    """The host pool and the number of time-shifted copies of a host the unplanted columns need.

    Raises
    ------
    ConfigError
        Fewer hosts than ``n_targets`` asks for, or copies needed while ``shift_hosts`` is false.
    """
    pool = host_pool(peaks, usable, hosts=s["hosts"], quantile=float(s["host_quantile"]))
    n_max, n_null = max(s["n_targets"]), int(s["n_null"])
    if pool.size < n_max:
        raise ConfigError(f"{KEY}.n_targets", f"{pool.size} targets can host a planted signal "
                          f"(hosts={s['hosts']!r}, host_quantile={s['host_quantile']}, {int(usable.sum())} usable of "
                          f"{usable.size}) but n_targets asks for up to {n_max}",
                          hint="lower n_targets or raise host_quantile")
    # Fewer hosts than unplanted columns (e.g. 64 EEG channels): a host serves several unplanted
    # columns, each copy rotated by its own time shift (so no two columns are the same noise).
    n_copies = int(np.ceil(n_null / pool.size))
    if n_copies > 1 and not s["shift_hosts"]:
        raise ConfigError(f"{KEY}.n_null", f"{n_null} unplanted hosts but only {pool.size} targets can host, and "
                          "shift_hosts is false (copies of a host would be identical columns)",
                          hint=f"set n_null <= {pool.size}, raise host_quantile or set shift_hosts: true")
    if n_copies > 1:
        log.info("sensitivity: %d unplanted columns from %d hosts (up to %d time-shifted copies each)",
                 n_null, pool.size, n_copies)
    return pool, n_copies


def _draw_hosts(rng: np.random.Generator, pool: np.ndarray, n_max: int, n_null: int,
                n_copies: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One repeat's hosts: ``(planted, nulls, copy)``.

    ``planted``: ``n_max`` distinct hosts of the pool.  ``nulls[j]``: the host of unplanted column
    ``j``, from ``n_copies`` shuffles of the pool concatenated (so no host repeats within a copy);
    ``copy[j]``: which copy it belongs to (each copy gets its own time shift).
    """
    hosts = rng.choice(pool, size=n_max, replace=False)
    nulls = np.concatenate([rng.permutation(pool) for _ in range(n_copies)])[:n_null]
    copy = np.repeat(np.arange(n_copies), pool.size)[:n_null]
    return hosts, nulls, copy


def _plant_run(plan: _Plan, rec: xr.DataArray, hosts: np.ndarray, nulls: np.ndarray, copy: np.ndarray,
               latents: list[np.ndarray], weights: list[np.ndarray], onsets: np.ndarray,
               shift_seed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """One run's simulated columns and the SNR measured in each planted block.

    Returns ``(data, measured)``: ``data`` (time x ``plan.n_columns``) holds ``[depth][snr]`` blocks
    of the planted hosts, then the unplanted ones; ``measured`` (depth x snr x n_max) the realised
    SNR of every planted column.  ``shift_seed`` (``[seed, 14, rep, subject, story]``) seeds the
    run's time shifts: copy ``c`` of the unplanted hosts uses ``shift_seed + [c]``, the planted hosts
    the same shift as copy 0.
    """
    host = _host_data(rec, plan.dim, plan.labels[hosts], hosts)
    null_data = _host_data(rec, plan.dim, plan.labels[nulls], nulls)
    if plan.s["shift_hosts"]:
        # one shift per run (and per copy of the unplanted hosts), common to all its targets
        host = shift_run(host, np.random.default_rng([*shift_seed, 0]))
        for c in range(plan.n_copies):
            cols = copy == c
            null_data[:, cols] = shift_run(null_data[:, cols], np.random.default_rng([*shift_seed, c]))
    blocks = []
    measured = np.zeros((len(plan.depth_layers), len(plan.snrs), plan.n_max))
    for d_i in range(len(plan.depth_layers)):
        tc = planted_time_courses(latents[d_i], onsets, rec, plan.modality, plan.s["meeg_kernel"])
        signal = tc @ weights[d_i]
        for n_i, snr in enumerate(plan.snrs):
            out = inject(host, signal, snr)
            measured[d_i, n_i] = measured_snr(out, host)
            blocks.append(out)
    blocks.append(null_data)
    return np.concatenate(blocks, axis=1), measured


def _plant_repeat(plan: _Plan, features: Mapping[str, xr.Dataset], recordings: Mapping[str, Mapping[str, xr.DataArray]],
                  onsets: Mapping | None, all_latents: list[dict[str, np.ndarray]],
                  rep: int) -> tuple[dict[str, dict[str, xr.DataArray]], np.ndarray, np.ndarray]:
    """One repeat's simulated recordings, measured SNRs (subject x depth x snr x n_max, mean over
    runs) and planted hosts."""
    seed, lat, n_depths = plan.seed, plan.s["latents"], len(plan.depth_layers)
    hosts, nulls, copy = _draw_hosts(np.random.default_rng([seed, 11, rep]), plan.pool, plan.n_max, plan.n_null,
                                     plan.n_copies)
    # column layout of this repeat: [depth][snr] blocks of n_max planted hosts, then the nulls
    k = int(lat["n_latents"])
    latents = [{st: v[:, rep * k:(rep + 1) * k] for st, v in all_latents[d_i].items()} for d_i in range(n_depths)]
    sim: dict[str, dict[str, xr.DataArray]] = {}
    measured = np.zeros((len(plan.subjects), n_depths, len(plan.snrs), plan.n_max))
    for s_i, sub in enumerate(plan.subjects):
        weights = [mixing_weights(np.random.default_rng([seed, 13, rep, d_i, s_i]), k, plan.n_max)
                   for d_i in range(n_depths)]
        sim[sub] = {}
        runs = [st for st in plan.stories if st in recordings[sub]]
        for st_i, st in enumerate(plan.stories):
            if st not in recordings[sub]:
                continue
            rec = recordings[sub][st]
            data, run_snr = _plant_run(plan, rec, hosts, nulls, copy, [lt[st] for lt in latents], weights,
                                       _word_onsets(features, onsets, sub, st), [seed, 14, rep, s_i, st_i])
            measured[s_i] += run_snr / len(runs)
            sim[sub][st] = _sim_recording(rec, data, plan.dim)
    return sim, measured, hosts


def _summary(plan: _Plan, clock: dict, snr_err: float) -> dict:
    """The run's ``summary``: settings, layers, hosts and run times (s)."""
    s = plan.s
    return {
        "modality": plan.modality, "seed": plan.seed, "settings": s, "layers": plan.layers, "n_blocks": plan.n_blocks,
        "planted_layers": dict(zip([str(d) for d in s["depths"]], plan.depth_layers)),
        "subjects": plan.subjects, "stories": plan.stories, "n_host_pool": int(plan.pool.size),
        "host_shift": bool(s["shift_hosts"]), "null_copies_per_host": plan.n_copies,
        "n_usable_targets": int(plan.usable.sum()),
        "n_targets_total": int(plan.labels.size), "columns_per_subject": plan.n_columns,
        "max_relative_snr_error": snr_err,
        "seconds": {key: round(clock[key], 2) for key in ("setup", "latents", "planting", "encoding", "total")},
        "test": "z-test of r against the unplanted hosts' r per subject, layer (and lag), Simes over layers "
                "(and lags), BH-FDR per subject over the planted set + n_null unplanted hosts; *_encoder_p: the "
                "same with the encoder's circular-shift p-values",
    }


def _make_plan(features: dict[str, xr.Dataset], recordings: dict[str, dict[str, xr.DataArray]],
               scores: xr.Dataset, s: dict, seed: int, modality: str, var: str,
               lag_reduce: str) -> tuple[_Plan, dict[int, int], dict[str, dict[str, xr.DataArray]]]:
    """Stories, layers, peak scores and host pool of the analysis; also each feature layer's position
    and the recordings, loaded."""
    stories = [st for st in features if any(st in recs for recs in recordings.values())]
    if not stories:
        raise ValueError("sensitivity: no story has both features and recordings")
    # every run is read many times (hosts, copies, repeats): read each from disk once
    recordings = {sub: {st: rec.load() for st, rec in recs.items()} for sub, recs in recordings.items()}
    layers, n_blocks, layer_pos, depth_layers = _check_layers(features, stories, scores, s)
    dim = target_dim(scores)
    peaks = peak_scores(scores, layers, var=var, lag_reduce=lag_reduce)
    labels = peaks["target"].to_numpy()
    usable = _usable(recordings, dim, labels)
    pool, n_copies = _checked_pool(peaks, usable, s)
    plan = _Plan(s=s, seed=seed, modality=modality, stories=stories, subjects=list(recordings), layers=layers,
                 n_blocks=n_blocks, depth_layers=depth_layers, dim=dim, peaks=peaks, labels=labels, usable=usable,
                 pool=pool, n_copies=n_copies)
    return plan, layer_pos, recordings


def _depth_latents(features: dict[str, xr.Dataset], plan: _Plan, layer_pos: dict[int, int]) -> list[dict]:
    """``[depth] -> {story: word x (n_latents * n_repeats)}``: the planted latents of every repeat.

    One call per depth: each repeat's latents are their own random projections of the layer's
    principal components (columns are independent draws), and the decomposition of the layer and
    its neighbours is computed once, not once per repeat.
    """
    s, lat = plan.s, plan.s["latents"]
    return [region_latents({st: features[st] for st in plan.stories}, layer_pos[layer],
                           n_latents=int(lat["n_latents"]) * int(s["n_repeats"]), n_pcs=int(lat["n_pcs"]),
                           specificity=float(lat["specificity"]),
                           specificity_distance=int(lat["specificity_distance"]), forecast_distance=0,
                           rng=np.random.default_rng([plan.seed, 12, d_i]))
            for d_i, layer in enumerate(plan.depth_layers)]


def _repeat(plan: _Plan, features: dict[str, xr.Dataset], recordings: Mapping[str, Mapping[str, xr.DataArray]],
            onsets: Mapping | None, all_latents: list[dict], rep: int, design: dict, enc: dict, progress: bool,
            var: str, lag_reduce: str, clock: dict, target_rows: list, cond_rows: list) -> float:
    """Plant, encode and score one repeat (rows appended); returns its largest relative SNR error."""
    t0 = time.perf_counter()
    sim, measured, hosts = _plant_repeat(plan, features, recordings, onsets, all_latents, rep)
    snr_err = float(np.nanmax(np.abs(measured / np.asarray(plan.snrs)[None, None, :, None] - 1)))
    t1 = time.perf_counter()
    res = encode_dataset({st: features[st] for st in plan.stories}, sim, modality=plan.modality, design=design,
                         encoding=enc, layers=plan.layers, progress=progress, onsets=onsets)
    t2 = time.perf_counter()
    clock["planting"] += t1 - t0
    clock["encoding"] += t2 - t1
    log.info("sensitivity %s repeat %d: %d columns per subject, planting %.1f s, encoding %.1f s",
             plan.modality, rep, plan.n_columns, t1 - t0, t2 - t1)
    _collect(res, rep, plan.dim, var, lag_reduce, plan.layers, plan.depth_layers, plan.s, plan.snrs,
             plan.s["n_targets"], plan.n_max, plan.n_null, plan.labels[hosts], plan.peaks, measured, target_rows,
             cond_rows)
    return snr_err


def sensitivity_analysis(
    features: dict[str, xr.Dataset],
    recordings: dict[str, dict[str, xr.DataArray]],
    scores: xr.Dataset,
    *,
    modality: str,
    design: dict,
    encoding: dict,
    settings: Mapping[str, Any] | None = None,
    seed: int = 0,
    onsets: Mapping | None = None,
    var: str = "r",
    lag_reduce: str = "mean",
    progress: bool = False,
) -> SensitivityResult:
    """Detection rate and depth error of the encoders on planted signals in real recordings.

    Parameters
    ----------
    features
        ``{story: Dataset}`` of the model (Features contract: ``hidden`` word x layer x feature).
    recordings
        ``{subject: {story: DataArray}}`` of the modality (Preprocessed contract), the hosts.
    scores
        The real Scores of this model and modality (``encode``'s output): choose the hosts and give
        the real peak scores that are mapped onto the SNR curve; a ``region`` coordinate (e.g. from
        :func:`brainalign.analyses.regions.attach_regions`) adds one row per region.
    modality
        ``fmri`` or ``meg``/``eeg``/``ieeg``.
    design, encoding
        As for :func:`brainalign.encoding.encode_dataset` (the workflow's settings);
        ``n_permutations`` is replaced by the sensitivity's and the ceiling is skipped.
    settings
        The complete ``analyses.sensitivity`` section (see :func:`check_settings` and the module docstring).
    seed
        Seed of hosts, latents and mixing weights (``settings["seed"]`` overrides it when set).
    onsets
        Per-subject word onsets (``encode_dataset``'s ``onsets``), used for planting and encoding.
    var, lag_reduce
        Score variable and MEG/EEG lag reduction (``analyses.score``, ``analyses.lag_reduce``).
    progress
        Progress bars of the encoder.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    ConfigError
        Bad settings, or too few host targets for ``n_targets`` / ``n_null``.
    """
    s = check_settings(settings)
    seed = int(s["seed"] if s["seed"] is not None else seed)
    modality = modality.lower()
    if modality not in FMRI + MEEG:
        raise ValueError(f"modality={modality!r}: expected 'fmri' or one of {MEEG}")
    clock = {"start": time.perf_counter()}
    plan, layer_pos, recordings = _make_plan(features, recordings, scores, s, seed, modality, var, lag_reduce)
    enc = {**dict(encoding), "n_permutations": int(s["n_permutations"]), "ceiling": "none", "seed": seed}
    clock["setup"] = time.perf_counter() - clock["start"]
    all_latents = _depth_latents(features, plan, layer_pos)
    clock["latents"] = time.perf_counter() - clock["start"] - clock["setup"]

    target_rows, cond_rows = [], []
    snr_err = 0.0
    clock["planting"] = clock["encoding"] = 0.0
    for rep in range(int(s["n_repeats"])):
        snr_err = max(snr_err, _repeat(plan, features, recordings, onsets, all_latents, rep, design, enc, progress,
                                       var, lag_reduce, clock, target_rows, cond_rows))
    targets = pd.DataFrame(target_rows)
    cond = pd.DataFrame(cond_rows)
    power = _power_table(targets, cond, plan.n_blocks)
    curve = _curve_table(targets, power, plan.snrs)
    observed = _observed_table(plan.peaks, scores, plan.dim, plan.layers, plan.n_blocks, var, lag_reduce, curve,
                               power, s)
    clock["total"] = time.perf_counter() - clock["start"]
    return SensitivityResult(power=power, curve=curve, observed=observed, targets=targets,
                             summary=_summary(plan, clock, snr_err))


def _collect(res: xr.Dataset, rep: int, dim: str, var: str, lag_reduce: str, layers: list[int],
             depth_layers: list[int], s: dict, snrs: list[float], counts: list[int], n_max: int, n_null: int,
             host_labels: np.ndarray, peaks: pd.DataFrame, measured: np.ndarray, target_rows: list,
             cond_rows: list) -> None:
    """Metrics of one repeat's encoded columns (see the module docstring, step 5)."""
    score = reduce_lag(res[var], lag_reduce).transpose("subject", "layer", dim).values.astype(np.float64)
    mean = score.mean(axis=0)  # layer x column
    peak = mean.max(axis=0)
    best = np.asarray(layers)[mean.argmax(axis=0)]
    null_cols = np.arange(len(depth_layers) * len(snrs) * n_max, res.sizes[dim])
    lag = ["lag"] if "lag" in res["r"].dims else []
    order = ("subject", "layer", *lag, dim)  # target last
    axes = (1, 2) if lag else 1
    r = res["r"].transpose(*order).values.astype(np.float64)
    # primary: z-test against the unplanted hosts, Simes over layers (and lags)  -> subject x column
    tests = {"": simes(null_calibrated_p(r, r[..., null_cols]), axes)}
    if "p" in res:  # the encoder's own circular-shift p-values (as its `significant` maps use them)
        tests["_encoder_p"] = simes(res["p"].transpose(*order).values, axes)
    region = peaks.set_index("target")["region"] if "region" in peaks else None
    for d_i, layer in enumerate(depth_layers):
        for n_i, snr in enumerate(snrs):
            cols = (d_i * len(snrs) + n_i) * n_max + np.arange(n_max)
            detected_max = None
            for count in counts:
                c = cols[:count]
                profile = mean[:, c].mean(axis=1)
                row = {"repeat": rep, "depth": s["depths"][d_i], "planted_layer": layer, "n_targets": count,
                       "snr": snr, "region_best_layer": int(np.asarray(layers)[profile.argmax()]),
                       "region_score": float(profile.max())}
                for suffix, p_comb in tests.items():
                    sig, sig_null = detect(p_comb[:, c], p_comb[:, null_cols], float(s["fdr_q"]))
                    row.update({f"detected{suffix}": int(sig.sum()), f"tests{suffix}": int(sig.size),
                                f"null_detected{suffix}": int(sig_null.sum()), f"null_tests{suffix}": int(sig_null.size)})
                    if count == n_max and not suffix:
                        detected_max = sig.mean(axis=0)
                cond_rows.append(row)
            for j, col in enumerate(cols):
                target_rows.append({
                    "repeat": rep, "depth": s["depths"][d_i], "planted_layer": layer, "snr": snr,
                    "host": host_labels[j], "region": (str(region.get(host_labels[j], "")) if region is not None else ""),
                    "measured_snr": float(measured[:, d_i, n_i, j].mean()), "peak_score": float(peak[col]),
                    "score_at_planted": float(mean[layers.index(layer), col]), "best_layer": int(best[col]),
                    "depth_error": int(abs(int(best[col]) - layer)), "detected_fraction": float(detected_max[j])})


def _power_table(targets: pd.DataFrame, cond: pd.DataFrame, n_blocks: int) -> pd.DataFrame:
    rows = []
    for (depth, layer, count, snr), g in cond.groupby(["depth", "planted_layer", "n_targets", "snr"], sort=True):
        t = targets[(targets["depth"] == depth) & (targets["snr"] == snr)]
        t = t.groupby("repeat", group_keys=False).head(count)  # the set's first `count` hosts per repeat
        rates = g["detected"] / g["tests"]
        region_err = (g["region_best_layer"] - layer).abs()
        row = {"depth": depth, "planted_layer": int(layer), "relative_depth": round(layer / n_blocks, 4),
               "n_targets": int(count), "snr": snr, "detection_rate": float(rates.mean()),
               "detection_sd": float(rates.std(ddof=1)) if len(g) > 1 else float("nan")}
        for suffix in ("", "_encoder_p"):
            if f"detected{suffix}" not in g:
                row.update({f"detection_rate{suffix}": float("nan"), f"false_positive_rate{suffix}": float("nan"),
                            f"false_discovery_proportion{suffix}": float("nan")})
                continue
            hits, false = g[f"detected{suffix}"].sum(), g[f"null_detected{suffix}"].sum()
            row.update({f"detection_rate{suffix}": float(hits / g[f"tests{suffix}"].sum()),
                        f"false_positive_rate{suffix}": float(false / max(g[f"null_tests{suffix}"].sum(), 1)),
                        f"false_discovery_proportion{suffix}": float(false / (hits + false)) if hits + false else 0.0})
        rows.append({**row,
            "depth_error": float(t["depth_error"].mean()), "depth_error_sd": float(t["depth_error"].std(ddof=1)),
            "region_depth_error": float(region_err.mean()), "region_exact": float((region_err == 0).mean()),
            "score_median": float(t["peak_score"].median()), "score_at_planted": float(t["score_at_planted"].median()),
            "measured_snr": float(t["measured_snr"].mean()), "n_repeats": int(len(g)),
        })
    return pd.DataFrame(rows)


def _curve_table(targets: pd.DataFrame, power: pd.DataFrame, snrs: list[float]) -> pd.DataFrame:
    rows = []
    largest = power["n_targets"].max()
    for depth, t_d in [(d, targets[targets["depth"] == d]) for d in sorted(targets["depth"].unique())] + [("all", targets)]:
        for snr in snrs:
            t = t_d[t_d["snr"] == snr]
            p = power[(power["snr"] == snr) & (power["n_targets"] == largest)]
            if depth != "all":
                p = p[p["depth"] == depth]
            rows.append({"depth": depth, "snr": snr, "score_median": float(t["peak_score"].median()),
                         "score_q25": float(t["peak_score"].quantile(0.25)),
                         "score_q75": float(t["peak_score"].quantile(0.75)),
                         "detection_rate": float(p["detection_rate"].mean()),
                         "depth_error": float(p["depth_error"].mean()), "n": int(len(t))})
    return pd.DataFrame(rows)


def _observed_table(peaks: pd.DataFrame, scores: xr.Dataset, dim: str, layers: list[int], n_blocks: int, var: str,
                    lag_reduce: str, curve: pd.DataFrame, power: pd.DataFrame, s: dict) -> pd.DataFrame:
    snrs = s["snrs"]
    depths = [d for d in curve["depth"].unique() if d != "all"]
    largest = power["n_targets"].max()

    def at(snr: float, depth) -> tuple[float, float]:
        p = power[power["n_targets"] == largest]
        if depth != "all":
            p = p[p["depth"] == depth]
        p = p.groupby("snr")[["detection_rate", "depth_error"]].mean().reindex(snrs)
        if not np.isfinite(snr):
            return float("nan"), float("nan")
        x = np.log10(snrs)
        return (float(np.interp(np.log10(snr), x, p["detection_rate"].to_numpy())),
                float(np.interp(np.log10(snr), x, p["depth_error"].to_numpy())))

    def row(unit: str, kind: str, score: float, n: int, best_depth: float, depth) -> dict:
        c = curve[curve["depth"].astype(str) == str(depth)].sort_values("snr")
        snr, bound = snr_at_score(score, c["snr"].tolist(), c["score_median"].tolist())
        det, err = at(snr, depth)
        return {"unit": unit, "kind": kind, "n_targets": n, "score": score, "best_relative_depth": best_depth,
                "curve_depth": depth, "snr": snr, "snr_bound": bound, "detection_rate_at_snr": det,
                "depth_error_at_snr": err}

    rows = []
    if "region" in peaks:
        prof = reduce_lag(scores[var], lag_reduce).sel(layer=layers).mean("subject").transpose("layer", dim).values
        for name in sorted(peaks["region"].unique()):
            if not name:
                continue
            idx = np.flatnonzero(peaks["region"].to_numpy() == name)
            with np.errstate(invalid="ignore"):
                region_profile = np.nanmean(prof[:, idx], axis=1)
            if not np.isfinite(region_profile).any():
                continue
            best_depth = layers[int(np.nanargmax(region_profile))] / n_blocks
            nearest = min(depths, key=lambda d: abs(float(d) - best_depth))
            rows.append(row(name, "region", float(np.nanmedian(peaks["peak_score"].to_numpy()[idx])), int(idx.size),
                            round(best_depth, 4), nearest))
    finite = peaks["peak_score"].dropna()
    for q in s["quantiles"]:
        rows.append(row(f"all targets, quantile {q:g}", "quantile", float(finite.quantile(q)), int(finite.size),
                        float("nan"), "all"))
    return pd.DataFrame(rows)
