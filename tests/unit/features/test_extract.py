"""Feature extraction: each context mode (fixed, strided, story) against fresh forward passes, the output
contract, perplexity (brainalign.features.extract)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from brainalign.features import align_words, extract_features, story_perplexity
from brainalign.models import from_objects
from brainalign.models.tiny import tiny_model, tiny_tokenizer


def fresh_pass(loaded, ids: np.ndarray) -> np.ndarray:
    """All layers' hidden states of one fresh forward pass: (n_layers + 1, len(ids), H)."""
    with torch.no_grad():
        out = loaded.model(input_ids=torch.as_tensor(ids)[None], output_hidden_states=True)
    return np.stack([h[0].numpy() for h in out.hidden_states])


def pool(hs: np.ndarray, positions: np.ndarray, pooling: str) -> np.ndarray:
    return hs[:, positions[-1]] if pooling == "last" else hs[:, positions].mean(axis=1)


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("context", [0, 1, 4, 17])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_fixed_context_equals_fresh_pass_per_word(tiny, words, context, pooling):
    ds = extract_features(tiny, words, mode="fixed", context=context, pooling=pooling, batch_size=5)
    al = align_words(tiny.tokenizer, words)
    for w in range(al.n_words):
        s, e = al.word_start[w], al.word_stop[w]
        a = max(0, s - context)
        hs = fresh_pass(tiny, al.input_ids[a:e])
        expect = pool(hs, np.arange(s - a, e - a), pooling)
        np.testing.assert_allclose(ds.hidden.values[w], expect, atol=1e-5, rtol=0)
    assert ds.attrs["context_mode"] == "fixed" and ds.attrs["context_size"] == context


@pytest.mark.parametrize("length,stride", [(16, 8), (20, 5), (12, 12), (40, 39)])
def test_strided_equals_fresh_pass_in_best_window(tiny, words, length, stride):
    ds = extract_features(tiny, words, mode="strided", length=length, stride=stride, batch_size=3)
    al = align_words(tiny.tokenizer, words)
    T = len(al.input_ids)
    regular = []
    k = 0
    while True:                                   # windows [kS, kS + L) until one reaches the end
        regular.append((k * stride, min(k * stride + length, T)))
        if k * stride + length >= T:
            break
        k += 1
    for w in range(al.n_words):
        s, e = al.word_start[w], al.word_stop[w]
        containing = [(a, b) for a, b in regular if a <= s and e <= b]
        a, b = containing[0] if containing else (max(0, e - length), e)
        seen = s - a
        assert containing == [] or seen >= min(s, length - stride - (e - s) + 1)
        hs = fresh_pass(tiny, al.input_ids[a:b])
        np.testing.assert_allclose(ds.hidden.values[w], hs[:, e - 1 - a], atol=1e-5, rtol=0)


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_story_chunked_cache_equals_single_full_pass(tiny, words, chunk):
    ds = extract_features(tiny, words, mode="story", length=chunk, pooling="mean")
    al = align_words(tiny.tokenizer, words)
    hs = fresh_pass(tiny, al.input_ids)
    expect = np.stack([pool(hs, np.arange(s, e), "mean") for s, e in zip(al.word_start, al.word_stop)])
    np.testing.assert_allclose(ds.hidden.values, expect, atol=1e-4, rtol=0)
    # perplexity: exp of the mean next-token cross-entropy of the full pass
    with torch.no_grad():
        logits = tiny.model(input_ids=torch.as_tensor(al.input_ids)[None]).logits[0]
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.as_tensor(al.input_ids[1:]))
    assert float(ds.perplexity) == pytest.approx(float(torch.exp(nll)), rel=1e-5)


