"""Fixtures shared by the model tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh model cache (``BRAINALIGN_CACHE``) for one test, so no test sees another's files."""
    monkeypatch.setenv("BRAINALIGN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
