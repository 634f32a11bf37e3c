"""Repeat-based noise ceilings through the rules, on a synthetic BIDS dataset with repeated runs.

Two subjects heard story ``a`` twice (``run-1`` / ``run-2``; ``dataset.repeated_runs: first``
encodes run-1) and story ``b`` once.  In both runs of ``a`` the voxels of the first half of the
4x4x4 grid carry the same signal with the variance of the noise (single-run ceiling
``sqrt(1 / 2) = 0.71``), the other half noise only (ceiling ~0).  The real rules preprocess run-2
(preprocess_fmri_repeat) and compute the ceilings (repeat_ceiling); the encode job writes them into the
scores (ceiling, r_normalized) with the group maps (p_group, significant_group).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tests import synthetic_bids as synth
import yaml

from brainalign.io.store import read_zarr

REPO = Path(__file__).resolve().parents[2]
N_VOL = 300


def _run(root: Path, sub: str, task: str, run: str | None, signal: np.ndarray, seed: int) -> None:
    """A BOLD run (signal + unit noise per voxel), its sidecar, events and fMRIPrep confounds."""
    import nibabel as nib

    from brainalign.io.tsv import write_bids_tsv

    rng = np.random.default_rng(seed)
    stem = f"sub-{sub}_task-{task}" + (f"_run-{run}" if run else "")
    func = root / f"sub-{sub}" / "func"
    func.mkdir(parents=True, exist_ok=True)
    data = 100.0 + signal + rng.standard_normal(signal.shape)
    img = nib.Nifti1Image(data.reshape(N_VOL, 4, 4, 4).transpose(1, 2, 3, 0).astype(np.float32), synth._affine())
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = synth.TR
    nib.save(img, func / f"{stem}_bold.nii.gz")
    synth._json(func / f"{stem}_bold.json", {"RepetitionTime": synth.TR, "TaskName": task})
    write_bids_tsv(synth.story_words(task, 200, step=2.5), func / f"{stem}_events.tsv")
    conf = pd.DataFrame(rng.standard_normal((N_VOL, 8)),
                        columns=["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "white_matter", "csf"])
    write_bids_tsv(conf, root / "derivatives" / "fmriprep" / f"sub-{sub}" / "func"
                   / f"{stem}_desc-confounds_timeseries.tsv")


def _dataset(root: Path) -> None:
    import nibabel as nib

    synth._json(root / "dataset_description.json", {"Name": "repeats", "BIDSVersion": "1.9.0"})
    synth._json(root / "derivatives" / "fmriprep" / "dataset_description.json",
                {"Name": "fMRIPrep", "BIDSVersion": "1.9.0", "DatasetType": "derivative"})
    rng = np.random.default_rng(0)
    for k, sub in enumerate(("01", "02")):
        signal = np.zeros((N_VOL, 64))
        signal[:, :32] = rng.standard_normal((N_VOL, 32))  # the story's response: the same in both hearings
        _run(root, sub, "a", "1", signal, seed=10 * k + 1)
        _run(root, sub, "a", "2", signal, seed=10 * k + 2)
        _run(root, sub, "b", None, np.zeros((N_VOL, 64)), seed=10 * k + 3)
    synth.mask_path(root).parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.int8), synth._affine()), synth.mask_path(root))


def _snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
                           "--cores", "2", *args], capture_output=True, text=True, timeout=900, env=env)


def test_repeated_runs_give_each_subject_its_repeat_ceiling(tmp_path):
    root = tmp_path / "bids"
    _dataset(root)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(synth.bids_config(root, name="repeats", modalities=("fmri",)))
    config["dataset"]["repeated_runs"] = "first"
    config["models"] = {"smollm2": {**config["models"]["smollm2"], "random_control": False}}
    config["encoding"] = {"layers": [0, 15, 30], "alphas": {"start": 0, "stop": 6, "num": 4}, "inner_folds": 3}
    config["dataset"]["timings"]["path"] = "{root}/sub-01/func/sub-01_task-b_events.tsv"
    # runs of 600 s: no fMRIPrep cosine regressors in these confounds, so no high-pass through them
    config["preprocess"] = {"fmri": {"mask": str(synth.mask_path(root)),
                                     "strategy": {"motion": "basic", "wm_csf": "basic", "high_pass": False}}}
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    out = _snakemake(tmp_path, "results/repeats/ceilings/fmri.zarr")
    assert out.returncode == 0, out.stderr[-5000:]
    for sub in ("01", "02"):  # run-2 of story a, preprocessed by the same script as the encoded run-1
        rep = read_zarr(tmp_path / f"results/repeats/preproc_repeats/fmri/sub-{sub}/a/run-2.zarr")["data"]
        assert rep.attrs["run"] == "2" and rep.attrs["source_file"].endswith(f"sub-{sub}_task-a_run-2_bold.nii.gz")
        encoded = read_zarr(tmp_path / f"results/repeats/preproc/fmri/sub-{sub}/a.zarr")["data"]
        assert encoded.attrs["run"] == "1" and encoded.attrs["repeats"] == "run-2"
    ceil = read_zarr(tmp_path / "results/repeats/ceilings/fmri.zarr", load=True)
    assert sorted(ceil["subject"].values) == ["01", "02"] and ceil.sizes["voxel"] == 64
    values = ceil["ceiling"].transpose("subject", "voxel").values
    # the signal was laid out in C order over the grid: planted = the first two planes along x (6 mm voxels)
    planted = ceil["x"].values <= ceil["x"].values.min() + 6.0
    assert planted.sum() == 32, ceil.coords
    np.testing.assert_allclose(np.median(values[:, planted], axis=1), np.sqrt(0.5), atol=0.08)
    assert (np.median(values[:, ~planted], axis=1) < 0.2).all()

    # the encode job reads the ceilings and writes them into the scores, with the group maps
    dry = _snakemake(tmp_path, "-n", "results/repeats/scores/smollm2/fmri.csv")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "results/repeats/ceilings/fmri.zarr" in dry.stdout.split("rule encode:")[1].split("output:")[0]
    out = _snakemake(tmp_path, "results/repeats/scores/smollm2/fmri.csv")
    assert out.returncode == 0, out.stderr[-5000:]
    scores = read_zarr(tmp_path / "results/repeats/scores/smollm2/fmri.zarr", load=True)
    methods = json.loads(scores.attrs["ceiling_method"])
    assert set(methods) == {"01", "02"} and all(m.startswith("repeat") for m in methods.values())
    stored = scores["ceiling"].transpose("subject", "voxel").sel(subject=list(ceil["subject"].values))
    np.testing.assert_allclose(stored.values, values, rtol=1e-6)
    ok = scores["ceiling"] >= 0.05
    np.testing.assert_allclose(scores["r_normalized"].where(ok).values, (scores["r"] / scores["ceiling"]).where(ok).values,
                               rtol=1e-5)
    assert scores["p_group"].dims == ("layer", "voxel") and "significant_group" in scores
    assert np.nanmin(scores["p_group"].values) >= 0.25  # 2 subjects: exact sign flips cannot go below 1/4
