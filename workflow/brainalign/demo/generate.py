"""Write the demo BIDS dataset (fMRI + EEG) with planted ground truth.

Layout under ``root`` (see :func:`generate_demo`)::

    dataset_description.json  participants.tsv  README
    sub-XX/func/sub-XX_task-{story}_bold.nii.gz | _bold.json | _events.tsv
    sub-XX/eeg/sub-XX_task-{story}_eeg.vhdr ...   (mne-bids: channels, electrodes, events with `word`)
    derivatives/fmriprep/sub-XX/func/sub-XX_task-{story}_desc-confounds_timeseries.tsv (+ .json)
    derivatives/atlas/space-MNI152NLin2009cAsym_res-{vs}_desc-demo_dseg.nii.gz (+ _dseg.tsv)
    derivatives/atlas/montage-{montage}_desc-demo_channelgroups.tsv
    derivatives/groundtruth/truth.json     (only validation reads it)
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import xarray as xr

from brainalign.demo import eeg as eeg_sim
from brainalign.demo import fmri as fmri_sim
from brainalign.demo.drivers import region_latents
from brainalign.demo.params import resolve_params
from brainalign.io.store import replace_dir
from brainalign.io.tsv import write_bids_tsv

log = logging.getLogger(__name__)

SPACE = "MNI152NLin2009cAsym"
#: fMRI noise-only targets: mask voxels at least this far (mm) from every planted voxel, so that
#: spatial smoothing in preprocessing cannot leak planted signal into them.
NOISE_MIN_DISTANCE_MM = 12.0


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _tsv(path: Path, df: pd.DataFrame) -> None:
    """A BIDS TSV (tabs, no quoting, n/a for missing): a word ``"Keep`` is written as ``"Keep``, as
    mne-bids writes the EEG events, so every reader of BIDS tables sees the same words."""
    write_bids_tsv(df, path)


def _check_inputs(features: dict[str, xr.Dataset], words: dict[str, pd.DataFrame]) -> list[str]:
    stories = list(words)
    if not stories:
        raise ValueError("generate_demo: no stories in 'words'")
    for story in stories:
        if story not in features:
            raise ValueError(f"generate_demo: story '{story}' has a word table but no features "
                             f"(features for: {sorted(features)})")
        table = words[story]
        for col in ("word", "onset", "offset"):
            if col not in table:
                raise ValueError(f"generate_demo: word table of story '{story}' lacks column '{col}'")
        n_feat = features[story].sizes.get("word")
        if n_feat != len(table):
            raise ValueError(f"generate_demo: story '{story}' has {len(table)} words but features for {n_feat}")
    return stories


def _planted_layers(features: dict[str, xr.Dataset], stories: list[str], regions: list[dict]) -> tuple[int, list[int]]:
    layers = np.asarray(features[stories[0]]["layer"].values)
    n_blocks = int(layers.max())
    planted = []
    for region in regions:
        want = int(round(float(region["relative_depth"]) * n_blocks))
        planted.append(int(layers[np.abs(layers - want).argmin()]))
    return n_blocks, planted


def forecast_layer(features: dict[str, xr.Dataset], stories: list[str], region: dict) -> int | None:
    """The layer (coordinate value) whose representation of the word ahead drives ``region``: the layer
    nearest ``forecast_depth`` x the number of blocks, as for the planted layer; None without one."""
    if region.get("forecast_depth") is None:
        return None
    return _planted_layers(features, stories, [{"relative_depth": region["forecast_depth"]}])[1][0]


def _assign_parcels(table: pd.DataFrame, regions: list[dict]) -> dict[str, int]:
    """Planted parcel per fMRI region: nearest centroid to the region's seed, all distinct."""
    taken: dict[str, int] = {}
    cent = table[["x", "y", "z"]].to_numpy()
    for i, region in enumerate(regions):
        if "fmri" not in region["modalities"]:
            continue
        seed = region.get("fmri_seed")
        target = np.asarray(seed, float) if seed is not None else cent[(7 * i) % len(cent)]
        for j in np.argsort(np.linalg.norm(cent - target, axis=1)):
            label = int(table["index"].iloc[j])
            if label not in taken.values():
                taken[region["name"]] = label
                break
        else:
            raise ValueError("generate_demo: more fMRI regions than atlas parcels (raise fmri.n_parcels)")
    return taken


