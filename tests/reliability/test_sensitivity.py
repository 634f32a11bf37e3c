"""Bad inputs of the sensitivity analysis (brainalign.analyses.sensitivity): settings, hosts, recordings.

Every case stops before any encoder runs, with an error naming the config key or the file.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from reliability_helpers import assert_input_error

from brainalign.analyses.sensitivity import KEY, check_settings, sensitivity_analysis
from brainalign.config_sections import with_defaults
from brainalign.encoding.settings import design_settings, solver_settings

TR = 1.5


def _inputs(n_targets: int = 60, n_words: int = 80, eeg: bool = False):
    """Features (5 layers), recordings of 2 subjects x 2 stories and scores of the same targets."""
    rng = np.random.default_rng(0)
    features, recordings = {}, {"01": {}, "02": {}}
    for story in ("a", "b"):
        onset = 1.0 + 0.4 * np.arange(n_words)
        features[story] = xr.Dataset(
            {"hidden": (("word", "layer", "feature"), rng.standard_normal((n_words, 5, 8)).astype(np.float32))},
            coords={"word": np.arange(n_words), "layer": np.arange(5), "onset": ("word", onset),
                    "relative_depth": ("layer", np.arange(5) / 4)})
        for sub in recordings:
            if eeg:
                n = int((onset[-1] + 2) * 25)
                recordings[sub][story] = xr.DataArray(
                    rng.standard_normal((n, n_targets)), dims=("time", "channel"),
                    coords={"time": np.arange(n) / 25, "channel": [f"E{i}" for i in range(n_targets)]},
                    attrs={"sfreq": 25.0, "source_file": f"sub-{sub}/eeg/sub-{sub}_task-{story}_eeg.vhdr"})
            else:
                n = int((onset[-1] + 10) / TR)
                recordings[sub][story] = xr.DataArray(
                    rng.standard_normal((n, n_targets)), dims=("time", "voxel"),
                    coords={"time": (np.arange(n) + 0.5) * TR, "voxel": np.arange(n_targets)},
                    attrs={"tr": TR, "source_file": f"sub-{sub}/func/sub-{sub}_task-{story}_bold.nii.gz"})
    dim = "channel" if eeg else "voxel"
    labels = recordings["01"]["a"][dim].values
    scores = xr.Dataset({"r": (("subject", "layer", dim), rng.normal(0, 0.05, (2, 5, n_targets)))},
                        coords={"subject": ["01", "02"], "layer": np.arange(5), dim: labels,
                                "relative_depth": ("layer", np.arange(5) / 4)})
    return features, recordings, scores


def _run(features, recordings, scores, modality="fmri", **settings):
    base = {"n_targets": [5], "n_null": 20, "n_repeats": 1, "n_permutations": 0, "host_quantile": 1.0}
    return sensitivity_analysis(features, recordings, scores, modality=modality,
                                design=design_settings(modality, **({"method": "fir", "delays": [1, 2]}
                                                                    if modality == "fmri" else {})),
                                encoding=solver_settings(alphas=[1.0, 100.0], inner_folds=2),
                                settings=with_defaults(KEY, {**base, **settings}))


def test_unknown_key():
    """A misspelled analyses.sensitivity key -> ConfigError naming it and the valid keys."""
    with pytest.raises(Exception) as exc:
        check_settings({**with_defaults(KEY), "snr": [0.1, 1.0]})
    assert_input_error(exc, "analyses.sensitivity.snr", "unknown key", "snrs")


def test_unknown_nested_key():
    """A misspelled latents key -> ConfigError naming analyses.sensitivity.latents.<key>."""
    with pytest.raises(Exception) as exc:
        check_settings({**with_defaults(KEY), "latents": {**with_defaults(KEY)["latents"], "n_pc": 4}})
    assert_input_error(exc, "analyses.sensitivity.latents.n_pc", "unknown key")


def test_single_snr():
    """One SNR cannot make a curve -> ConfigError naming analyses.sensitivity.snrs."""
    with pytest.raises(Exception) as exc:
        check_settings(with_defaults(KEY, {"snrs": [1.0]}))
    assert_input_error(exc, "analyses.sensitivity.snrs", "at least 2 distinct SNRs > 0")


def test_non_positive_snr():
    """SNR 0 or below -> ConfigError naming analyses.sensitivity.snrs."""
    with pytest.raises(Exception) as exc:
        check_settings(with_defaults(KEY, {"snrs": [0.0, 1.0]}))
    assert_input_error(exc, "analyses.sensitivity.snrs", "SNRs > 0")


def test_depth_outside_unit_interval():
    """A relative depth of 1.5 -> ConfigError naming analyses.sensitivity.depths."""
    with pytest.raises(Exception) as exc:
        check_settings(with_defaults(KEY, {"depths": [0.5, 1.5]}))
    assert_input_error(exc, "analyses.sensitivity.depths", r"relative depths in \[0, 1\]")


def test_too_few_unplanted_hosts():
    """n_null below 20 cannot calibrate the test -> ConfigError naming analyses.sensitivity.n_null."""
    with pytest.raises(Exception) as exc:
        check_settings(with_defaults(KEY, {"n_null": 5}))
    assert_input_error(exc, "analyses.sensitivity.n_null", "integer >= 20")


def test_more_planted_targets_than_hosts():
    """n_targets beyond the host pool -> ConfigError naming analyses.sensitivity.n_targets and the pool size."""
    features, recordings, scores = _inputs(n_targets=40)
    with pytest.raises(Exception) as exc:
        _run(features, recordings, scores, n_targets=[30], host_quantile=0.5)
    assert_input_error(exc, "analyses.sensitivity.n_targets", "20 targets can host", "up to 30", "host_quantile")


def test_more_unplanted_hosts_than_targets_without_shift():
    """n_null beyond the host pool with shift_hosts false (copies would be identical) -> ConfigError naming n_null."""
    features, recordings, scores = _inputs(n_targets=30)
    with pytest.raises(Exception) as exc:
        _run(features, recordings, scores, n_null=40, shift_hosts=False)
    assert_input_error(exc, "analyses.sensitivity.n_null", "only 30 targets can host", "shift_hosts")


def test_layer_not_in_the_scores():
    """An explicit layer the real scores lack -> ConfigError naming analyses.sensitivity.layers."""
    features, recordings, scores = _inputs()
    with pytest.raises(Exception) as exc:
        _run(features, recordings, scores.sel(layer=[0, 2, 4]), layers=[1, 2])
    assert_input_error(exc, "analyses.sensitivity.layers", r"layers \[1\]", r"subset of \[0, 2, 4\]")


def test_scores_layers_not_in_the_features():
    """Scores of layers the features do not have (other model) -> InputError naming the layers."""
    features, recordings, scores = _inputs()
    scores = scores.assign_coords(layer=np.arange(5) + 3)
    with pytest.raises(Exception) as exc:
        _run(features, recordings, scores)
    assert_input_error(exc, "scores", r"layers \[5, 6, 7\] are not in the features")


def test_scored_channel_missing_from_a_run():
    """A channel of the scores absent from one run -> InputError naming the run's file and the channel."""
    features, recordings, scores = _inputs(eeg=True)
    recordings["02"]["b"] = recordings["02"]["b"].drop_sel(channel=["E3"])
    with pytest.raises(Exception) as exc:
        _run(features, recordings, scores, modality="eeg")
    assert_input_error(exc, "sub-02_task-b_eeg.vhdr", "E3", "not in this run")


def test_fmri_run_without_tr():
    """An fMRI recording without its 'tr' attribute -> InputError naming the file and 'tr'."""
    features, recordings, scores = _inputs()
    del recordings["01"]["a"].attrs["tr"]
    with pytest.raises(Exception) as exc:
        _run(features, recordings, scores)
    assert_input_error(exc, "sub-01_task-a_bold.nii.gz", "'tr'", "repetition time")


def test_missing_key():
    """A section without one of its keys (not filled by the workflow's validation) -> ConfigError naming it."""
    settings = with_defaults(KEY)
    del settings["latents"]["n_pcs"]
    with pytest.raises(Exception) as exc:
        check_settings(settings)
    assert_input_error(exc, "analyses.sensitivity.latents.n_pcs", "missing")
