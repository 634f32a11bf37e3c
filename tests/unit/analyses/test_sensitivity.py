"""brainalign.analyses.sensitivity: injection at a requested SNR, the tests and metrics, and the whole
analysis recovering the SNR of a dataset planted at a known SNR.

The "real" dataset of the end-to-end tests is synthetic: AR(1) noise in every target, and in a block
of targets a signal planted at a known SNR from a fake residual stream (31 layers, adjacent layers
correlated ~0.95, as in tests/unit/demo/test_generate.py) with the demo's planting code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.signal import lfilter

from brainalign.analyses import sensitivity as sens
from brainalign.analyses.synthetic import make_scores
from brainalign.demo.drivers import region_latents
from brainalign.demo.fmri import hrf_regressors
from brainalign.encoding import encode_dataset
from brainalign.errors import ConfigError
from brainalign.config_sections import defaults, section_schema, with_defaults
from brainalign.encoding.settings import design_settings, solver_settings

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "recordings"
TR = 1.5
N_LAYERS = 31


# ------------------------------------------------------------------------------------ injection
def _ar1(n: int, k: int, rng: np.random.Generator, phi: float = 0.5) -> np.ndarray:
    return lfilter([1.0], [1.0, -phi], rng.standard_normal((n, k)), axis=0)


@pytest.mark.parametrize("snr", [0.01, 0.3, 3.0])
def test_injected_signal_has_the_requested_snr(snr):
    """var(added) / var(host) equals the request in every column, NaN samples of the host included."""
    rng = np.random.default_rng(0)
    host = 5.0 + 2.0 * _ar1(400, 6, rng)
    host[50:60, :] = np.nan  # a BAD segment
    signal = 7.0 + rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6))
    out = sens.inject(host, signal, snr)
    np.testing.assert_allclose(sens.measured_snr(out, host), snr, rtol=1e-10)
    assert np.isnan(out[50:60]).all() and np.isfinite(out[60:]).all()
    # the added part is the (centred) signal itself: correlation 1 with it
    added = (out - host)[60:, 0]
    assert np.corrcoef(added, signal[60:, 0])[0, 1] == pytest.approx(1.0)
    # a constant host gets nothing (no SNR is defined)
    flat = np.ones((100, 2))
    assert np.array_equal(sens.inject(flat, rng.standard_normal((100, 2)), snr), flat)


def test_injection_into_a_real_eeg_recording_keeps_its_noise_and_reaches_the_snr():
    """A real EEG recording (shared EDF, 6 s) hosts a word-locked planted signal at the requested SNR."""
    mne = pytest.importorskip("mne")
    path = SHARED / "EDF_test_reduced.edf"
    if not path.exists():
        pytest.skip(f"{path} not available")
    raw = mne.io.read_raw(path, preload=True, verbose=False)
    data = raw.get_data(picks="eeg")[:16].T
    data = (data - data.mean(0)) / data.std(0)
    sfreq = raw.info["sfreq"]
    rec = xr.DataArray(data, dims=("time", "channel"), coords={"time": np.arange(len(data)) / sfreq},
                       attrs={"sfreq": sfreq})
    onsets = np.arange(0.2, 5.5, 0.3)
    rng = np.random.default_rng(1)
    tc = sens.planted_time_courses(rng.standard_normal((onsets.size, 4)), onsets, rec, "eeg")
    assert tc.shape == (len(data), 4)
    # the kernel peaks 0.3 s after each word
    single = sens.planted_time_courses(np.ones((1, 1)), np.array([1.0]), rec, "eeg")[:, 0]
    assert single.argmax() / sfreq == pytest.approx(1.3, abs=1 / sfreq)
    signal = tc @ sens.mixing_weights(rng, 4, 16)
    out = sens.inject(data, signal, 0.2)
    np.testing.assert_allclose(sens.measured_snr(out, data), 0.2, rtol=1e-10)
    # what was there is kept: the residual after removing the planted part is the recording
    np.testing.assert_allclose(out - (out - data), data)


def test_fmri_time_courses_follow_the_runs_own_clock():
    """fMRI planting samples the HRF at the run's `time` coordinate (dropped volumes keep the clock)."""
    rng = np.random.default_rng(2)
    lat = rng.standard_normal((60, 3))
    onsets = np.sort(rng.uniform(0, 80, 60))
    n = 70
    full = hrf_regressors(lat, onsets, TR, n)
    times = (np.arange(n) + 0.5) * TR
    np.testing.assert_allclose(hrf_regressors(lat, onsets, TR, 0, times=times), full)
    rec = xr.DataArray(np.zeros((n - 3, 2)), dims=("time", "voxel"), coords={"time": times[3:]}, attrs={"tr": TR})
    np.testing.assert_allclose(sens.planted_time_courses(lat, onsets, rec, "fmri"), full[3:])