def _assign_groups(groups: pd.DataFrame, regions: list[dict]) -> dict[str, str]:
    taken: dict[str, str] = {}
    names = sorted(groups["group"].unique(), key=lambda g: int(g[1:]))
    for i, region in enumerate(regions):
        if "eeg" not in region["modalities"]:
            continue
        seed = region.get("eeg_seed")
        if seed is not None:
            hit = groups.loc[groups["channel"] == seed, "group"]
            if hit.empty:
                raise ValueError(f"generate_demo: regions[{i}].eeg_seed = {seed!r} is not a channel of the montage")
            group = hit.iloc[0]
            if group in taken.values():
                raise ValueError(f"generate_demo: regions[{i}].eeg_seed = {seed!r} falls in group {group}, "
                                 "already planted by another region")
        else:
            free = [g for g in names if g not in taken.values()]
            if not free:
                raise ValueError("generate_demo: more EEG regions than channel groups (raise eeg.n_groups)")
            group = free[0]
        taken[region["name"]] = group
    return taken


def _mixing(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """Random unit-norm mixing of ``k`` latents into ``n`` targets."""
    w = rng.standard_normal((k, n))
    return w / np.linalg.norm(w, axis=0, keepdims=True)


def _events(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "onset": table["onset"].to_numpy(float).round(4),
        "duration": (table["offset"].to_numpy(float) - table["onset"].to_numpy(float)).round(4),
        "trial_type": "word",
        "word": table["word"].astype(str).to_numpy(),
    })


