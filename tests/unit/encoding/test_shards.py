"""Sharded encoding (issue 16): a memory budget's plan, shards reading their target block from
chunked stores, and a gather that gives exactly the single job's scores."""

import numpy as np
import pytest
import xarray as xr
from tests.synthetic_features import random_features

from brainalign.design.fmri import apply_operator, fmri_operator
from brainalign.encoding import encode_dataset
from brainalign.encoding.collect import target_block
from brainalign.encoding.shards import (Shard, estimate_mb, fit_shard, gather_shards, layer_block, plan_shards,
                                        read_shard, write_shard)
from brainalign.errors import ConfigError
from brainalign.io.store import read_zarr, target_chunks, write_zarr
from brainalign.encoding.settings import design_settings, solver_settings

TR = 2.0
ENC = solver_settings(alphas=np.logspace(-1, 5, 7).tolist(), inner_folds=3, n_permutations=30, seed=3)


def _features(rng, n_layers=4, p=10, n_words=150, stories=("s1", "s2")):
    return random_features(rng, n_layers, p, n_words, stories)


def _fmri(rng, feats, subjects=("01", "02", "03"), n_vox=53):
    recs = {}
    for sub in subjects:
        recs[sub] = {}
        for s, f in feats.items():
            times = (np.arange(2, int(f.onset.values[-1] / TR) + 8) + 0.5) * TR
            sig = apply_operator(fmri_operator(f.onset.values, times, TR), f.hidden.sel(layer=2)).values
            data = rng.standard_normal((times.size, n_vox))
            data[:, :6] += 1.5 * sig[:, :6] / sig[:, :6].std(0)
            recs[sub][s] = xr.DataArray(data.astype(np.float32), dims=("time", "voxel"), coords={
                "time": times, "x": ("voxel", np.arange(n_vox) * 4.0), "y": ("voxel", np.zeros(n_vox)),
                "z": ("voxel", np.ones(n_vox)), "region": ("voxel", ["planted"] * 6 + ["noise"] * (n_vox - 6))},
                attrs={"tr": TR})
    return recs


def _ieeg(rng, feats, n_channels, sfreq=50.0, bad=None):
    recs = {}
    for s, f in feats.items():
        n = int((f.onset.values[-1] + 2) * sfreq)
        data = rng.standard_normal((n, n_channels)).astype(np.float32)
        idx = np.rint(f.onset.values * sfreq).astype(int) + 10
        drive = f.hidden.values[:, 1, :].sum(1)
        data[idx, 2] += 2.0 * (drive - drive.mean()) / drive.std()
        if bad is not None and s == "s1":
            data[bad[0]:bad[1], bad[2]] = np.nan  # a BAD segment on one channel: its words leave every channel
        recs[s] = xr.DataArray(data, dims=("time", "channel"), coords={
            "time": np.arange(n) / sfreq, "channel": [f"G{i + 1}" for i in range(n_channels)],
            "pos_x": ("channel", np.linspace(-0.05, 0.05, n_channels))}, attrs={"sfreq": sfreq})
    return recs


def _as_stores(recs, tmp_path, chunk_mb):
    """Write recordings to chunked Zarr stores and open them lazily, as the shard jobs do."""
    out = {}
    for sub, runs in recs.items():
        for s, da in runs.items():
            path = tmp_path / f"{sub}_{s}.zarr"
            write_zarr(da, path, encoding=target_chunks(da, chunk_mb=chunk_mb))
            out.setdefault(sub, {})[s] = read_zarr(path)["data"]
    return out


def _shards(subjects, n_layer_blocks, n_target_blocks, groups=None):
    groups = groups or [tuple(subjects)]
    return [Shard(id=f"g{g}-l{li}-t{ti}", subjects=tuple(grp), layer_block=li, n_layer_blocks=n_layer_blocks,
                  target_block=ti, n_target_blocks=n_target_blocks, mem_mb=1000)
            for g, grp in enumerate(groups) for li in range(n_layer_blocks) for ti in range(n_target_blocks)]


def _compare(sharded, whole):
    assert set(sharded.data_vars) == set(whole.data_vars)
    assert sharded.attrs == whole.attrs
    for name in whole.coords:
        np.testing.assert_array_equal(sharded[name].values, whole[name].values, err_msg=name)
    dr = float(np.nanmax(np.abs(sharded.r.values - whole.r.values)))
    assert dr <= 1e-6, dr
    np.testing.assert_array_equal(np.isnan(sharded.r.values), np.isnan(whole.r.values))
    np.testing.assert_array_equal(sharded.alpha.values, whole.alpha.values)
    np.testing.assert_array_equal(sharded.p.values, whole.p.values)
    np.testing.assert_array_equal(sharded.significant.values, whole.significant.values)
    if "p_channel" in whole:
        np.testing.assert_array_equal(sharded.p_channel.values, whole.p_channel.values)
    if "ceiling" in whole:
        np.testing.assert_allclose(sharded.ceiling.values, whole.ceiling.values, atol=1e-6)
        np.testing.assert_allclose(sharded.r_normalized.values, whole.r_normalized.values, atol=1e-5)
    return dr