# ------------------------------------------------------------------------------ tests, metrics
def test_simes_combination():
    """Simes' p: m p_(k) / k minimised; equal p-values keep their value; NaNs are ignored."""
    p = np.array([[0.01, 0.04, 0.5, np.nan], [0.2, 0.2, 0.2, 0.2], [np.nan] * 4])
    out = sens.simes(p, 1)
    assert out[0] == pytest.approx(min(3 * 0.01, 3 * 0.04 / 2, 3 * 0.5 / 3))
    assert out[1] == pytest.approx(0.2)
    assert np.isnan(out[2])
    # several axes at once (layers and lags)
    q = np.full((2, 3, 4, 5), 0.5)
    q[0, 1, 2, 3] = 0.001
    comb = sens.simes(q, (1, 3))
    assert comb.shape == (2, 4)
    assert comb[0, 2] == pytest.approx(min(15 * 0.001, 0.5)) and comb[1, 0] == pytest.approx(0.5)


def test_detection_uses_bh_over_planted_and_null_hosts_per_subject():
    """Planted p-values far below the nulls are all detected; uniform nulls rarely are."""
    rng = np.random.default_rng(3)
    planted = np.full((2, 10), 1e-4)
    planted[1, :5] = 0.9  # subject 2: half of the set is missed
    null = rng.uniform(size=(2, 200))
    sig, sig_null = sens.detect(planted, null, 0.05)
    assert sig[0].all() and sig[1, 5:].all() and not sig[1, :5].any()
    assert sig_null.mean() < 0.02


def test_null_calibrated_p_is_calibrated_on_noise_encoded_like_the_targets():
    """Pure noise through the encoder: the z-test against unplanted hosts rejects at its nominal rate."""
    features = _features(300)
    recs = _dataset(features, n_subjects=1, n_targets=900, planted=2, snr=0.0, layer=18, seed=9)
    scores = encode_dataset(features, recs, modality="fmri", design=DESIGN, encoding=ENCODING, layers=[6, 18])
    r = scores["r"].values[0]  # layer x voxel
    p = sens.null_calibrated_p(r[:, 100:], r[:, :100])
    assert 0.03 <= (p <= 0.05).mean() <= 0.075
    assert (p <= 0.01).mean() <= 0.02
    combined = sens.simes(p, 0)
    assert (combined <= 0.05).mean() <= 0.075


def test_snr_at_score_inverts_the_curve_in_log_snr():
    snrs, curve = [0.01, 0.1, 1.0], [0.05, 0.2, 0.6]
    assert sens.snr_at_score(0.2, snrs, curve) == (pytest.approx(0.1), "")
    snr, bound = sens.snr_at_score(0.4, snrs, curve)
    assert snr == pytest.approx(10 ** -0.5) and bound == ""
    assert sens.snr_at_score(0.01, snrs, curve)[1] == "<0.01"
    assert sens.snr_at_score(0.9, snrs, curve)[1] == ">1"
    # a noisy dip is flattened (running maximum), never inverted twice
    assert sens.snr_at_score(0.25, [0.01, 0.1, 1.0, 10.0], [0.05, 0.3, 0.25, 0.7])[0] == pytest.approx(
        10 ** (-2 + (0.25 - 0.05) / 0.25))


