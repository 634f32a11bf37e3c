"""iEEG QC pages say what the iEEG preprocessing did (issue 15, seen in the browser): the contacts
placed from electrodes.tsv (an EDF/BrainVision recording has no montage), the artefacts it detected
among the BAD segments, and its steps (it records no ``steps`` list)."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd

from brainalign.config_sections import with_defaults
from brainalign.plotting.qc import plot_bads
from brainalign.preprocess.ieeg import preprocess_ieeg
from brainalign.qc.meeg import artifact_segments, ieeg_steps, meeg_qc


def _run(tmp_path):
    names = [f"G{i}" for i in range(1, 7)]
    sfreq = 500.0
    t = np.arange(int(30 * sfreq)) / sfreq
    data = 1e-5 * np.random.default_rng(2).standard_normal((len(names), t.size))
    data[2:4, int(12 * sfreq):int(12.1 * sfreq)] += 5e-3  # an electrode pop on G3, G4
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "ecog"), verbose="error")
    raw.info["bads"] = ["G6"]
    electrodes = tmp_path / "sub-01_space-MNI152NLin2009aSym_electrodes.tsv"
    pd.DataFrame({"name": names, "x": np.linspace(-60, -40, 6), "y": np.linspace(-20, 20, 6),
                  "z": np.zeros(6), "size": 2}).to_csv(electrodes, sep="\t", index=False)
    options = {"reference": None, "band": [70.0, 150.0], "notch": "auto", "resample": 50.0}
    out = preprocess_ieeg(raw.copy(), **options)
    out.attrs["electrodes_file"] = str(electrodes)
    return raw, out, options


def test_contacts_are_placed_and_the_bad_one_is_among_them(tmp_path):
    raw, out, options = _run(tmp_path)
    qc = meeg_qc(raw, out, with_defaults("preprocess.ieeg", options), "ieeg")
    assert set(qc.positions) == {f"G{i}" for i in range(1, 7)}  # G6 (bad, not in the store) too
    assert np.isfinite(np.array(list(qc.positions.values()))).all()
    assert qc.positions["G1"] == (-60.0, -20.0, 0.0) and qc.bads == ["G6"]


def test_detected_artifacts_are_bad_segments_and_steps_are_listed(tmp_path):
    raw, out, options = _run(tmp_path)
    qc = meeg_qc(raw, out, with_defaults("preprocess.ieeg", options), "ieeg")
    detected = qc.segments[qc.segments["description"] == "BAD_artifact (detected)"]
    assert len(detected) == len(artifact_segments(out.attrs)) >= 1
    assert (detected["onset"] <= 12.1).any() and (detected["onset"] + detected["duration"] >= 12.0).any()
    assert qc.steps and any(s.startswith("high-gamma envelope:") for s in qc.steps)
    assert any(s.startswith("resample:") for s in qc.steps)
    path = plot_bads(qc, tmp_path / "bads.png")
    assert path.stat().st_size > 10_000


def test_artifact_segments_and_steps_from_attrs():
    table = artifact_segments({"artifact_segments": "[[1.0, 1.5], [3.0, 3.25]]"})
    assert table["onset"].tolist() == [1.0, 3.0] and table["duration"].tolist() == [0.5, 0.25]
    assert artifact_segments({}).empty
    assert ieeg_steps({"reference": "bipolar", "notch": [120.0], "band": [70, 150], "n_bands": 8, "sfreq": 50.0}) == [
        "reference:bipolar", "notch:[120.0]", "high-gamma envelope:[70, 150] Hz (8 bands)", "resample:50.0"]
