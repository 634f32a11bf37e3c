"""ICA and SSP settings of ``preprocess_meeg``: complete schema sections switched by ``enabled`` / counts."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from brainalign.config_sections import defaults, with_defaults
from brainalign.errors import ConfigError
from brainalign.preprocess.meeg import artefact_sections, preprocess_meeg


def _blink_raw(seed: int = 1) -> mne.io.RawArray:
    """8 EEG channels mixing 5 sources plus blinks shared with an EOG channel (100 Hz, 60 s)."""
    sfreq, n = 100.0, 6000
    rng = np.random.default_rng(seed)
    blinks = np.zeros(n)
    for start in rng.integers(0, n - 40, 30):
        blinks[start:start + 30] += np.hanning(30)
    mixing = rng.standard_normal((8, 5))
    eeg = (mixing @ rng.standard_normal((5, n)) + np.outer(np.linspace(12, 4, 8), blinks)) * 1e-6
    info = mne.create_info([f"E{i}" for i in range(8)] + ["EOG"], sfreq, ["eeg"] * 8 + ["eog"])
    return mne.io.RawArray(np.vstack([eeg, blinks * 1e-4 + 1e-7 * rng.standard_normal(n)]), info, verbose="error")


def test_the_schema_holds_the_ica_and_ssp_defaults_and_both_start_off():
    ica, ssp = defaults("preprocess.meeg.ica"), defaults("preprocess.meeg.ssp")
    assert ica["enabled"] is False and {"n_components", "method", "max_iter", "eog", "ecg", "eog_threshold"} < set(ica)
    assert ssp == {"eog": 0, "ecg": 0}
    assert defaults("preprocess.meeg")["ica"] == ica  # the section's default fills the block too
    assert artefact_sections(ica, ssp) == (None, None)
    assert artefact_sections(None, None) == (None, None)


def test_switched_on_sections_are_returned_whole():
    ica = with_defaults("preprocess.meeg.ica", {"enabled": True, "n_components": 4})
    ssp = with_defaults("preprocess.meeg.ssp", {"ecg": 2})
    got_ica, got_ssp = artefact_sections(ica, ssp)
    assert got_ica == ica and got_ica["method"] == defaults("preprocess.meeg.ica")["method"]
    assert got_ssp == {"eog": 0, "ecg": 2}


@pytest.mark.parametrize("section,value,needle", [
    ("ica", {"enabled": True, "n_components": 6}, r"preprocess\.meeg\.ica\.\w+': missing"),
    ("ica", {"enabled": True, "n_component": 6}, r"preprocess\.meeg\.ica\.\w+"),
    ("ssp", {"eog": 1}, r"preprocess\.meeg\.ssp\.ecg': missing"),
])
def test_an_incomplete_section_is_an_error_naming_the_key(section, value, needle):
    """No library default fills a left-out key: the section must come complete (as the schema fills it)."""
    kwargs = {"ica": None, "ssp": None, section: value}
    with pytest.raises(ConfigError, match=needle):
        artefact_sections(**kwargs)
    with pytest.raises(ConfigError, match=needle):
        preprocess_meeg(_blink_raw(), l_freq=None, h_freq=None, resample=None, notch=None, reference=None, **kwargs)


def test_enabled_switches_ica_on_and_off():
    raw = _blink_raw()
    kw = dict(l_freq=None, h_freq=None, resample=None, notch=None, reference=None)
    off = preprocess_meeg(raw, ica=defaults("preprocess.meeg.ica"), ssp=defaults("preprocess.meeg.ssp"), **kw)
    plain = preprocess_meeg(raw, ica=None, ssp=None, **kw)
    assert not any(s.startswith(("ica:", "ssp_")) for s in off.attrs["steps"])
    assert "EOG" not in off.channel.values and np.allclose(off.values, plain.values)  # enabled: false = no ICA
    on = preprocess_meeg(raw, ica=with_defaults("preprocess.meeg.ica", {"enabled": True, "n_components": 6,
                                                                        "ecg": False}), **kw)
    assert any(s.startswith("ica:[") and s != "ica:[]" for s in on.attrs["steps"])
    assert not np.allclose(on.values, plain.values)