def test_peak_scores_and_weakest_hosts():
    """Peak = max over layers of the subject mean; 'weakest' hosts sit at or below the quantile."""
    scores = make_scores({"a": {"depth": 0.3, "amplitude": 0.4}, "noise": {"amplitude": 0.0}},
                         n_layers=10, targets_per_region=10, seed=0)
    peaks = sens.peak_scores(scores, [0, 3, 6, 9])
    assert list(peaks.columns[:4]) == ["target", "position", "peak_score", "best_layer"]
    region_a = peaks["region"] == "a"
    assert (peaks.loc[region_a, "best_layer"] == 3).all()
    pool = sens.host_pool(peaks, np.ones(len(peaks), bool), hosts="weakest", quantile=0.5)
    assert set(peaks.loc[pool, "region"]) == {"noise"} and pool.size == 10
    usable = np.ones(len(peaks), bool)
    usable[pool[:3]] = False  # constant targets never host
    assert not set(pool[:3]) & set(sens.host_pool(peaks, usable, hosts="random", quantile=0.5))


def test_shift_run_keeps_the_noise_and_moves_it_in_time():
    """One rotation for all targets of a run: same samples (NaN included), same spatial covariance."""
    rng = np.random.default_rng(4)
    data = _ar1(200, 5, rng)
    data[20:25] = np.nan
    out = sens.shift_run(data, np.random.default_rng(0))
    k = np.flatnonzero(np.isnan(out[:, 0]))[0] - 20
    assert 20 <= k % 200 <= 180
    np.testing.assert_array_equal(out, np.roll(data, k, axis=0))


def test_planted_layers_snap_to_encoded_layers():
    assert sens.planted_layers([0.25, 0.5, 0.83], [0, 4, 8, 12, 16, 20, 24, 30], 30) == [8, 16, 24]
    assert sens.resolve_layers(range(0, 31, 2), None, 4) == [0, 10, 20, 30]
    with pytest.raises(ConfigError, match="analyses.sensitivity.layers"):
        sens.resolve_layers([0, 2, 4], [3], 4)


# ------------------------------------------------------------------------- whole analysis
def _features(n_words: int, stories=("a", "b"), seed: int = 0) -> dict[str, xr.Dataset]:
    rng = np.random.default_rng(seed)
    out = {}
    for i, story in enumerate(stories):
        h = np.empty((n_words, N_LAYERS, 32), np.float32)
        h[:, 0] = rng.standard_normal((n_words, 32))
        for layer in range(1, N_LAYERS):
            h[:, layer] = h[:, layer - 1] + 0.35 * rng.standard_normal((n_words, 32))
        onset = 2.0 + 0.35 * np.arange(n_words)
        out[story] = xr.Dataset(
            {"hidden": (("word", "layer", "feature"), h)},
            coords={"word": np.arange(n_words), "layer": np.arange(N_LAYERS), "onset": ("word", onset),
                    "offset": ("word", onset + 0.3), "relative_depth": ("layer", np.arange(N_LAYERS) / (N_LAYERS - 1)),
                    "story": story})
    return out


def _dataset(features, *, n_subjects: int, n_targets: int, planted: int, snr: float, layer: int, seed: int = 5):
    """fMRI runs: AR(1) noise, with targets [0, planted) carrying a signal from `layer` at `snr`."""
    rng = np.random.default_rng(seed)
    lat = region_latents(features, layer, n_latents=4, n_pcs=8, specificity=0.5, specificity_distance=3,
                         forecast_distance=0, rng=np.random.default_rng([seed, 1]))
    recs = {}
    for s in range(n_subjects):
        sub = f"{s + 1:02d}"
        w = sens.mixing_weights(np.random.default_rng([seed, 2, s]), 4, planted)
        recs[sub] = {}
        for story, feat in features.items():
            n_vol = int(np.ceil((feat["offset"].values.max() + 10) / TR))
            times = (np.arange(3, n_vol) + 0.5) * TR
            host = _ar1(times.size, n_targets, rng, 0.3)
            host = (host - host.mean(0)) / host.std(0)
            da = xr.DataArray(host, dims=("time", "voxel"), coords={"time": times, "voxel": np.arange(n_targets)},
                              attrs={"tr": TR})
            sig = sens.planted_time_courses(lat[story], feat["onset"].values, da, "fmri") @ w
            host[:, :planted] = sens.inject(host[:, :planted], sig, snr)
            recs[sub][story] = da.copy(data=host.astype(np.float32))
    return recs


