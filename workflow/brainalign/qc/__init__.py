"""Per-run quality control (QC): measures computed from the files a preprocessing job reads and
from what it wrote, for the Snakemake report (rules of workflow/rules/qc.smk).

- :mod:`brainalign.qc.fmri` — temporal SNR, framewise displacement (Power et al. 2012), the
  confounds regressed, the voxel time series of a carpet plot;
- :mod:`brainalign.qc.meeg` — power spectra before and after preprocessing, bad channels and
  ``BAD`` segments, the ICA/SSP components removed (MEG, EEG, iEEG);
- :mod:`brainalign.qc.tables` — result tables (TSV/JSON) as HTML tables the report shows inline.

Figures are drawn by :mod:`brainalign.plotting.qc`.
"""
