"""Small synthetic BIDS datasets made of real files, for the input-check and rerun tests.

fMRI: raw ``*_bold.nii.gz`` (a 4x4x4 grid) with its JSON sidecar and word ``events.tsv``, and an
fMRIPrep-style confounds table under ``derivatives/fmriprep``.  EEG: BrainVision files written by
``mne_bids.write_raw_bids`` from a ``RawArray`` (``.vhdr/.eeg/.vmrk``, ``eeg.json`` with
``RecordingDuration``, ``channels.tsv``, ``events.tsv`` with a ``word`` column, ``electrodes.tsv`` +
``coordsystem.json``, ``scans.tsv``) and a ``participants.tsv``.  Everything is a few seconds long
and written in well under a second per run.  Importable from every test
folder as ``tests.synthetic_bids`` (``tests/`` is a package and pytest puts the repository root on ``sys.path``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

CHANNELS = ["Fz", "Cz", "Pz", "Oz", "C3", "C4", "P3", "P4"]
TR = 2.0
N_VOLUMES = 40
SFREQ = 100.0


def story_words(story: str, n_words: int = 20, start: float = 2.0, step: float = 1.5) -> pd.DataFrame:
    """A story's word events: ``onset, duration, trial_type, word``."""
    onsets = start + step * np.arange(n_words)
    return pd.DataFrame({"onset": onsets.round(4), "duration": np.full(n_words, 0.5), "trial_type": "word",
                         "word": [f"{story}{i}" for i in range(n_words)]})


def _json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _affine() -> np.ndarray:
    affine = np.diag([6.0, 6.0, 6.0, 1.0])
    affine[:3, 3] = -12.0
    return affine


def mask_path(root: Path) -> Path:
    """The dataset's brain mask (every voxel of the 4x4x4 grid), for ``preprocess.fmri.mask``."""
    return root / "derivatives" / "masks" / "space-synth_desc-brain_mask.nii.gz"


def write_fmri_run(root: Path, sub: str, task: str, words: pd.DataFrame, *, n_volumes: int = N_VOLUMES,
                   tr: float = TR, seed: int = 0, sidecar: bool = True) -> Path:
    """Raw BOLD + sidecar + events, and the fMRIPrep confounds table; returns the BOLD path."""
    import nibabel as nib

    from brainalign.io.tsv import write_bids_tsv

    func = root / f"sub-{sub}" / "func"
    func.mkdir(parents=True, exist_ok=True)
    stem = f"sub-{sub}_task-{task}"
    rng = np.random.default_rng(seed)
    data = (100.0 + rng.standard_normal((4, 4, 4, n_volumes))).astype(np.float32)
    img = nib.Nifti1Image(data, _affine())
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    bold = func / f"{stem}_bold.nii.gz"
    nib.save(img, bold)
    if sidecar:
        _json(func / f"{stem}_bold.json", {"RepetitionTime": tr, "TaskName": task})
    write_bids_tsv(words, func / f"{stem}_events.tsv")
    conf = pd.DataFrame(rng.standard_normal((n_volumes, 8)),
                        columns=["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "white_matter", "csf"])
    write_bids_tsv(conf, root / "derivatives" / "fmriprep" / f"sub-{sub}" / "func"
                   / f"{stem}_desc-confounds_timeseries.tsv")
    return bold


def write_eeg_run(root: Path, sub: str, task: str, words: pd.DataFrame, *, duration: float = N_VOLUMES * TR,
                  sfreq: float = SFREQ, seed: int = 0) -> Path:
    """One BrainVision EEG run written by mne-bids (words as annotations); returns the ``.vhdr`` path."""
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    rng = np.random.default_rng(seed)
    n = int(round(duration * sfreq))
    info = mne.create_info(CHANNELS, sfreq, "eeg")
    raw = mne.io.RawArray(rng.standard_normal((len(CHANNELS), n)) * 1e-5, info, verbose=False)
    raw.set_montage("biosemi64", verbose=False)
    raw.info["line_freq"] = 50.0
    raw.set_meas_date(pd.Timestamp("2000-01-01", tz="UTC").to_pydatetime())
    onsets = words["onset"].to_numpy(float)
    raw.set_annotations(mne.Annotations(onsets, words["duration"].to_numpy(float), ["word"] * len(onsets),
                                        extras=[{"word": str(w)} for w in words["word"]]))
    path = BIDSPath(subject=sub, task=task, datatype="eeg", root=root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_raw_bids(raw, path, format="BrainVision", allow_preload=True, overwrite=True, verbose=False,
                       extra_columns_descriptions={"word": "the word heard"})
    return root / f"sub-{sub}" / "eeg" / f"sub-{sub}_task-{task}_eeg.vhdr"


def make_dataset(root: Path, subjects=("01", "02"), stories=("a", "b"), modalities=("fmri", "eeg"),
                 n_words: int = 20) -> Path:
    """A BIDS tree with every subject x story run of each modality; returns ``root``."""
    from brainalign.io.tsv import write_bids_tsv

    root.mkdir(parents=True, exist_ok=True)
    mask_path(root).parent.mkdir(parents=True, exist_ok=True)
    _json(root / "dataset_description.json", {"Name": "synthetic", "BIDSVersion": "1.9.0"})
    _json(root / "derivatives" / "fmriprep" / "dataset_description.json",
          {"Name": "fMRIPrep", "BIDSVersion": "1.9.0", "DatasetType": "derivative"})
    for k, sub in enumerate(subjects):
        for j, story in enumerate(stories):
            words = story_words(story, n_words)
            if "fmri" in modalities:
                write_fmri_run(root, sub, story, words, seed=10 * k + j)
            if "eeg" in modalities:
                write_eeg_run(root, sub, story, words, seed=10 * k + j)
    if "fmri" in modalities:
        import nibabel as nib

        # a brain mask on the BOLD grid (an EPI mask of noise would be empty): preprocess.fmri.mask
        nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.int8), _affine()), mask_path(root))
    # after mne-bids, which writes its own participants.tsv (with n/a columns)
    write_bids_tsv(pd.DataFrame({"participant_id": [f"sub-{s}" for s in subjects], "age": ["n/a"] * len(subjects)}),
                   root / "participants.tsv")
    return root


def bids_config(root: Path, *, name: str = "synth", subjects=("01", "02"), stories=("a", "b"),
                modalities=("fmri", "eeg")) -> dict:
    """A workflow config for :func:`make_dataset`'s tree (word timings from the first subject's fMRI events)."""
    return {
        "dataset": {"name": name, "kind": "bids", "bids_root": str(root), "modalities": list(modalities),
                    "subjects": list(subjects), "stories": list(stories),
                    "timings": {"format": "bids_events",
                                "path": "{root}/sub-" + subjects[0] + "/func/sub-" + subjects[0]
                                        + "_task-{story}_events.tsv"},
                    # the runs start with their story: word events, no stim_file row to read an onset from
                    "stimulus_onset": {"source": "none"}},
    }