DESIGN = design_settings("fmri", method="fir", delays=[1, 2, 3, 4])
ENCODING = solver_settings(alphas=list(np.logspace(-1, 5, 7)), inner_folds=3)
LAYERS = [0, 6, 12, 18, 24, 30]


@pytest.fixture(scope="module")
def planted_dataset():
    """A dataset whose targets 0..39 carry layer 18 at SNR 0.5 (3 subjects x 2 stories x 300 words)."""
    features = _features(300)
    recs = _dataset(features, n_subjects=3, n_targets=240, planted=40, snr=0.5, layer=18)
    scores = encode_dataset(features, recs, modality="fmri", design=DESIGN, encoding=ENCODING, layers=LAYERS)
    region = np.where(np.arange(240) < 40, "planted", "noise")
    return features, recs, scores.assign_coords(region=("voxel", region))


def test_sensitivity_on_noise_hosts_power_rises_and_recovers_the_planted_snr(planted_dataset):
    """Detection rises and depth error falls with SNR; the planted region maps back to SNR ~0.5."""
    features, recs, scores = planted_dataset
    settings = {"depths": [0.6], "snrs": [0.03, 0.1, 0.3, 1.0, 3.0], "n_targets": [10, 20], "n_null": 40,
                "n_repeats": 2, "n_permutations": 200, "quantiles": [0.5]}
    res = sens.sensitivity_analysis(features, recs, scores, modality="fmri", design=DESIGN, encoding=ENCODING,
                                    settings=with_defaults(sens.KEY, settings), seed=0)
    power = res.power[res.power["n_targets"] == 20].sort_values("snr")
    assert list(power["planted_layer"].unique()) == [18]
    np.testing.assert_allclose(res.targets["measured_snr"], res.targets["snr"], rtol=1e-5)
    assert res.summary["max_relative_snr_error"] < 1e-5
    # hosts are the weakest half: all noise targets, never the planted ones
    assert set(res.targets["region"]) == {"noise"}
    det = power["detection_rate"].to_numpy()
    assert det[0] < 0.3 and det[-1] > 0.9 and np.all(np.diff(det) >= -0.1)
    err = power["depth_error"].to_numpy()
    assert err[-1] < err[0]
    # the planted set's mean profile peaks at the planted layer once the signal is strong
    assert power["region_depth_error"].iloc[-1] == 0
    assert (res.power["false_positive_rate"] < 0.05).all()
    # FDR is an expectation: a condition with 5 detections may hold 1 false one
    assert res.power["false_discovery_proportion"].mean() <= 0.1
    assert res.power["detection_rate_encoder_p"].notna().all()
    scores_curve = res.curve[res.curve["depth"].astype(str) == "all"]["score_median"].to_numpy()
    assert np.all(np.diff(scores_curve) > 0)
    obs = res.observed.set_index("unit")
    planted = obs.loc["planted"]
    assert planted["snr_bound"] == "" and 0.25 <= planted["snr"] <= 1.0, obs
    assert obs.loc["noise", "snr_bound"] == "<0.03" or obs.loc["noise", "snr"] < 0.06
    assert {"detection_rate_at_snr", "depth_error_at_snr"} <= set(obs.columns)
    assert res.summary["seconds"]["total"] > 0


def test_sensitivity_is_seeded(planted_dataset):
    features, recs, scores = planted_dataset
    settings = {"depths": [0.3], "snrs": [0.1, 1.0], "n_targets": [5], "n_null": 20, "n_repeats": 1,
                "n_permutations": 50, "n_layers": 3}
    kw = dict(modality="fmri", design=DESIGN, encoding=ENCODING, settings=with_defaults(sens.KEY, settings))
    a = sens.sensitivity_analysis(features, recs, scores, seed=1, **kw)
    b = sens.sensitivity_analysis(features, recs, scores, seed=1, **kw)
    c = sens.sensitivity_analysis(features, recs, scores, seed=2, **kw)
    pd.testing.assert_frame_equal(a.targets, b.targets)
    assert not a.targets["host"].equals(c.targets["host"])


