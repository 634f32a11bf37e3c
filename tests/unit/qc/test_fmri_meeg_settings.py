"""The QC pages read the preprocessing settings from complete sections: a missing key is named, not defaulted."""

from __future__ import annotations

import pytest
import xarray as xr

from brainalign.config_sections import with_defaults
from brainalign.errors import ConfigError
from brainalign.qc.fmri import fmri_qc
from brainalign.qc.meeg import meeg_qc


def test_fmri_qc_names_a_missing_setting():
    options = with_defaults("preprocess.fmri", {"strategy": {}})
    del options["trim_end_trs"]
    with pytest.raises(ConfigError, match=r"preprocess\.fmri\.trim_end_trs.*missing"):
        fmri_qc({"bold": "x.nii.gz", "confounds": None}, options, xr.DataArray([0.0]))


@pytest.mark.parametrize("modality, section, key", [("eeg", "preprocess.meeg", "h_freq"),
                                                    ("ieeg", "preprocess.ieeg", "band")])
def test_meeg_qc_reads_the_modalitys_section(modality, section, key):
    options = with_defaults(section)
    del options[key]
    with pytest.raises(ConfigError, match=rf"{section}\.{key}.*missing"):
        meeg_qc(None, xr.DataArray([0.0]), options, modality)