def generate_demo(root: Path, features: dict[str, xr.Dataset], words: dict[str, pd.DataFrame],
                  params: dict, seed: int) -> dict:
    """Generate the demo BIDS dataset whose responses are planted from an LM's own features.

    Parameters
    ----------
    root
        Output directory (replaced atomically: everything is written to a temporary sibling that
        is renamed into place once complete).
    features
        ``{story: Dataset}`` in the Features contract (``hidden``: word x layer x feature, with a
        ``layer`` coordinate 0..L).  Computed by the caller with the planting model.
    words
        ``{story: word table}`` (``word, onset, offset``); their order is the story order.
    params
        Simulator parameters merged over :data:`brainalign.demo.params.DEFAULT_PARAMS` (documented
        there): ``n_subjects``, ``n_latents``, ``n_pcs``, ``specificity``, ``fmri``, ``eeg``,
        ``regions`` ...
    seed
        Seed of every random draw: the same inputs and seed give byte-identical files.

    Returns
    -------
    dict
        The truth, also written to ``derivatives/groundtruth/truth.json``.
    """
    p = resolve_params(params)
    stories = _check_inputs(features, words)
    regions = p["regions"]
    n_blocks, planted_layers = _planted_layers(features, stories, regions)
    subjects = [f"{i + 1:02d}" for i in range(int(p["n_subjects"]))]
    do_fmri = any("fmri" in r["modalities"] for r in regions)
    do_eeg = any("eeg" in r["modalities"] for r in regions)
    latents = _region_latents(features, stories, regions, planted_layers, p, seed)

    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    truth_regions: list[dict] = []
    noise_channels: list[str] = []
    try:
        sim = _Sim(tmp=tmp, words=words, stories=stories, subjects=subjects, regions=regions,
                   planted_layers=planted_layers, n_blocks=n_blocks, k=int(p["n_latents"]), latents=latents,
                   seed=seed, forecast_layers={r["name"]: forecast_layer(features, stories, r) for r in regions})
        if do_fmri:
            truth_regions += _write_fmri(sim, p["fmri"])
        if do_eeg:
            eeg_regions, noise_channels = _write_eeg_runs(sim, p["eeg"])
            truth_regions += eeg_regions
        _write_dataset_files(tmp, subjects, stories)
        truth = _truth(p, features[stories[0]].attrs, sim, truth_regions, noise_channels, do_fmri, do_eeg)
        _write_truth(tmp, truth)
        replace_dir(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return truth


@dataclass
class _Sim:
    """What every modality's writer shares: the output tree, the design and the planted latents."""

    tmp: Path
    words: dict[str, pd.DataFrame]
    stories: list[str]
    subjects: list[str]
    regions: list[dict]
    planted_layers: list[int]
    n_blocks: int
    k: int
    latents: dict[str, dict[str, np.ndarray]]
    seed: int
    forecast_layers: dict[str, int | None]  # region -> layer driving its word ahead (None: its own layer)


def _region_latents(features: dict[str, xr.Dataset], stories: list[str], regions: list[dict],
                    planted_layers: list[int], p: dict, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """``{region: {story: word x n_latents}}``: each region's latents from its planted layer's features."""
    layer_pos = {int(v): i for i, v in enumerate(features[stories[0]]["layer"].values)}
    latents = {}
    for i, (region, layer) in enumerate(zip(regions, planted_layers)):
        ahead = forecast_layer(features, stories, region)
        latents[region["name"]] = region_latents(
            {s: features[s] for s in stories}, layer_pos[layer], n_latents=int(p["n_latents"]), n_pcs=int(p["n_pcs"]),
            specificity=float(p["specificity"]), specificity_distance=int(p["specificity_distance"]),
            forecast_distance=int(region["forecast_distance"]), rng=np.random.default_rng([seed, 1, i]),
            forecast_weight=float(region["forecast_weight"]),
            forecast_layer=None if ahead is None else layer_pos[ahead])
    return latents


def _fmri_signal(latents: np.ndarray, onsets: np.ndarray, weights: np.ndarray, tr: float, n_vol: int,
                 n_dummy: int) -> np.ndarray:
    """Planted BOLD of one region in one run (volume x voxel): HRF-convolved latents mixed into the
    voxels, each voxel z-scored over the steady-state volumes (the dummy volumes do not set the scale)."""
    sig = fmri_sim.hrf_regressors(latents, onsets, tr, n_vol) @ weights
    steady = sig[n_dummy:]
    return (sig - steady.mean(axis=0)) / np.maximum(steady.std(axis=0), 1e-12)


def _write_fmri(sim: _Sim, fp: dict) -> list[dict]:
    """Atlas, BOLD runs, events and confounds of every subject and story; the fMRI truth entries."""
    vs, seed, tmp = int(fp["voxel_size"]), sim.seed, sim.tmp
    mask = fmri_sim.mni_mask(vs)
    ijk, xyz = fmri_sim.mask_coordinates(mask)
    atlas_img, atlas_table = fmri_sim.demo_atlas(mask, int(fp["n_parcels"]), seed)
    labels = np.asarray(atlas_img.dataobj)[tuple(ijk.T)]
    parcels = _assign_parcels(atlas_table, sim.regions)
    atlas_dir = tmp / "derivatives" / "atlas"
    atlas_dir.mkdir(parents=True)
    nib.save(atlas_img, atlas_dir / f"space-{SPACE}_res-{vs}_desc-demo_dseg.nii.gz")
    _tsv(atlas_dir / f"space-{SPACE}_res-{vs}_desc-demo_dseg.tsv", atlas_table[["index", "name"]])
    region_idx = {name: np.flatnonzero(labels == lab) for name, lab in parcels.items()}
    for s_i, sub in enumerate(sim.subjects):
        weights = {name: _mixing(np.random.default_rng([seed, 2, s_i, r_i]), sim.k, len(region_idx[name]))
                   for r_i, name in enumerate(region_idx)}
        for st_i, story in enumerate(sim.stories):
            table = sim.words[story]
            tr = float(fp["tr"])
            n_vol = fmri_sim.n_volumes(float(table["offset"].max()) + float(fp["tail"]), tr)
            planted = {name: (idx, _fmri_signal(sim.latents[name][story], table["onset"].to_numpy(float),
                                                weights[name], tr, n_vol, int(fp["n_dummy_trs"])))
                       for name, idx in region_idx.items()}
            img, conf = fmri_sim.simulate_run(mask, planted, n_vol, fp, np.random.default_rng([seed, 3, s_i, st_i]))
            _write_fmri_run(tmp, sub, story, img, conf, table, fp)
    _json(tmp / "derivatives" / "fmriprep" / "dataset_description.json", {
        "Name": "brainalign demo confounds", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "brainalign.demo", "Description": "simulated fMRIPrep-style confounds"}]})
    entries = []
    for region, layer in zip(sim.regions, sim.planted_layers):
        if "fmri" not in region["modalities"]:
            continue
        idx = region_idx[region["name"]]
        lab = parcels[region["name"]]
        entries.append(_truth_entry(region, layer, sim.n_blocks, "fmri", float(fp["snr"]), sim.k,
                                   sim.forecast_layers[region["name"]]) | {
            "atlas_label": lab,
            "atlas_name": str(atlas_table.loc[atlas_table["index"] == lab, "name"].iloc[0]),
            "n_targets": int(len(idx)),
            "mask_index": idx.tolist(),
            "voxels_ijk": ijk[idx].tolist(),
            "voxels_mni": np.round(xyz[idx], 3).tolist(),
        })
    return entries


