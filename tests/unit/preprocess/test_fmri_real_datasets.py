"""Issue #8, fMRI side: Narratives runs holding two stories, LeBel et al. 2023 preprocessed responses
(.hf5), fsaverage6 surface data offline (nested icosahedral meshes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from brainalign.config_sections import with_defaults
from brainalign.io.bids import find_runs, locate_run, select_runs, split_story_runs, story_segment, story_tasks
from brainalign.io.timings import cut_window, read_timings, read_word_table
from brainalign.preprocess.fmri import (N_FSAVERAGE5, crop_story, preprocess_fmri, preprocess_hf5,
                                        read_hf5_responses)

REPO = Path(__file__).resolve().parents[3]


# ------------------------------------------------------------------ fsaverage nesting
def test_fsaverage5_is_nested_icosahedron():
    """nilearn's fsaverage5 sphere: every vertex added by the last subdivision (index >= 2562) is the
    normalised midpoint of two vertices of the coarser mesh (index < 2562), i.e. subdivision appends
    vertices after the old ones; fsaverage6's first 10242 vertices are fsaverage5 by the same rule."""
    from nilearn.datasets import load_fsaverage

    sphere = load_fsaverage("fsaverage5")["sphere"].parts["left"]
    xyz = np.asarray(sphere.coordinates, dtype=float)
    faces = np.asarray(sphere.faces)
    assert len(xyz) == N_FSAVERAGE5
    unit = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    n_coarse = 2562  # ico4 = fsaverage4
    neighbours: dict[int, set[int]] = {}
    for a, b, c in faces:
        for u, v in ((a, b), (b, c), (c, a)):
            neighbours.setdefault(int(u), set()).add(int(v))
            neighbours.setdefault(int(v), set()).add(int(u))
    rng = np.random.default_rng(0)
    for v in rng.choice(np.arange(n_coarse, N_FSAVERAGE5), 300, replace=False):
        old = [u for u in neighbours[int(v)] if u < n_coarse]
        assert len(old) == 2, (v, old)  # a new vertex sits on an edge of the coarser mesh
        mid = unit[old[0]] + unit[old[1]]
        assert np.dot(mid / np.linalg.norm(mid), unit[v]) > 0.999