def test_strided_perplexity_matches_hf_recipe(tiny, words):
    al = align_words(tiny.tokenizer, words)
    length, stride = 24, 8
    ds = extract_features(tiny, words, mode="strided", length=length, stride=stride, layers=[0])
    # Each token t >= 1 is predicted in the earliest window holding t - 1.
    T = len(al.input_ids)
    nlls = []
    for t in range(1, T):
        k = max(0, -(-(t - length) // stride))
        a = k * stride
        with torch.no_grad():
            logits = tiny.model(input_ids=torch.as_tensor(al.input_ids[a:t + 1])[None]).logits[0]
        nlls.append(float(torch.nn.functional.cross_entropy(logits[-2:-1], torch.as_tensor(al.input_ids[t:t + 1]))))
    assert float(ds.perplexity) == pytest.approx(float(np.exp(np.mean(nlls))), rel=1e-5)


def test_story_beyond_max_length_falls_back_to_strided(words):
    small = tiny_model(n_positions=32)
    with pytest.warns(UserWarning, match="falling back to 'strided'"):
        ds = extract_features(small, words, mode="story", length=1024, stride=16)
    ref = extract_features(small, words, mode="strided", length=32, stride=16)
    np.testing.assert_array_equal(ds.hidden.values, ref.hidden.values)
    assert ds.attrs["context_mode"] == "strided" and ds.attrs["context_mode_requested"] == "story"
    with pytest.raises(ValueError, match="maximum length"):
        extract_features(small, words, mode="fixed", context=40)


def test_prefix_token_is_prepended_and_not_counted(words):
    from tokenizers.processors import TemplateProcessing

    base = tiny_model()
    tok = tiny_tokenizer()
    tok.add_special_tokens({"bos_token": "<s>"})
    tok._tokenizer.post_processor = TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.bos_token_id)])
    base.model.resize_token_embeddings(len(tok))
    loaded = from_objects(base.model, tok)
    al = align_words(tok, words)
    assert al.prefix_ids == (tok.bos_token_id,)
    ds = extract_features(loaded, words, mode="fixed", context=3, layers=[0, 2])
    w = 10
    s, e = al.word_start[w], al.word_stop[w]
    hs = fresh_pass(loaded, np.r_[tok.bos_token_id, al.input_ids[s - 3:e]])
    np.testing.assert_allclose(ds.hidden.values[w], hs[[0, 2], -1], atol=1e-5)
    story = extract_features(loaded, words, mode="story", length=9)
    full = fresh_pass(loaded, np.r_[tok.bos_token_id, al.input_ids])
    np.testing.assert_allclose(story.hidden.values, full[:, al.word_stop].transpose(1, 0, 2), atol=1e-4)
    assert story.attrs["n_prefix_tokens"] == 1


def test_batch_size_does_not_change_results(tiny, words):
    a = extract_features(tiny, words, mode="fixed", context=6, batch_size=1)
    b = extract_features(tiny, words, mode="fixed", context=6, batch_size=16)
    np.testing.assert_allclose(a.hidden.values, b.hidden.values, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- contract


def test_output_contract_and_zarr_roundtrip(tiny, words, tmp_path):
    from brainalign.features import zarr_encoding
    from brainalign.io.store import read_zarr, write_zarr

    ds = extract_features(tiny, words, mode="fixed", context=8, progress=True)
    n = len(words)
    assert ds.hidden.dims == ("word", "layer", "feature")
    assert ds.hidden.dtype == np.float32 and ds.hidden.shape == (n, 4, 32)
    assert ds.layer.values.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(ds.relative_depth.values, [0, 1 / 3, 2 / 3, 1])
    assert ds.text.values.tolist() == words.word.tolist()
    np.testing.assert_array_equal(ds.onset.values, words.onset.values)
    assert str(ds.story.values) == "s1"
    assert (ds.n_tokens.values >= 1).all() and np.isfinite(float(ds.perplexity))
    for key in ("model_id", "model_source", "weights_sha256", "random_init", "seed", "context_mode",
                "context_size", "pooling", "dtype", "library_versions", "config_hash"):
        assert key in ds.attrs, key
    path = write_zarr(ds, tmp_path / "s1.zarr", encoding=zarr_encoding(ds))
    back = read_zarr(path)
    assert back.hidden.encoding["chunks"] == (n, 1, 32)        # one layer per chunk
    np.testing.assert_array_equal(back.hidden.values, ds.hidden.values)
    xr.testing.assert_identical(back.load().drop_encoding(), ds.drop_encoding())


def test_layer_subset_and_bad_arguments(tiny, words):
    ds = extract_features(tiny, words, mode="story", layers=[3, 1])
    full = extract_features(tiny, words, mode="story")
    np.testing.assert_array_equal(ds.hidden.sel(layer=1).values, full.hidden.sel(layer=1).values)
    with pytest.raises(ValueError, match="layers"):
        extract_features(tiny, words, layers=[4])
    with pytest.raises(ValueError, match="context mode"):
        extract_features(tiny, words, mode="window")
    with pytest.raises(ValueError, match="pooling"):
        extract_features(tiny, words, pooling="max")
    two = pd.concat([words, words.assign(story="s2")])
    with pytest.raises(ValueError, match="several stories"):
        extract_features(tiny, two)


def test_story_perplexity_function(tiny, words):
    ppl = story_perplexity(tiny, words, length=5)
    assert ppl == pytest.approx(float(extract_features(tiny, words, mode="story").perplexity), rel=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ppl > 1
