"""Checks on written figures, for the plotting and QC tests.  Importable from every test folder as
``tests.figure_checks`` (``tests/`` is a package and pytest puts the repository root on ``sys.path``)."""

from __future__ import annotations

from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path: Path) -> bool:
    """Whether ``path`` is a PNG with something drawn in it (an empty canvas compresses below 5 kB)."""
    data = Path(path).read_bytes()
    return data[:8] == PNG and len(data) > 5000