def test_fmri_joint_shards_give_the_single_jobs_scores(tmp_path):
    """3 subjects in one joint solve, 4 target blocks x 2 layer blocks, read from voxel-chunked stores."""
    rng = np.random.default_rng(16)
    feats = _features(rng)
    recs = _fmri(rng, feats)
    whole = encode_dataset(feats, recs, modality="fmri", design=design_settings("fmri", method="hrf"), encoding=ENC)
    lazy = _as_stores(recs, tmp_path, chunk_mb=0.001)  # a few voxels per chunk
    assert lazy["01"]["s1"].encoding["chunks"][1] < 53  # stored in voxel chunks
    parts = []
    for shard in _shards(list(recs), 2, 4):
        path = write_shard(fit_shard(feats, lazy, shard, modality="fmri", design=design_settings("fmri", method="hrf"), encoding=ENC),
                           tmp_path / "shards" / f"{shard.id}.pkl")
        parts.append(read_shard(path))
    assert {len(p.targets.subjects["01"].coords["x"][1]) for p in parts} == {13, 14}
    sharded = gather_shards(parts[::-1], subjects=list(recs))  # any order of the parts
    dr = _compare(sharded, whole)
    print(f"fmri joint: max |dr| = {dr:.2e}")
    assert "ceiling" in sharded and np.isfinite(sharded.ceiling.values).all()


def test_ieeg_separate_shards_give_the_single_jobs_scores():
    """Patients with their own channels (separate), one with a BAD segment on one channel: the words it
    leaves out are those of the single job in every channel block; p_channel from all layer blocks."""
    rng = np.random.default_rng(7)
    feats = _features(rng, n_layers=3, p=6, n_words=200)
    recs = {"01": _ieeg(rng, feats, 11, bad=(400, 440, 9)), "02": _ieeg(rng, feats, 7)}
    design = design_settings("eeg", tmin=0.0, tmax=0.3)
    whole = encode_dataset(feats, recs, modality="ieeg", design=design, encoding=ENC)
    assert "words_left_out_bad_samples" in whole.attrs
    shards = _shards(None, 3, 3, groups=[("01",), ("02",)])
    parts = [fit_shard(feats, recs, s, modality="ieeg", design=design, encoding=ENC) for s in shards]
    sharded = gather_shards(parts, subjects=["01", "02"])
    dr = _compare(sharded, whole)
    print(f"ieeg separate: max |dr| = {dr:.2e}")


def test_gather_refuses_blocks_that_miss_targets():
    rng = np.random.default_rng(1)
    feats = _features(rng, n_layers=3)
    recs = _fmri(rng, feats, subjects=("01", "02"), n_vox=12)
    parts = [fit_shard(feats, recs, s, modality="fmri", design=design_settings("fmri"), encoding=solver_settings(inner_folds=3))
             for s in _shards(list(recs), 1, 3)]
    with pytest.raises(ValueError, match="do not cover its 12 targets"):
        gather_shards(parts[:2])


def test_target_and_layer_blocks_partition():
    assert [target_block(10, (k, 3)) for k in range(3)] == [slice(0, 3), slice(3, 6), slice(6, 10)]
    assert target_block(10, None) == slice(0, 10)
    with pytest.raises(ValueError, match="holds no target"):
        target_block(2, (0, 3))
    assert [layer_block([0, 3, 6, 9, 12], b, 2) for b in range(2)] == [[0, 3, 6], [9, 12]]


