"""On-disk cache: file checksums and dequantised model weights.

Layout under :func:`cache_dir` (``$BRAINALIGN_CACHE``, default ``~/.cache/brainalign``)::

    sha256/<hash of the absolute path>.json   {path, size, mtime_ns, sha256} of a hashed file
    models/<key>/                              config.json, model.safetensors, tokenizer files,
                                               COMPLETE.json (written last: file names and sizes)
    gguf/<package>/<file>.gguf                 GGUF files assembled from chunk packages

A model directory is written into a temporary sibling and renamed into place, and a directory is
trusted only when ``COMPLETE.json`` exists and every file it lists has the recorded size; anything
else is deleted and rebuilt.  Hashes of large files are recomputed only when the file's size or
modification time changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from brainalign.io.atomic import atomic_write_text

COMPLETE = "COMPLETE.json"
_BLOCK = 1 << 22


def cache_dir() -> Path:
    """Root of brainalign's cache (``$BRAINALIGN_CACHE`` or ``~/.cache/brainalign``)."""
    root = os.environ.get("BRAINALIGN_CACHE") or Path.home() / ".cache" / "brainalign"
    return Path(root).expanduser()


def sha256_file(path: str | os.PathLike) -> str:
    """Stream-hash a file (4 MiB blocks; never reads it whole into memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of ``path``, reusing a recorded value while size and mtime are unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    record = cache_dir() / "sha256" / (hashlib.sha256(str(path).encode()).hexdigest()[:32] + ".json")
    try:
        saved = json.loads(record.read_text())
        if saved["path"] == str(path) and saved["size"] == stat.st_size and \
                saved["mtime_ns"] == stat.st_mtime_ns:
            return saved["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sha = sha256_file(path)
    atomic_write_text(record, json.dumps(
        {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}))
    return sha


def is_complete(directory: Path) -> bool:
    """True if ``directory`` holds a finished cache entry (marker present, sizes match)."""
    marker = directory / COMPLETE
    try:
        listing = json.loads(marker.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for name, size in listing.items():
        file = directory / name
        if not file.is_file() or file.stat().st_size != size:
            return False
    return True


def build_cached_dir(key: str, build: Callable[[Path], dict | None], *, kind: str = "models") -> Path:
    """Return ``cache_dir()/kind/key``, building it with ``build(tmpdir)`` when absent or broken.

    Parameters
    ----------
    key
        Directory name (e.g. the sha256 of the source weights).
    build
        Called with an empty temporary directory to fill; may return extra metadata stored in the
        completion marker.
    kind
        Subdirectory of the cache.
    """
    final = cache_dir() / kind / key
    if is_complete(final):
        return final
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)  # half-written or corrupt: rebuild
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.tmp-", dir=final.parent))
    try:
        meta = build(tmp) or {}
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / COMPLETE).write_text(json.dumps({"files": files, **meta}, indent=1))
        try:
            os.replace(tmp, final)
        except OSError:
            # Another process finished the same entry first; keep theirs if it is complete.
            if not is_complete(final):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def invalidate(directory: Path) -> None:
    """Remove a cache entry found unreadable so that the next load rebuilds it."""
    shutil.rmtree(directory, ignore_errors=True)