def _write_fmri_run(tmp: Path, sub: str, story: str, img, conf: pd.DataFrame, table: pd.DataFrame,
                    fp: dict) -> None:
    """One BOLD run with its sidecar and events, and its fMRIPrep-style confounds (+ sidecar)."""
    func = tmp / f"sub-{sub}" / "func"
    func.mkdir(parents=True, exist_ok=True)
    stem = f"sub-{sub}_task-{story}"
    nib.save(img, func / f"{stem}_bold.nii.gz")
    _json(func / f"{stem}_bold.json", {
        "RepetitionTime": float(fp["tr"]), "TaskName": story, "SkullStripped": True,
        "NumberOfVolumesDiscardedByScanner": 0,
        "Description": f"Simulated BOLD in {SPACE} at {int(fp['voxel_size'])} mm; first {fp['n_dummy_trs']} volumes "
                       "are non-steady-state"})
    _tsv(func / f"{stem}_events.tsv", _events(table))
    conf_dir = tmp / "derivatives" / "fmriprep" / f"sub-{sub}" / "func"
    _tsv(conf_dir / f"{stem}_desc-confounds_timeseries.tsv", conf)
    _json(conf_dir / f"{stem}_desc-confounds_timeseries.json",
          {c: {"Description": "simulated (brainalign demo)"} for c in conf.columns})


def _write_eeg_runs(sim: _Sim, ep: dict) -> tuple[list[dict], list[str]]:
    """Channel groups and EEG runs of every subject and story; the EEG truth entries and the
    noise-only channels (outside every planted group)."""
    seed, tmp = sim.seed, sim.tmp
    names, pos = eeg_sim.montage_positions(ep["montage"])
    groups = eeg_sim.channel_groups(names, pos, int(ep["n_groups"]), seed)
    group_of = _assign_groups(groups, sim.regions)
    _tsv(tmp / "derivatives" / "atlas" / f"montage-{ep['montage']}_desc-demo_channelgroups.tsv", groups)
    chan_idx = {name: np.flatnonzero(groups["group"].to_numpy() == g) for name, g in group_of.items()}
    sfreq = float(ep["sfreq"])
    kernel = eeg_sim.response_kernel(sfreq, float(ep["kernel_peak"]), float(ep["kernel_width"]),
                                     float(ep["kernel_length"]))
    for s_i, sub in enumerate(sim.subjects):
        weights = {name: _mixing(np.random.default_rng([seed, 4, s_i, r_i]), sim.k, len(chan_idx[name]))
                   for r_i, name in enumerate(chan_idx)}
        for st_i, story in enumerate(sim.stories):
            table = sim.words[story]
            n_times = int(np.ceil((float(table["offset"].max()) + float(ep["tail"])) * sfreq))
            onsets = table["onset"].to_numpy(float)
            planted = {name: (idx, eeg_sim.word_locked(sim.latents[name][story], onsets, n_times, kernel, sfreq)
                              @ weights[name]) for name, idx in chan_idx.items()}
            data = eeg_sim.simulate_eeg(names, pos, planted, n_times, ep, np.random.default_rng([seed, 5, s_i, st_i]))
            _write_eeg(tmp, sub, story, data, names, ep, table)
    entries = []
    for region, layer in zip(sim.regions, sim.planted_layers):
        if "eeg" not in region["modalities"]:
            continue
        idx = chan_idx[region["name"]]
        entries.append(_truth_entry(region, layer, sim.n_blocks, "eeg", float(ep["snr"]), sim.k,
                                   sim.forecast_layers[region["name"]]) | {
            "channel_group": group_of[region["name"]],
            "n_targets": int(len(idx)),
            "channels": [names[i] for i in idx],
            "lags_s": [0.0, float(ep["kernel_length"])],
            "kernel_peak_s": float(ep["kernel_peak"]),
        })
    noise = [n for i, n in enumerate(names) if not any(i in set(v.tolist()) for v in chan_idx.values())]
    return entries, noise


def _write_dataset_files(tmp: Path, subjects: list[str], stories: list[str]) -> None:
    """The raw dataset's description, participants table (+ sidecar) and README."""
    _json(tmp / "dataset_description.json", {
        "Name": "brainalign demo: stories heard in fMRI and EEG, responses planted from an LM's features",
        "BIDSVersion": "1.9.0", "DatasetType": "raw", "License": "CC0",
        "Authors": ["brainalign (simulated)"],
        "GeneratedBy": [{"Name": "brainalign.demo", "Description": "planted ground truth; see derivatives/groundtruth"}]})
    _tsv(tmp / "participants.tsv", pd.DataFrame({"participant_id": [f"sub-{s}" for s in subjects],
                                                 "age": "n/a", "sex": "n/a", "hand": "n/a"}))
    _json(tmp / "participants.json", {"participant_id": {"Description": "simulated listener"}})
    (tmp / "README").write_text(
        "Simulated dataset generated by brainalign.demo. Each subject listened to the stories "
        f"{', '.join(stories)} (fMRI and EEG). Responses of planted regions are generated from a language "
        "model's hidden states; all other voxels/channels carry noise only. The planted truth is in "
        "derivatives/groundtruth/truth.json and must not be read by analyses.\n")


