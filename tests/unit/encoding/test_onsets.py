"""Per-subject word onsets (MEG-MASC, issue #8): reading, the same-words check, and encode_dataset
fitting each subject on its own onsets (jointly for MEG, grouped by onsets for fMRI)."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from tests.synthetic_features import random_features

from brainalign.design import apply_operator, fmri_operator
from brainalign.encoding import check_same_words, encode_dataset, read_subject_onsets, subject_onsets
from brainalign.encoding import pipeline
from brainalign.io.timings import write_word_table
from brainalign.encoding.settings import design_settings, solver_settings

TR = 1.5
SMALL = solver_settings(alphas=np.logspace(-1, 5, 7).tolist(), inner_folds=3, ceiling="none")
SFREQ = 50.0


def _features(rng, n_layers=3, p=8, n_words=200, stories=("s1", "s2")):
    return random_features(rng, n_layers, p, n_words, stories, text=True)


def _shifted(onset: np.ndarray) -> np.ndarray:
    """Another subject's clock: the story starts 3 s later and a 2 s gap splits it in two sound files."""
    return onset + 3.0 + 2.0 * (np.arange(onset.size) >= onset.size // 2)


def _meg(rng, feats, onsets):
    """time x channel recording with channel 0 answering layer 1 0.2 s after each word of ``onsets``."""
    recs = {}
    for s, f in feats.items():
        n = int((onsets[s][-1] + 2) * SFREQ)
        data = rng.standard_normal((n, 4))
        idx = np.rint(onsets[s] * SFREQ).astype(int) + 10
        h = f.hidden.values[:, 1, 0]
        data[idx, 0] += 2.0 * (h - h.mean()) / h.std()
        recs[s] = xr.DataArray(data.astype(np.float32), dims=("time", "channel"), coords={
            "time": np.arange(n) / SFREQ, "channel": [f"MEG{i}" for i in range(4)]}, attrs={"sfreq": SFREQ})
    return recs


def _table(feats, story, onset, words=None):
    words = [str(w) for w in feats[story].text.values] if words is None else words
    return pd.DataFrame({"story": story, "word_index": np.arange(len(words)), "word": words,
                         "onset": onset[:len(words)], "offset": onset[:len(words)] + 0.2, "flags": ""})


@pytest.fixture()
def spy_groups(monkeypatch):
    """Record the subject groups encode_dataset fits jointly."""
    seen = []
    real = pipeline._subject_groups

    def spy(keys):
        groups = real(keys)
        seen.append(groups)
        return groups

    monkeypatch.setattr(pipeline, "_subject_groups", spy)
    return seen


def test_meg_per_subject_onsets_fitted_jointly_and_equal_to_a_separate_fit(spy_groups):
    rng = np.random.default_rng(0)
    feats = _features(rng)
    own = {"01": {s: f.onset.values for s, f in feats.items()},
           "02": {s: _shifted(f.onset.values) for s, f in feats.items()}}
    recs = {sub: _meg(rng, feats, own[sub]) for sub in own}
    onsets = {"02": {s: subject_onsets(_table(feats, s, own["02"][s]), subject="02", story=s)
                     for s in feats}}
    design = design_settings("eeg", tmin=0.0, tmax=0.4)
    joint = encode_dataset(feats, recs, modality="meg", design=design, encoding=SMALL, onsets=onsets)
    # one design for both subjects: the same words keep a complete window on either clock
    assert spy_groups[-1] == [["01", "02"]]
    alone = encode_dataset(feats, {"02": recs["02"]}, modality="meg", design=design, encoding=SMALL,
                           onsets={"02": {s: own["02"][s] for s in feats}})  # plain arrays work too
    np.testing.assert_allclose(joint.r.sel(subject="02").values, alone.r.sel(subject="02").values, atol=1e-5)
    np.testing.assert_array_equal(joint.alpha.sel(subject="02").values, alone.alpha.sel(subject="02").values)
    peak = joint.r.sel(channel="MEG0", layer=1, lag=0.2)
    assert float(peak.sel(subject="02")) > 0.6 and float(peak.sel(subject="01")) > 0.6
    # subject 01's onsets (the features') for everyone: subject 02's response is missed
    shared = encode_dataset(feats, recs, modality="meg", design=design, encoding=SMALL)
    assert float(shared.r.sel(subject="02", channel="MEG0", layer=1, lag=0.2)) < 0.2
    np.testing.assert_allclose(shared.r.sel(subject="01").values, joint.r.sel(subject="01").values, atol=1e-5)


def test_fmri_subjects_with_different_onsets_are_not_grouped(spy_groups):
    rng = np.random.default_rng(1)
    feats = _features(rng, n_layers=2, p=10, n_words=150)
    clock = {"01": {s: f.onset.values for s, f in feats.items()},
             "02": {s: _shifted(f.onset.values) for s, f in feats.items()},
             "03": {s: f.onset.values.copy() for s, f in feats.items()}}
    recs = {}
    for sub, on in clock.items():
        recs[sub] = {}
        for s, f in feats.items():
            # the same volumes for every subject, long enough for the later clock
            times = (np.arange(2, int(_shifted(f.onset.values)[-1] / TR) + 8) + 0.5) * TR
            sig = apply_operator(fmri_operator(on[s], times, TR), f.hidden.sel(layer=1)).values
            data = rng.standard_normal((times.size, 6))
            data[:, :3] += 1.5 * sig[:, :3] / sig[:, :3].std(0)
            recs[sub][s] = xr.DataArray(data.astype(np.float32), dims=("time", "voxel"),
                                        coords={"time": times}, attrs={"tr": TR})
    onsets = {sub: {s: subject_onsets(_table(feats, s, clock[sub][s]), subject=sub, story=s) for s in feats}
              for sub in ("02", "03")}
    design = design_settings("fmri", method="hrf")
    ds = encode_dataset(feats, recs, modality="fmri", design=design, encoding=dict(SMALL, ceiling="intersubject"),
                        onsets=onsets)
    assert sorted(sorted(g) for g in spy_groups[-1]) == [["01", "03"], ["02"]]
    alone = encode_dataset(feats, {"02": recs["02"]}, modality="fmri", design=design, encoding=SMALL,
                           onsets={"02": onsets["02"]})
    np.testing.assert_allclose(ds.r.sel(subject="02").values, alone.r.sel(subject="02").values, atol=1e-5)
    assert float(ds.r.sel(subject="02", layer=1, voxel=[0, 1, 2]).mean()) > 0.3
    # a subject alone in its group has no inter-subject ceiling; the others do
    assert np.isnan(ds.ceiling.sel(subject="02")).all() and np.isfinite(ds.ceiling.sel(subject="01")).all()
    wrong = encode_dataset(feats, recs, modality="fmri", design=design, encoding=SMALL)
    assert float(wrong.r.sel(subject="02", layer=1, voxel=[0, 1, 2]).mean()) < \
        float(ds.r.sel(subject="02", layer=1, voxel=[0, 1, 2]).mean()) - 0.1


def test_mismatched_words_name_file_subject_story_index_and_words(tmp_path):
    rng = np.random.default_rng(2)
    feats = _features(rng, n_words=120)
    recs = {"01": _meg(rng, feats, {s: f.onset.values for s, f in feats.items()})}
    words = [str(w) for w in feats["s2"].text.values]
    words[7] = "oops"
    path = tmp_path / "words" / "s2" / "sub-01.tsv"
    write_word_table(_table(feats, "s2", feats["s2"].onset.values, words), path)
    write_word_table(_table(feats, "s1", feats["s1"].onset.values), tmp_path / "words" / "s1" / "sub-01.tsv")
    onsets = read_subject_onsets([("01", "s1"), ("01", "s2")],
                                 [tmp_path / "words" / "s1" / "sub-01.tsv", path])
    assert onsets["01"]["s2"].attrs["source"] == str(path)
    with pytest.raises(ValueError, match=r"sub-01\.tsv: subject 01, story s2.*word 7: story 'w7', subject 'oops'"):
        encode_dataset(feats, recs, modality="meg", design=design_settings("eeg", tmax=0.2), encoding=SMALL, onsets=onsets)
    # a table that stops early: the count differs, the first missing word is named
    short = {"01": {"s1": subject_onsets(_table(feats, "s1", feats["s1"].onset.values,
                                                 [str(w) for w in feats["s1"].text.values][:100]),
                                         subject="01", story="s1", source="short.tsv")}}
    with pytest.raises(ValueError, match=r"short\.tsv: subject 01, story s1: .*100 vs 120.*word 100: "
                                         r"story 'w100', subject <end of table>"):
        encode_dataset(feats, recs, modality="meg", design=design_settings("eeg", tmax=0.2), encoding=SMALL, onsets=short)
    with pytest.raises(ValueError, match="subject 01, story s1: 99 onsets for the story's 120 words"):
        encode_dataset(feats, recs, modality="meg", design=design_settings("eeg", tmax=0.2), encoding=SMALL,
                       onsets={"01": {"s1": feats["s1"].onset.values[:99]}})
    with pytest.raises(ValueError, match=r"onsets given for subjects \['09'\]"):
        encode_dataset(feats, recs, modality="meg", design=design_settings("eeg", tmax=0.2), encoding=SMALL,
                       onsets={"09": {"s1": feats["s1"].onset.values}})
    with pytest.raises(ValueError, match=r"stories \['s9'\]"):
        encode_dataset(feats, recs, modality="meg", design=design_settings("eeg", tmax=0.2), encoding=SMALL,
                       onsets={"01": {"s9": feats["s1"].onset.values}})


def test_check_same_words_and_read_subject_onsets_edge_cases(tmp_path):
    check_same_words(["tara", "went"], ["tara", "went"], subject="01", story="0")
    with pytest.raises(ValueError, match=r"f\.tsv: subject 01, story 0: .*word 1: story 'went', subject 'ran'"):
        check_same_words(["tara", "went"], ["tara", "ran"], subject="01", story="0", source="f.tsv")
    with pytest.raises(ValueError, match=r"word 2: story <end of story>, subject 'home'"):
        check_same_words(["tara", "went"], ["tara", "went", "home"], subject="01", story="0")
    assert read_subject_onsets([("01", "0")], []) is None
    with pytest.raises(ValueError, match="one per run"):
        read_subject_onsets([("01", "0"), ("02", "0")], [tmp_path / "a.tsv"])
