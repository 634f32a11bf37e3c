"""Phases of :func:`brainalign.demo.generate_demo`: the planted fMRI signal of one region and run."""

import numpy as np

from brainalign.demo.fmri import hrf_regressors
from brainalign.demo.generate import _fmri_signal, _mixing


def test_fmri_signal_is_the_mixed_hrf_response_zscored_on_steady_state_volumes():
    rng = np.random.default_rng(0)
    onsets = np.sort(rng.uniform(5, 100, 60))
    latents = rng.standard_normal((60, 3))
    weights = _mixing(rng, 3, 7)
    np.testing.assert_allclose(np.linalg.norm(weights, axis=0), 1.0)
    tr, n_vol, n_dummy = 1.5, 80, 4
    sig = _fmri_signal(latents, onsets, weights, tr, n_vol, n_dummy)
    assert sig.shape == (n_vol, 7)
    steady = sig[n_dummy:]
    np.testing.assert_allclose(steady.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(steady.std(axis=0), 1.0, rtol=1e-10)
    raw = hrf_regressors(latents, onsets, tr, n_vol) @ weights
    # an affine map of the raw mixture per voxel, with the scale set by the steady-state volumes only
    scale = raw[n_dummy:].std(axis=0)
    np.testing.assert_allclose(sig * scale + raw[n_dummy:].mean(axis=0), raw, atol=1e-9)
    assert not np.allclose(raw.std(axis=0), scale)  # the dummy volumes would have changed the scale


def test_fmri_signal_of_a_silent_region_stays_finite():
    sig = _fmri_signal(np.zeros((5, 2)), np.arange(5.0), np.ones((2, 3)), 2.0, 20, 2)
    assert np.all(np.isfinite(sig)) and np.all(sig == 0)
