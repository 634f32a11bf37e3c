"""Peak memory of MEG/EEG/iEEG (and fMRI) preprocessing jobs against the ``mem_mb`` the workflow requests.

For each size (channels x minutes x Hz) it writes a synthetic BIDS recording in a temporary folder
(BrainVision through mne-bids, as the tests and the demo write theirs: ``channels.tsv`` and the
``*_ieeg.json`` / ``*_eeg.json`` sidecar with ``SamplingFrequency`` and ``RecordingDuration``),
asks :func:`brainalign.preprocess.resources.preprocess_resources` for the job's request from those
files, then runs the preprocessing in a fresh Python process, as a Snakemake job would, and reads
that process's peak resident memory (``ru_maxrss``: imports included).

    PYTHONPATH=workflow .venv/bin/python benchmarks/preprocess_memory.py [--sizes 128x5x2048,263x30x512]
        [--modality ieeg|eeg|fmri] [--options JSON] [--keep]

iEEG runs with the Podcast profile's options (``--options`` to change them). The default sizes end
with the real Podcast ECoG patient that peaked at 16.7 GB under the old pipeline (263 channels,
30 min, 512 Hz): ~2 GB of disk, ~5 GB of memory, and 5 min to write plus ~18 min to preprocess on two
cores shared with other work. The last line is ``RESULT key=value ...`` with, per size, the peak
(MB), the request (MB), their ratio and the wall time (s).

Measured (2 shared cores, bipolar reference, 8 bands): 64 ch x 5 min x 2048 Hz, 315 MB of float64:
peak 679 MB for a request of 1300 MB (the former pipeline: ~7 x the recording above the imports);
263 ch x 30 min x 512 Hz, 1.94 GB: peak 3.3 GB (16.7 GB before) for a request of 5.4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

DEFAULT_SIZES = "64x5x2048,128x5x2048,263x10x512,263x30x512"
# fMRI sizes: grid x volumes (a 3 mm grid of 64x64x40 with 300 volumes is a typical raw run)
DEFAULT_FMRI_SIZES = "64x64x40x300"
DATATYPE = {"ieeg": "ieeg", "eeg": "eeg", "fmri": "func"}

# The child process: preprocess one run, report its peak resident memory (MB) and that after the
# imports (what any job costs before it reads a sample). The peak is the kernel's high-water mark of
# this process's own memory (VmHWM): ru_maxrss would also count the parent's peak, which Linux carries
# across the fork + exec that starts the child.
_CHILD = r"""
import json, resource, sys, time
from pathlib import Path


def peak_mb():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except OSError:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * (1024 if sys.platform == "darwin" else 1))


import mne_bids
modality, fpath, options, save = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
from brainalign.preprocess.fmri import preprocess_fmri
from brainalign.preprocess.ieeg import preprocess_ieeg
from brainalign.preprocess.meeg import preprocess_meeg
imported = peak_mb()
start = time.perf_counter()
if modality == "fmri":  # the mask written beside the image; no confounds (strategy {})
    out = preprocess_fmri(fpath, mask=str(Path(fpath).parent / "mask.nii"), strategy={}, confounds=None, **options)
else:
    bids_path = mne_bids.get_bids_path_from_fname(fpath)
    bids_path.update(root=Path(fpath).parents[2])
    out = (preprocess_ieeg if modality == "ieeg" else preprocess_meeg)(bids_path, **options)
wall = time.perf_counter() - start
if save:
    import numpy as np
    np.save(save, out.values)
