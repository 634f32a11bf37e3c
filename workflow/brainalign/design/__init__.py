"""brainalign.design: word features -> the recording's time base.

fMRI: HRF-convolved or FIR-delayed word features per TR (:mod:`.fmri`).
MEG/EEG/iEEG: word-locked responses at lags after each word (:mod:`.meeg`).
"""

from .fmri import apply_operator, fmri_design, fmri_operator, hrf, tr_bins
from .meeg import lag_samples, word_locked

__all__ = ["apply_operator", "fmri_design", "fmri_operator", "hrf", "tr_bins", "lag_samples",
           "word_locked"]
