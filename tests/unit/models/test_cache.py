"""The model cache: file digests recorded and refreshed, cached folders written atomically
(brainalign.models.cache)."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from brainalign.models import cache_dir, file_sha256
from brainalign.models import cache as cache_mod


def test_file_sha256_is_recorded_and_refreshed(private_cache, tmp_path, monkeypatch):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"abc" * 1000)
    assert file_sha256(f) == hashlib.sha256(b"abc" * 1000).hexdigest()
    calls = []
    real = cache_mod.sha256_file
    monkeypatch.setattr(cache_mod, "sha256_file", lambda p: calls.append(p) or real(p))
    file_sha256(f)
    assert calls == []                                  # size + mtime unchanged: recorded value
    time.sleep(0.01)
    f.write_bytes(b"abd" * 1000)
    assert file_sha256(f) == hashlib.sha256(b"abd" * 1000).hexdigest() and len(calls) == 1


def test_cached_dir_is_atomic_and_rebuilt_when_corrupt(private_cache):
    builds = []

    def build(out):
        builds.append(out)
        (out / "model.safetensors").write_bytes(b"x" * 100)
        return {"note": "test"}

    path = cache_mod.build_cached_dir("key", build)
    assert path == cache_dir() / "models" / "key" and len(builds) == 1
    assert json.loads((path / "COMPLETE.json").read_text())["files"] == {"model.safetensors": 100}
    assert cache_mod.build_cached_dir("key", build) == path and len(builds) == 1     # reused
    (path / "model.safetensors").write_bytes(b"x" * 50)                               # truncated
    cache_mod.build_cached_dir("key", build)
    assert len(builds) == 2 and (path / "model.safetensors").stat().st_size == 100

    def failing(out):
        (out / "partial").write_bytes(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        cache_mod.build_cached_dir("other", failing)
    assert not (cache_dir() / "models" / "other").exists()
    assert [p.name for p in (cache_dir() / "models").iterdir()] == ["key"]          # no temp left