def test_sensitivity_meeg_word_locked_lags():
    """EEG: word-locked planting, per-lag p-values combined over layers and lags, detection rises."""
    features = _features(250)
    rng = np.random.default_rng(7)
    sfreq = 25.0
    recs = {}
    for s in range(2):
        recs[f"{s + 1:02d}"] = {}
        for story, feat in features.items():
            n = int((feat["offset"].values.max() + 2) * sfreq)
            data = _ar1(n, 30, rng, 0.8)
            recs[f"{s + 1:02d}"][story] = xr.DataArray(
                (data - data.mean(0)) / data.std(0), dims=("time", "channel"),
                coords={"time": np.arange(n) / sfreq, "channel": [f"E{i}" for i in range(30)]},
                attrs={"sfreq": sfreq})
    design = design_settings("eeg", tmin=0.0, tmax=0.5)
    scores = encode_dataset(features, recs, modality="eeg", design=design, encoding=ENCODING, layers=LAYERS)
    # 400 shifts: Simes over 6 layers x 13 lags, of which the kernel fills a third, needs p-values of
    # a few 1e-3 to pass BH in a family of 18
    # 40 unplanted columns from 30 channels: 10 hosts serve twice, with another time shift
    settings = {"depths": [0.5], "snrs": [0.003, 0.03, 0.3], "n_targets": [8], "n_null": 40, "n_repeats": 1,
                "n_permutations": 400, "host_quantile": 1.0, "quantiles": [0.9]}
    res = sens.sensitivity_analysis(features, recs, scores, modality="eeg", design=design, encoding=ENCODING,
                                    settings=with_defaults(sens.KEY, settings), seed=0)
    det = res.power.sort_values("snr")["detection_rate"].to_numpy()
    assert det[-1] > 0.8 and det[0] < det[-1]
    assert res.targets["host"].str.startswith("E").all()
    assert res.summary["null_copies_per_host"] == 2
    assert (res.power["false_positive_rate"] < 0.1).all()
    np.testing.assert_allclose(res.targets["measured_snr"], res.targets["snr"], rtol=1e-5)


def test_schema_is_the_one_home_of_the_defaults():
    """analyses.sensitivity's defaults live only in the main schema (no fragment, no library table)."""
    repo = Path(__file__).resolve().parents[3]
    assert not (repo / "workflow" / "brainalign" / "analyses" / "config.schema.yaml").exists()
    assert not hasattr(sens, "DEFAULTS")
    props = section_schema(sens.KEY)["properties"]
    for key, sub in props.items():
        assert sub.get("description"), f"analyses.sensitivity.{key} has no description"
    # the planting kernel of MEG/EEG without an explicit kernel is the schema's
    assert defaults("analyses.sensitivity.meeg_kernel") == {"peak": 0.3, "width": 0.08, "length": 0.6}


def test_plan_lists_the_sensitivity_outputs_only_when_enabled():
    from brainalign.analyses import plan

    off = with_defaults("analyses")
    assert plan.sensitivity_targets("results/d", "m", ["fmri", "eeg"], off) == []
    on = with_defaults("analyses", {"sensitivity": {"enabled": True, "modalities": ["eeg", "meg"]}})
    assert plan.sensitivity_targets("results/d", "m", ["fmri", "eeg"], on) == [
        "results/d/analyses/sensitivity/m/eeg/power.tsv"]
    assert plan.sensitivity_model(on, ["m", "m_random"], "m") == "m"
    bad = with_defaults("analyses", {"sensitivity": {"enabled": True, "model": "x"}})
    with pytest.raises(ValueError, match="analyses.sensitivity.model': 'x'"):
        plan.sensitivity_model(bad, ["m"], "m")
