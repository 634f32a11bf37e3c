"""A Podcast-ECoG-like BIDS iEEG run made of the real metadata of one patient and a synthetic recording.

The real ``channels.tsv`` (124 channels: ECOG grid, strips and depth contacts, bad channels, EKG and
DC), both ``electrodes.tsv`` (``space-MNI152NLin2009aSym`` and ``space-Other``, the patient's native
space) and their ``coordsystem.json`` are copied from ``../shared/data/podcast-ecog-metadata``; the
recording is a few seconds of noise at the real 512 Hz written by ``mne_bids.write_raw_bids``
(BrainVision), with channel names and types from that ``channels.tsv``.  Importable from every test
folder (``tests/`` is on ``sys.path`` through ``tests/conftest.py``).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np

METADATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "podcast-ecog-metadata"
MNI = "MNI152NLin2009aSym"
SPACES = (MNI, "Other")


def real_ieeg_dir(sub: str = "01") -> Path:
    """The real metadata folder ``sub-<sub>/ieeg``."""
    return METADATA / f"sub-{sub}" / "ieeg"


def write_podcast_run(root: Path, sub: str = "01", *, spaces=SPACES, duration: float = 8.0,
                      sfreq: float = 512.0, seed: int = 0):
    """Write ``sub-<sub>_task-podcast_ieeg`` under ``root`` with the real metadata of ``spaces``.

    Returns
    -------
    mne_bids.BIDSPath
        The recording's path (root set).
    """
    import mne
    import mne_bids

    from brainalign.io.tsv import read_bids_tsv

    real = real_ieeg_dir(sub)
    channels = read_bids_tsv(real / f"sub-{sub}_task-podcast_channels.tsv", what="channels.tsv")
    names = [str(n) for n in channels["name"]]
    info = mne.create_info(names, sfreq, [str(t).lower() for t in channels["type"]])
    info["line_freq"] = 60.0
    data = np.random.default_rng(seed).standard_normal((len(names), int(duration * sfreq))) * 1e-5
    raw = mne.io.RawArray(data, info, verbose="error")
    bids_path = mne_bids.BIDSPath(subject=sub, task="podcast", root=root, datatype="ieeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(raw, bids_path, allow_preload=True, format="BrainVision", overwrite=True,
                                verbose=False)
    folder = bids_path.directory
    for p in [*folder.glob("*_electrodes.*"), *folder.glob("*_coordsystem.json")]:
        p.unlink()  # mne-bids' own (empty) position files: the real ones replace them
    shutil.copy(real / f"sub-{sub}_task-podcast_channels.tsv", folder / f"sub-{sub}_task-podcast_channels.tsv")
    for space in spaces:
        for suffix in ("electrodes.tsv", "coordsystem.json"):
            name = f"sub-{sub}_space-{space}_{suffix}"
            shutil.copy(real / name, folder / name)
    return bids_path


def electrode_table(sub: str, space: str) -> dict[str, tuple[float, float, float]]:
    """The real ``electrodes.tsv`` of a space: name -> (x, y, z) as written (mm)."""
    from brainalign.io.tsv import read_bids_tsv

    table = read_bids_tsv(real_ieeg_dir(sub) / f"sub-{sub}_space-{space}_electrodes.tsv", what="electrodes.tsv")
    return {str(n): (float(x), float(y), float(z)) for n, x, y, z in zip(table["name"], table["x"], table["y"],
                                                                          table["z"])}