print(json.dumps({"peak_mb": peak_mb(), "imported_mb": imported, "wall_s": wall, "shape": list(out.shape)}))
"""

def write_recording(root: Path, n_channels: int, minutes: float, sfreq: float, *, modality: str = "ieeg",
                    subject: str = "01", task: str = "podcast", seed: int = 0) -> Path:
    """A BIDS run of noise (1/f-ish background, 60 Hz line noise) with contacts named like shafts.

    Channels are ``ecog`` (``G1..``) for iEEG, ``eeg`` otherwise; a tenth of them marked bad in
    ``channels.tsv`` as real recordings have.  Returns the recording's path (``.vhdr``).
    """
    import mne
    import mne_bids

    rng = np.random.default_rng(seed)
    n = int(round(minutes * 60 * sfreq))
    names = [f"G{i + 1}" for i in range(n_channels)]
    kind = "ecog" if modality == "ieeg" else "eeg"
    info = mne.create_info(names, sfreq, kind)
    info["line_freq"] = 60.0
    data = np.empty((n_channels, n), dtype=np.float64)
    t = np.arange(n) / sfreq
    line = 2e-6 * np.sin(2 * np.pi * 60.0 * t)
    for k in range(n_channels):  # one channel at a time: the writer holds one copy of the recording only
        row = rng.standard_normal(n, dtype=np.float32)
        data[k] = 1e-5 * row + line
    del t, line
    raw = mne.io.RawArray(data, info, verbose="error")  # float64 C-ordered: used as it is, not copied
    del data
    if modality == "ieeg":  # contacts on a grid 5 mm apart (MNI, metres): electrodes.tsv + coordsystem.json
        pos = {name: np.array([-0.06, -0.03 + 0.005 * (k % 16), 0.005 * (k // 16)]) for k, name in enumerate(names)}
        raw.set_montage(mne.channels.make_dig_montage(ch_pos=pos, coord_frame="mni_tal"), verbose="error")
    path = mne_bids.BIDSPath(subject=subject, task=task, datatype=DATATYPE[modality], root=root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(raw, path, allow_preload=True, format="BrainVision", overwrite=True, verbose=False)
        mne_bids.mark_channels(path, ch_names=names[:: 10], status="bad", verbose=False)
    return path.copy().update(suffix=DATATYPE[modality], extension=".vhdr").fpath


def write_bold(root: Path, shape: tuple[int, int, int], n_volumes: int, *, brain_fraction: float = 1.0,
               seed: int = 0) -> Path:
    """A float32 BOLD run (``sub-01_task-a_bold.nii``, TR 2 s) and a brain mask (``mask.nii``) covering
    ``brain_fraction`` of the grid; returns the BOLD path."""
    import nibabel as nib

    rng = np.random.default_rng(seed)
    folder = root / "sub-01" / "func"
    folder.mkdir(parents=True, exist_ok=True)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    data = np.empty((*shape, n_volumes), dtype=np.float32)
    for k in range(shape[2]):  # a slice at a time: no float64 copy of the whole run
        data[:, :, k] = 100.0 + rng.standard_normal((shape[0], shape[1], n_volumes), dtype=np.float32)
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = 2.0
    bold = folder / "sub-01_task-a_bold.nii"
    nib.save(img, bold)
    mask = np.zeros(shape, np.int8)
    mask.reshape(-1)[: int(round(brain_fraction * mask.size))] = 1
    nib.save(nib.Nifti1Image(mask, affine), folder / "mask.nii")
    return bold


def run_files(recording: Path) -> list[str]:
    """Every file of a run's folder (what the workflow's plan lists for its job: recording, sidecars)."""
    return [str(p) for p in sorted(recording.parent.iterdir()) if p.is_file()]


def measure(recording: Path, modality: str = "ieeg", options: dict | None = None,
            save: str | os.PathLike | None = None, timeout: float = 3600) -> dict:
    """Preprocess a run in a fresh process; its peak RSS (MB), RSS after imports, wall time, output shape.

    ``save``: a ``.npy`` path to write the output values to (for equality checks).
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "workflow"),
                                                                     os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", _CHILD, modality, str(recording), json.dumps(options or {}),
                           str(save or "")], capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"preprocessing {recording} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    from brainalign.preprocess.resources import preprocess_resources, recording_shape

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None, help="channels x minutes x Hz (fMRI: nx x ny x nz x volumes), "
                        f"comma-separated; default {DEFAULT_SIZES} (fMRI: {DEFAULT_FMRI_SIZES})")
    parser.add_argument("--modality", default="ieeg", choices=sorted(DATATYPE))
    parser.add_argument("--options", default=None,
                        help="preprocessing options as JSON; default for iEEG: the Podcast profile's preprocess.ieeg "
                             "(group-wise average, artefact detection), else the function's defaults")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic recordings (printed folder)")
    args = parser.parse_args()
    if args.options is not None:
        options = json.loads(args.options)
    elif args.modality == "ieeg":
        import yaml

        profile = yaml.safe_load((REPO / "config" / "datasets" / "podcast_ecog.yaml").read_text())
        options = dict(profile["preprocess"]["ieeg"])
    else:
        options = {}
    print(f"options: {json.dumps(options)}", flush=True)
    result = []
    workdir = Path(tempfile.mkdtemp(prefix="preprocess_memory_"))
    try:
        sizes = args.sizes or (DEFAULT_FMRI_SIZES if args.modality == "fmri" else DEFAULT_SIZES)
        for size in sizes.split(","):
            root = workdir / size
            start = time.perf_counter()
            if args.modality == "fmri":
                nx, ny, nz, n_volumes = (int(v) for v in size.split("x"))
                recording = write_bold(root, (nx, ny, nz), n_volumes)
            else:
                n_ch, minutes, sfreq = size.split("x")
                recording = write_recording(root, int(n_ch), float(minutes), float(sfreq), modality=args.modality)
            written = time.perf_counter() - start
            files = run_files(recording)
            request = preprocess_resources(files, args.modality, options)
            got = measure(recording, args.modality, options)
            ratio = got["peak_mb"] / request["mem_mb"]
            if args.modality == "fmri":
                what = f"{nx * ny * nz} voxels x {n_volumes} volumes"
            else:
                shape = recording_shape(files, args.modality)
                what = f"{shape['n_channels']} ch x {shape['n_times']} samples"
            print(f"{size}: {what} ({request['n_values'] * 8 / 1e6:.0f} MB float64); written in {written:.0f} s; "
                  f"peak {got['peak_mb']:.0f} MB (imports {got['imported_mb']:.0f} MB) in {got['wall_s']:.0f} s; "
                  f"request mem_mb={request['mem_mb']} runtime={request['runtime']} min; peak/request {ratio:.2f}",
                  flush=True)
            result.append(f"peak_mb[{size}]={got['peak_mb']:.0f} mem_mb[{size}]={request['mem_mb']} "
                          f"ratio[{size}]={ratio:.2f} wall_s[{size}]={got['wall_s']:.0f}")
            if not args.keep:
                import shutil

                shutil.rmtree(root)
    finally:
        if args.keep:
            print(f"recordings kept in {workdir}")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    print("RESULT " + " ".join(result))


if __name__ == "__main__":
    main()