def test_plan_fits_the_budget_and_keeps_joint_subjects_together():
    sizes = {f"{i:03d}": {"rows": 1200, "targets": 81924} for i in range(40)}
    plan = plan_shards(sizes, subject_fits="joint", max_job_memory_gb=2, design_width=4096, n_alphas=11)
    assert len(plan.shards) > 1
    assert all(s.subjects == tuple(sizes) for s in plan.shards)  # one joint solve per shard
    assert max(s.mem_mb for s in plan.shards) <= 2048
    n = plan.shards[0].n_target_blocks
    # the fewest blocks: one block fewer would not fit
    per = -(-81924 // (n - 1)) * 40
    assert estimate_mb(1200, per, design_width=4096, n_alphas=11) > 2048
    bigger = plan_shards(sizes, subject_fits="joint", max_job_memory_gb=8, design_width=4096, n_alphas=11)
    assert len(bigger.shards) < len(plan.shards)
    sep = plan_shards({"01": {"rows": 3000, "targets": 120}, "02": {"rows": 3000, "targets": 80}},
                      subject_fits="separate", max_job_memory_gb=1.0, design_width=768, n_alphas=11, n_lags=41,
                      n_layer_blocks=2)
    assert {s.subjects for s in sep.shards} == {("01",), ("02",)}
    assert all(s.mem_mb <= 1024 for s in sep.shards)
    assert sep.shard(sep.ids[-1]).layer_block == 1


def test_budget_below_one_target_names_the_setting():
    with pytest.raises(ConfigError, match="encoding.max_job_memory_gb"):
        plan_shards({"01": {"rows": 50000, "targets": 10}}, subject_fits="joint", max_job_memory_gb=0.5,
                    design_width=4096, n_alphas=11)


def test_sizes_from_the_input_check(tmp_path):
    """Rows are volumes (fMRI) or words (word-locked), summed over a subject's runs; a planned run the
    table lacks stops the plan naming the table."""
    from brainalign.encoding.shards import plan_from_config, run_sizes
    from brainalign.errors import InputError
    from brainalign.io.inputs import COLUMNS

    def row(sub, story, mod, n_samples, n_words, n_targets):
        r = dict.fromkeys(COLUMNS, "n/a") | {"subject": sub, "story": story, "modality": mod, "sfreq_hz": "100",
                                             "n_samples": n_samples, "n_words": n_words, "n_targets": n_targets}
        return "\t".join(r[c] for c in COLUMNS)

    table = tmp_path / "inputs.tsv"
    table.write_text("\n".join(["\t".join(COLUMNS), row("01", "a", "fmri", "300", "900", "81924"),
                                row("01", "b", "fmri", "250", "800", "81924"), row("01", "a", "meg", "9000", "900", "208"),
                                row("02", "a", "fmri", "300", "900", "81924")]) + "\n")
    runs = [("01", "a"), ("01", "b"), ("02", "a")]
    assert run_sizes(table, "fmri", runs) == {"01": {"rows": 550, "targets": 81924, "stories": ["a", "b"]},
                                              "02": {"rows": 300, "targets": 81924, "stories": ["a"]}}
    assert run_sizes(table, "meg", [("01", "a")]) == {"01": {"rows": 900, "targets": 208, "stories": ["a"]}}
    with pytest.raises(InputError, match=r"inputs\.tsv.*sub-02 b \(fmri\)"):
        run_sizes(table, "fmri", runs + [("02", "b")])
    from brainalign.config_sections import with_defaults

    config = {"encoding": with_defaults("encoding", {"max_job_memory_gb": 1.0, "alphas": {"num": 11}}),
              "design": with_defaults("design", {"meeg": {"tmin": 0.0, "tmax": 0.5}}),
              "preprocess": with_defaults("preprocess", {"meeg": {"resample": None}})}
    plan = plan_from_config(table, "meg", [("01", "a")], config)  # 51 lags at the recording's 100 Hz
    width = 4096
    assert plan.shards[0].mem_mb == estimate_mb(900, -(-208 // plan.shards[0].n_target_blocks) * 51,
                                                design_width=width, n_alphas=11, n_read_columns=208 * 51)


def test_a_shard_reads_only_its_chunks(tmp_path):
    """With the chunks of every other voxel block deleted from the stores, target block 0 fits as before
    (it never reads them); the last block, whose chunks are gone, does not."""
    rng = np.random.default_rng(5)
    feats = _features(rng, n_layers=3)
    recs = _fmri(rng, feats, subjects=("01", "02"), n_vox=40)
    lazy = _as_stores(recs, tmp_path, chunk_mb=0.001)
    per_chunk = lazy["01"]["s1"].encoding["chunks"][1]
    first, last = _shards(list(recs), 1, 4)[0], _shards(list(recs), 1, 4)[-1]
    enc = solver_settings(inner_folds=3)
    before = fit_shard(feats, lazy, first, modality="fmri", design=design_settings("fmri"), encoding=enc)
    keep = -(-10 // per_chunk)  # block 0 of 4 is voxels 0-9
    removed = 0
    for store in tmp_path.glob("*.zarr"):
        for chunk in (store / "data" / "c" / "0").iterdir():
            if int(chunk.name) >= keep:
                chunk.unlink()
                removed += 1
    assert removed
    lazy = {s: {t: read_zarr(tmp_path / f"{s}_{t}.zarr")["data"] for t in runs} for s, runs in recs.items()}
    after = fit_shard(feats, lazy, first, modality="fmri", design=design_settings("fmri"), encoding=enc)
    for a, b in zip(before.fits, after.fits):
        np.testing.assert_array_equal(a.scores["01"]["r"], b.scores["01"]["r"])
    with pytest.raises(ValueError, match="NaN"):  # deleted chunks read as the store's fill value
        fit_shard(feats, lazy, last, modality="fmri", design=design_settings("fmri"), encoding=enc)