def _truth(p: dict, model: dict, sim: _Sim, truth_regions: list[dict], noise_channels: list[str],
           do_fmri: bool, do_eeg: bool) -> dict:
    """The planted truth (``truth.json``): design, regions, noise-only targets and the files to read."""
    vs, ep = int(p["fmri"]["voxel_size"]), p["eeg"]
    return {
        "seed": int(sim.seed),
        "subjects": sim.subjects,
        "stories": sim.stories,
        "n_layers": sim.n_blocks,
        "model_id": model.get("model_id"),
        "weights_sha256": model.get("weights_sha256"),
        "params": p,
        "regions": truth_regions,
        "noise": {
            "fmri": {"definition": f"mask voxels at least {NOISE_MIN_DISTANCE_MM} mm from every planted voxel",
                     "min_distance_mm": NOISE_MIN_DISTANCE_MM,
                     "mask": f"nilearn MNI152 brain mask, {vs} mm"},
            "eeg": {"definition": "channels outside every planted channel group",
                    "channels": noise_channels if do_eeg else []},
        },
        "files": {
            "atlas": f"derivatives/atlas/space-{SPACE}_res-{vs}_desc-demo_dseg.nii.gz" if do_fmri else None,
            "channel_groups": f"derivatives/atlas/montage-{ep['montage']}_desc-demo_channelgroups.tsv" if do_eeg else None,
        },
    }


def _write_truth(tmp: Path, truth: dict) -> None:
    """``truth.json`` and the descriptions of the groundtruth and atlas derivatives."""
    _json(tmp / "derivatives" / "groundtruth" / "truth.json", truth)
    _json(tmp / "derivatives" / "groundtruth" / "dataset_description.json", {
        "Name": "brainalign demo planted truth", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "brainalign.demo"}]})
    _json(tmp / "derivatives" / "atlas" / "dataset_description.json", {
        "Name": "brainalign demo atlas (k-means parcels, channel groups)", "BIDSVersion": "1.9.0",
        "DatasetType": "derivative", "GeneratedBy": [{"Name": "brainalign.demo"}]})


def _truth_entry(region: dict, layer: int, n_blocks: int, modality: str, snr: float, k: int,
                 ahead_layer: int | None = None) -> dict:
    entry = {"name": region["name"], "modality": modality, "planted_layer": int(layer), "n_layers": int(n_blocks),
            "relative_depth": float(region["relative_depth"]),
            "planted_relative_depth": round(layer / n_blocks, 6) if n_blocks else 0.0,
            "forecast_distance": int(region["forecast_distance"]),
            "forecast_weight": float(region["forecast_weight"]) if region["forecast_distance"] else 0.0,
            "snr": snr, "n_latents": k}
    if ahead_layer is not None:  # the word ahead from another layer: its planted forecast depth k
        entry["forecast_layer"] = int(ahead_layer)
    return entry


def _write_eeg(root: Path, sub: str, story: str, data: np.ndarray, names: list[str], ep: dict,
               table: pd.DataFrame) -> None:
    """Write one EEG run with mne-bids; events carry the word in a ``word`` column."""
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    info = mne.create_info(names, float(ep["sfreq"]), "eeg")
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_montage(ep["montage"], verbose=False)
    raw.info["line_freq"] = float(ep["line_freq"])
    # fixed measurement date: mne-bids writes it into scans.tsv; same seed -> same files
    raw.set_meas_date(pd.Timestamp("2000-01-01", tz="UTC").to_pydatetime())
    onsets = table["onset"].to_numpy(float)
    raw.set_annotations(mne.Annotations(onsets, table["offset"].to_numpy(float) - onsets, ["word"] * len(onsets),
                                        extras=[{"word": str(w)} for w in table["word"]]))
    path = BIDSPath(subject=sub, task=story, datatype="eeg", root=root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_raw_bids(raw, path, format=ep["format"], allow_preload=True, overwrite=True, verbose=False,
                       extra_columns_descriptions={"word": "the word heard (as fed to the language model)"})