def _gifti_run(path: Path, n_vertices: int, n_t: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    arrays = [nib.gifti.GiftiDataArray(rng.standard_normal(n_vertices).astype(np.float32))
              for _ in range(n_t)]
    nib.save(nib.gifti.GiftiImage(darrays=arrays), str(path))
    return path


@pytest.fixture()
def offline_fsaverage(tmp_path, monkeypatch):
    """No FreeSurfer and an empty nilearn data directory: only fsaverage5 (shipped) is available."""
    monkeypatch.delenv("SUBJECTS_DIR", raising=False)
    monkeypatch.delenv("FREESURFER_HOME", raising=False)
    monkeypatch.setenv("NILEARN_DATA", str(tmp_path / "nilearn_data"))
    return tmp_path


def _fsaverage6_run(root: Path, n_t: int = 6) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = [_gifti_run(root / f"sub-01_task-x_hemi-{h}_space-fsaverage6_bold.func.gii", 40962, n_t, i)
             for i, h in enumerate("LR")]
    (root / "sub-01_task-x_hemi-L_space-fsaverage6_bold.json").write_text('{"RepetitionTime": 1.5}')
    return paths


def test_fsaverage6_coordinates_offline_from_fsaverage5(offline_fsaverage):
    from nilearn.datasets import load_fsaverage

    paths = _fsaverage6_run(offline_fsaverage / "func")
    out = preprocess_fmri(paths, confounds=None, strategy={}, sidecar=offline_fsaverage / "func" /
                          "sub-01_task-x_hemi-L_space-fsaverage6_bold.json")
    assert out.sizes["voxel"] == 2 * 40962
    pial = load_fsaverage("fsaverage5")["pial"]
    left = out.isel(voxel=slice(0, 40962))
    right = out.isel(voxel=slice(40962, None))
    assert (left["hemi"] == "L").all() and (right["hemi"] == "R").all()
    xyz_l = np.stack([left[c].values for c in "xyz"], axis=1)
    np.testing.assert_allclose(xyz_l[:N_FSAVERAGE5], pial.parts["left"].coordinates, rtol=0, atol=1e-4)
    assert np.isnan(xyz_l[N_FSAVERAGE5:]).all()
    xyz_r = np.stack([right[c].values for c in "xyz"], axis=1)
    np.testing.assert_allclose(xyz_r[:N_FSAVERAGE5], pial.parts["right"].coordinates, rtol=0, atol=1e-4)


def test_fsaverage6_full_mesh_from_subjects_dir(offline_fsaverage, monkeypatch):
    """Where FreeSurfer's fsaverage6 is on disk ($SUBJECTS_DIR), every vertex gets its coordinates."""
    surf = offline_fsaverage / "subjects" / "fsaverage6" / "surf"
    surf.mkdir(parents=True)
    rng = np.random.default_rng(1)
    meshes = {}
    for h in ("lh", "rh"):
        meshes[h] = rng.uniform(-70, 70, (40962, 3))
        nib.freesurfer.write_geometry(str(surf / f"{h}.pial"), meshes[h], np.array([[0, 1, 2]], dtype=np.int32))
    monkeypatch.setenv("SUBJECTS_DIR", str(offline_fsaverage / "subjects"))
    paths = _fsaverage6_run(offline_fsaverage / "func")
    out = preprocess_fmri(paths, confounds=None, strategy={}, tr=1.5)
    xyz = np.stack([out[c].values for c in "xyz"], axis=1)
    assert np.isfinite(xyz).all()
    np.testing.assert_allclose(xyz[:40962], meshes["lh"], atol=1e-3)
    np.testing.assert_allclose(xyz[40962:], meshes["rh"], atol=1e-3)


def test_fsaverage6_scores_reach_a_surface_figure(tmp_path):
    import xarray as xr

    from brainalign.plotting import plot_surface_map, surface_textures, values_to_surface_nifti

    n = 40962
    vals = np.zeros(2 * n)
    vals[:N_FSAVERAGE5] = np.linspace(0, 0.5, N_FSAVERAGE5)  # fsaverage5 part of the left hemisphere
    vals[N_FSAVERAGE5:n] = 9.0  # denser vertices: dropped by the downsampling
    scores = xr.DataArray(vals, dims="voxel", coords={"hemi": ("voxel", np.repeat(["L", "R"], n)),
                                                      "vertex": ("voxel", np.tile(np.arange(n), 2))})
    tex = surface_textures(scores)
    assert set(tex) == {"left", "right"} and tex["left"].shape == (N_FSAVERAGE5,)
    np.testing.assert_allclose(tex["left"], vals[:N_FSAVERAGE5])
    assert tex["left"].max() < 9.0
    out = plot_surface_map(scores, tmp_path / "map.png", title="peak r", cbar_label="Pearson r")
    assert out.exists() and out.stat().st_size > 10_000
    assert values_to_surface_nifti(scores).shape == (2 * n, 1, 1)
    bad = scores.isel(voxel=slice(0, 5000))
    with pytest.raises(ValueError, match="hemisphere L has 5000 vertices"):
        surface_textures(bad)


# ------------------------------------------------------------------ LeBel et al. 2023 .hf5
def _write_hf5(path: Path, data: np.ndarray | None, name: str = "data") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        if data is not None:
            f.create_dataset(name, data=data)
    return path


def test_hf5_reader_and_contract(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((40, 25)) * 3 + 1
    data[5, 3] = np.nan
    path = _write_hf5(tmp_path / "derivative" / "preprocessed_data" / "UTS01" / "wheretheressmoke.hf5", data)
    assert read_hf5_responses(path).shape == (40, 25)
    # a NaN is an error by default (never the authors' loaders' silent 0) ...
    with pytest.raises(ValueError, match=r"wheretheressmoke\.hf5: 1 non-finite value.* in 1 of 25 voxel.*rows 5 "):
        preprocess_hf5(path, tr=2.0, first_volume=10)
    # ... or interpolated in time when configured, and recorded
    raw = preprocess_hf5(path, tr=2.0, first_volume=10, standardize=False, nonfinite="interpolate")
    assert raw.values[5, 3] == pytest.approx((data[4, 3] + data[6, 3]) / 2, rel=1e-6)
    assert raw.attrs["nonfinite_interpolated"] == ["3"] and raw.attrs["nonfinite_values"] == 1
    out = preprocess_hf5(path, tr=2.0, first_volume=10, nonfinite="interpolate")
    assert out.dims == ("time", "voxel") and out.dtype == np.float32 and out.shape == (40, 25)
    np.testing.assert_allclose(out["time"].values[:2], [21.0, 23.0])  # (10 + 0.5) * 2.0, (11 + 0.5) * 2.0
    assert np.isfinite(out.values).all()
    np.testing.assert_allclose(out.mean("time"), 0, atol=1e-5)
    np.testing.assert_allclose(out.std("time"), 1, atol=1e-4)
    assert out.attrs["tr"] == 2.0 and out.attrs["space"] == "subject-cortical"
    assert {"x", "y", "z"} <= set(out.coords)


def test_hf5_errors_name_the_file(tmp_path):
    wrong = _write_hf5(tmp_path / "a.hf5", np.zeros((10, 4)), name="resp")
    with pytest.raises(ValueError, match=r"a\.hf5: no HDF5 dataset 'data' \(found: \['resp'\]\)"):
        read_hf5_responses(wrong)
    flat = _write_hf5(tmp_path / "b.hf5", np.zeros(10))
    with pytest.raises(ValueError, match=r"b\.hf5: dataset 'data' has shape \(10,\); expected 2-D \(time, voxel\)"):
        read_hf5_responses(flat)
    with pytest.raises(FileNotFoundError, match="c.hf5"):
        read_hf5_responses(tmp_path / "c.hf5")


def test_hf5_discovery_and_rule_script(tmp_path):
    """find_runs/locate_run find <root>/derivative/preprocessed_data/<subject>/<story>.hf5 and the rule
    script writes the Preprocessed store."""
    import xarray as xr

    profile = yaml.safe_load((REPO / "config" / "datasets" / "lebel2023.yaml").read_text())["dataset"]["profile"]
    profile = with_defaults("dataset.profile", {**profile, "responses": "hf5"})  # as the workflow's validation fills it
    rng = np.random.default_rng(1)
    for sub in ("UTS01", "UTS02"):
        for story in ("adollshouse", "souls"):
            _write_hf5(tmp_path / "derivative" / "preprocessed_data" / sub / f"{story}.hf5", rng.standard_normal((30, 12)))
    from brainalign.io.bids import hf5_spec
    runs = find_runs(tmp_path, {"modality": "fmri", "stories": ["souls"], **hf5_spec(profile, tmp_path)})
    assert runs[["subject", "story"]].values.tolist() == [["UTS01", "souls"], ["UTS02", "souls"]]
    loc = locate_run(tmp_path, "UTS02", "souls", "fmri", profile=profile)
    assert loc["bold"].endswith("UTS02/souls.hf5")
    out = tmp_path / "out.zarr"
    _run_script("preprocess_fmri.py", tmp_path, wildcards={"subject": "UTS02", "story": "souls"}, output=out,
                params={"kind": "bids", "bids_root": str(tmp_path), "derivatives_root": None, "profile": profile,
                        "options": with_defaults("preprocess.fmri", {"mask": "epi", "detrend": True, "standardize": True}),
                        "story_run": None,
                        "words": None})
    data = xr.open_zarr(out)["data"]
    assert data.dims == ("time", "voxel") and data.shape == (30, 12)
    assert data.attrs["subject"] == "UTS02" and data.attrs["story"] == "souls" and data.attrs["tr"] == 2.0
    assert data.attrs["source_file"].endswith("souls.hf5")
    np.testing.assert_allclose(data["time"].values[0], 21.0)


def _run_script(name: str, tmp: Path, *, wildcards: dict, output: Path, params: dict, inputs=()) -> None:
    """Run a rule script the way Snakemake's `script:` does: a global `snakemake` object."""
    from types import SimpleNamespace

    class Named(list):
        pass

    log = tmp / "log.txt"
    code = (REPO / "workflow" / "scripts" / name).read_text()
    smk = SimpleNamespace(scriptdir=str(REPO / "workflow" / "scripts"), log=[str(log)],
                          wildcards=SimpleNamespace(**wildcards), params=SimpleNamespace(**params),
                          output=Named([str(output)]), input=Named(list(inputs)))
    exec(compile(code, name, "exec"), {"snakemake": smk, "__name__": "__main__"})


# ------------------------------------------------------------------ Narratives: two stories in one run
TR = 1.5


def _two_story_run(root: Path) -> dict:
    """sub-001 task-slumlordreach: 120 volumes; story A at 15 s (60 s long), story B at 105 s (45 s).
    Voxel 0 carries a ramp that only the confounds explain (regressed on the whole run)."""
    rng = np.random.default_rng(0)
    n_t, shape = 120, (4, 4, 3)
    t = np.arange(n_t)
    confound = np.sin(t / 7.0)
    data = rng.standard_normal(shape + (n_t,)) + 100
    data[0, 0, 0] += 5 * confound
    img = nib.Nifti1Image(data.astype(np.float32), np.diag([3.0, 3.0, 3.0, 1.0]))
    img.header.set_zooms((3.0, 3.0, 3.0, TR))
    img.header.set_xyzt_units("mm", "sec")
    func = root / "sub-001" / "func"
    func.mkdir(parents=True)
    bold = func / "sub-001_task-slumlordreach_bold.nii.gz"
    nib.save(img, str(bold))
    pd.DataFrame({"onset": [0.0, 15.0, 80.0, 105.0], "duration": [13.0, 60.0, 20.0, 45.0],
                  "trial_type": ["music", "story", "music", "story"],
                  "stim_file": ["slumlordreach_audio.wav"] * 4}).to_csv(
        func / "sub-001_task-slumlordreach_events.tsv", sep="\t", index=False)
    pd.DataFrame({"csf": confound, "white_matter": rng.standard_normal(n_t)}).to_csv(
        func / "sub-001_task-slumlordreach_desc-confounds_timeseries.tsv", sep="\t", index=False)
    (root / "task-slumlordreach_bold.json").write_text('{"RepetitionTime": 1.5}')
    (root / "dataset_description.json").write_text('{"Name": "fake", "BIDSVersion": "1.8.0"}')
    return {"bold": bold, "events": func / "sub-001_task-slumlordreach_events.tsv",
            "confounds": func / "sub-001_task-slumlordreach_desc-confounds_timeseries.tsv"}


STORY_RUNS = with_defaults("dataset.story_runs", {
    "slumlord": {"task": "slumlordreach", "onset": "events", "events_index": 0, "tail": 15.0},
    "reach": {"task": "slumlordreach", "onset": "events", "events_index": 1, "tail": 15.0}})


def _entry(**values) -> dict:
    """A ``dataset.story_runs`` entry as the workflow's validation fills it."""
    return with_defaults("dataset.story_runs", {"s": values})["s"]


def test_story_segment_from_events_and_config(tmp_path):
    files = _two_story_run(tmp_path)
    assert story_segment("slumlord", STORY_RUNS["slumlord"], files["events"]) == (15.0, 60.0)
    assert story_segment("reach", STORY_RUNS["reach"], files["events"]) == (105.0, 45.0)
    assert story_segment("reach", _entry(task="x", onset=12.5), None) == (12.5, None)
    with pytest.raises(ValueError, match=r"events_index=2 but the file has 2 row\(s\) with trial_type 'story'"):
        story_segment("reach", _entry(task="x", onset="events", events_index=2), files["events"])
    with pytest.raises(FileNotFoundError, match="dataset.story_runs.reach"):
        story_segment("reach", _entry(task="x"), None)


def test_two_stories_share_one_run_in_the_run_table(tmp_path):
    _two_story_run(tmp_path)
    stories = ["slumlord", "reach"]
    assert story_tasks(stories, STORY_RUNS) == ["slumlordreach"]
    runs = find_runs(tmp_path, {"modality": "fmri", "stories": story_tasks(stories, STORY_RUNS)})
    chosen = select_runs(split_story_runs(runs, STORY_RUNS), ["001"], stories)
    assert chosen["story"].tolist() == stories and chosen["task"].tolist() == ["slumlordreach"] * 2
    assert chosen["path"].nunique() == 1


def test_crop_story_after_whole_run_cleaning(tmp_path):
    files = _two_story_run(tmp_path)
    mask = nib.Nifti1Image(np.ones((4, 4, 3), np.int8), np.diag([3.0, 3.0, 3.0, 1.0]))
    run = preprocess_fmri(files["bold"], confounds=files["confounds"], mask=mask, standardize=False,
                          strategy={"wm_csf": "basic"})
    assert run.sizes["time"] == 120
    onset, duration = story_segment("reach", STORY_RUNS["reach"], files["events"])
    reach = crop_story(run, onset, duration, tail=15.0, where="reach")
    # volumes stamped (k + 0.5) * 1.5 within [105, 105 + 45 + 15] = [105, 165]: k = 70 .. 109
    assert reach.sizes["time"] == 40
    np.testing.assert_allclose(reach["time"].values[0], (70 + 0.5) * TR - 105.0)
    assert reach["time"].values[-1] <= 45.0 + 15.0
    np.testing.assert_allclose(reach.mean("time"), 0, atol=1e-5)
    np.testing.assert_allclose(reach.std("time"), 1, atol=1e-3)
    assert reach.attrs["run_onset"] == 105.0 and reach.attrs["tail"] == 15.0
    # the segment is the whole-run cleaning cut, then z-scored (not cleaned on its own)
    seg = run.isel(time=slice(70, 110)).values
    np.testing.assert_allclose(reach.values, (seg - seg.mean(0)) / seg.std(0), atol=1e-4)
    slumlord = crop_story(run, 15.0, 60.0, 15.0)
    assert slumlord.sizes["time"] == 50 and slumlord["time"].values[0] >= 0
    with pytest.raises(ValueError, match="holds 0 volume"):
        crop_story(run, 500.0, 10.0, 0.0, where="late")


def test_preprocess_run_ends_a_shared_run_story_at_its_duration_or_last_word(tmp_path):
    from brainalign.preprocess.fmri import preprocess_run

    files = _two_story_run(tmp_path)
    mask = nib.Nifti1Image(np.ones((4, 4, 3), np.int8), np.diag([3.0, 3.0, 3.0, 1.0]))
    run = {"bold": files["bold"], "confounds": files["confounds"], "events": files["events"]}
    options = with_defaults("preprocess.fmri", {"mask": mask, "strategy": {"wm_csf": "basic"}, "standardize": True})
    early_words = pd.DataFrame({"word": ["a"], "onset": [1.0], "offset": [30.0]})
    reach = preprocess_run(run, options=options, story="reach", story_run=STORY_RUNS["reach"], words=early_words)
    assert reach.sizes["time"] == 40 and reach.attrs["story_end"] == 45.0 and reach.attrs["task"] == "slumlordreach"
    # a last word past the events' duration extends the segment
    late_words = pd.DataFrame({"word": ["a"], "onset": [1.0], "offset": [50.0]})
    longer = preprocess_run(run, options=options, story="reach", story_run=STORY_RUNS["reach"], words=late_words)
    assert longer.attrs["story_end"] == 50.0 and longer.sizes["time"] > reach.sizes["time"]
    # a run of its own is not cut
    whole = preprocess_run(run, options=options, story="slumlordreach")
    assert whole.sizes["time"] == 120
    no_end = with_defaults("dataset.story_runs", {"x": {"task": "slumlordreach", "onset": 15.0}})["x"]
    with pytest.raises(ValueError, match="neither a duration"):
        preprocess_run(run, options=options, story="x", story_run=no_end, words=None)


# ------------------------------------------------------------------ Narratives: one alignment, two stories
def _shared_gentle(path: Path) -> Path:
    """A Gentle align.json in the published structure for slumlordreach: timed from the start of the
    combined audio (which the release's events start 4.5 s into the run, with music; slumlord's story
    row at 29.5 s = 25 s into the audio, reach's at 969.5 s = 965 s), slumlord's words before 950 s,
    reach's after; one unaligned word in each story."""
    transcript = "The landlord, came back.\n\nReach out now.\n"

    def item(word, case, start=None, end=None):
        s = transcript.index(word)
        d = {"case": case, "startOffset": s, "endOffset": s + len(word), "word": word.strip(",.")}
        if case == "success":
            d.update(alignedWord=word.lower().strip(",."), start=start, end=end,
                     phones=[{"duration": end - start, "phone": "x_S"}])
        return d

    words = [item("The", "success", 25.5, 25.8), item("landlord,", "success", 25.9, 26.3),
             item("came", "not-found-in-audio"), item("back.", "success", 26.7, 27.1),
             {"case": "not-found-in-transcript", "start": 940.0, "end": 940.5, "word": "la"},  # the music
             item("Reach", "success", 965.5, 965.9), item("out", "not-found-in-audio"),
             item("now.", "success", 966.5, 966.8)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(__import__("json").dumps({"transcript": transcript, "words": words}, indent=2))
    return path


def _narratives_story_runs() -> dict:
    return yaml.safe_load((REPO / "config" / "datasets" / "narratives.yaml").read_text())["dataset"]["story_runs"]


def test_shared_alignment_cut_into_two_stories(tmp_path):
    """The words script with the narratives profile: one word table per story from the one align.json,
    indices from 0, onsets in seconds from the story's onset (the clock of its cropped recording)."""
    _shared_gentle(tmp_path / "stimuli" / "gentle" / "slumlordreach" / "align.json")
    profile = yaml.safe_load((REPO / "config" / "datasets" / "narratives.yaml").read_text())["dataset"]
    story_runs = profile["story_runs"]
    assert story_runs["slumlord"]["timings_path"] == story_runs["reach"]["timings_path"]
    expected = {"slumlord": (["The", "landlord,", "came", "back."], [0.5, 0.9, 1.3, 1.7], [0.8, 1.3, 1.7, 2.1]),
                "reach": (["Reach", "out", "now."], [0.5, 0.9, 1.5], [0.9, 1.5, 1.8])}
    for story, (words, onsets, offsets) in expected.items():
        out = tmp_path / f"{story}.tsv"
        _run_script("words.py", tmp_path, wildcards={"story": story}, output=out,
                    params={"kind": "bids", "bids_root": str(tmp_path), "timings": profile["timings"],
                            "story_run": story_runs[story], "timing_files": [("001", None)]})
        table = read_word_table(out)
        assert table["story"].unique().tolist() == [story]
        assert table["word"].tolist() == words
        assert table["word_index"].tolist() == list(range(len(words)))
        np.testing.assert_allclose(table["onset"], onsets, atol=1e-9)
        np.testing.assert_allclose(table["offset"], offsets, atol=1e-9)
        flags = table.set_index("word")["flags"]
        assert flags[words[2 if story == "slumlord" else 1]] == "interpolated"
        assert (table["flags"] == "interpolated").sum() == 1
    # same clock as crop_story: the alignment counts from the audio's start (4.5 s into the run in the
    # release's events), so a word at run time story onset + x is at x in the cropped recording
    run_onsets, audio_onset = {"slumlord": 29.5, "reach": 969.5}, 4.5
    for story, entry in story_runs.items():
        assert entry["timings_offset"] == -(run_onsets[story] - audio_onset)


def test_cut_window_errors_name_the_file_and_field(tmp_path):
    path = _shared_gentle(tmp_path / "align.json")
    field = "dataset.story_runs.reach.timings_window"

    def read(window, offset=-965.0):
        return read_timings(path, fmt="gentle", story="reach", window=window, shift=offset, window_field=field)

    assert read([950.0, None])["word"].tolist() == ["Reach", "out", "now."]
    with pytest.raises(ValueError, match=rf"align.json: {field}=\[950, 950\] is empty: stop must be after start"):
        read([950.0, 950.0])
    with pytest.raises(ValueError, match=rf"align.json: {field}=\[100, 900\] s is empty: no word"):
        read([100.0, 900.0])
    with pytest.raises(ValueError, match=rf"align.json: {field}=\[2000, inf\] s is outside the alignment"):
        read([2000.0, None])
    with pytest.raises(ValueError, match=rf"align.json: {field}=\[0, 10\] s is outside the alignment"):
        read([0.0, 10.0])
    with pytest.raises(ValueError, match=rf"align.json: {field}=\[950.0\]: expected \[start, stop\]"):
        read([950.0])
    with pytest.raises(ValueError, match=rf"offset -980 s, 3 word\(s\) of {field}.*start before the story"):
        read([950.0, None], offset=-980.0)
    # the function on a table: flags kept, indices renumbered, times shifted
    whole = read_timings(path, fmt="gentle")
    cut = cut_window(whole, (25.0, 26.5), offset=-25.0, source=path, field="w")
    assert cut["word_index"].tolist() == [0, 1, 2] and cut["onset"].tolist() == pytest.approx([0.5, 0.9, 1.3])
    assert cut["flags"].tolist() == ["", "", "interpolated"] and whole["word_index"].tolist()[:2] == [0, 1]


def test_narratives_dry_run_two_stories_one_run(tmp_path):
    """The narratives profile on a fake tree with slumlord and reach: two stories (word tables,
    features, preprocessing jobs) planned from the one slumlordreach run of each subject."""
    bids = tmp_path / "ds002345"
    for sub in ("001", "002"):
        func = bids / f"sub-{sub}" / "func"
        func.mkdir(parents=True)
        (func / f"sub-{sub}_task-slumlordreach_bold.nii.gz").touch()
        (func / f"sub-{sub}_task-slumlordreach_events.tsv").write_text("onset\tduration\ttrial_type\n")
        d = bids / "derivatives" / "fmriprep" / f"sub-{sub}" / "func"
        d.mkdir(parents=True)
        (d / f"sub-{sub}_task-slumlordreach_space-MNI152NLin2009cAsym_res-native_desc-preproc_bold.nii.gz").touch()
        (d / f"sub-{sub}_task-slumlordreach_desc-confounds_timeseries.tsv").touch()
    # the release has one alignment for the pair (no stimuli/gentle/slumlord or reach)
    shared = _shared_gentle(bids / "stimuli" / "gentle" / "slumlordreach" / "align.json")
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    (work / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"dataset": {"bids_root": str(bids), "stories": ["slumlord", "reach"],
                                                    "derivatives_root": str(bids / "derivatives" / "fmriprep")}}))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work), "-n",
           "--configfile", str(REPO / "config" / "datasets" / "narratives.yaml"), str(override), "-p", "--quiet",
           "rules"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
    text = out.stdout + out.stderr
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts.get("preprocess_fmri") == 4, text[-3000:]  # 2 subjects x 2 stories
    assert counts.get("words") == 2
    # the DAG: each story's preprocessing reads the same run and its own word table
    dag = subprocess.run(cmd[:-3] + ["--dag"], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert dag.returncode == 0, dag.stderr[-3000:]
    for story in ("slumlord", "reach"):
        assert f"story: {story}" in dag.stdout
    # both words jobs read the shared alignment (the plan's job listing)
    plan = subprocess.run(cmd[:-2], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = [block for block in (plan.stdout + plan.stderr).split("rule ") if block.startswith("words:")]
    inputs = {}
    for block in jobs:
        fields = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:] if ": " in line)
        # "<TBD>": the input check (checkpoint check_inputs) the job waits for
        inputs[fields["output"]] = ", ".join(f for f in fields.get("input", "").split(", ") if f != "<TBD>")
    assert inputs == {f"results/narratives/words/{story}.tsv": str(shared) for story in ("slumlord", "reach")}, \
        (plan.stdout + plan.stderr)[-3000:]


def test_crop_story_origin_and_hf5_onset(tmp_path):
    """crop_story re-zeroes at `origin` (the word table's 0) when given; hf5 responses have no events,
    so a stimulus onset read from events is refused naming the key."""
    from brainalign.errors import ConfigError
    from brainalign.preprocess.fmri import preprocess_run

    files = _two_story_run(tmp_path)
    mask = nib.Nifti1Image(np.ones((4, 4, 3), np.int8), np.diag([3.0, 3.0, 3.0, 1.0]))
    run = preprocess_fmri(files["bold"], confounds=None, mask=mask, standardize=False, strategy={})
    moved = crop_story(run, 105.0, 45.0, tail=15.0, origin=100.0)
    same = crop_story(run, 105.0, 45.0, tail=15.0)
    assert moved.sizes["time"] == same.sizes["time"] == 40
    np.testing.assert_allclose(moved["time"].values, same["time"].values + 5.0)
    assert moved.attrs["time_origin"] == 100.0 and same.attrs["time_origin"] == 105.0
    hf5 = _write_hf5(tmp_path / "UTS01" / "souls.hf5", np.random.default_rng(0).standard_normal((20, 4)))
    options = with_defaults("preprocess.fmri", {"standardize": True})
    profile = with_defaults("dataset.profile", {"hf5": {"tr": 2.0}})
    with pytest.raises(ConfigError, match=r"dataset.stimulus_onset.source.*responses: hf5"):
        preprocess_run({"bold": str(hf5)}, options=options, profile=profile, story="souls",
                       stimulus=with_defaults("dataset.stimulus_onset", {"source": "events"}), subject="UTS01")
    out = preprocess_run({"bold": str(hf5)}, options=options, profile=profile, story="souls",
                         stimulus=with_defaults("dataset.stimulus_onset", {"source": "none"}), subject="UTS01")
    np.testing.assert_allclose(out["time"].values[0], 21.0)  # the authors' clock, untouched
