"""Headless figure creation and atomic saving (PNG, SVG, PDF by suffix)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

# No display on clusters or in CI: select Agg before pyplot is imported anywhere in this process.
matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402

FORMATS = (".png", ".svg", ".pdf")


def new_figure(width: float = 6.0, height: float = 4.0, **kwargs) -> plt.Figure:
    """A matplotlib figure not registered with any display."""
    return plt.figure(figsize=(width, height), **kwargs)


def umask_mode() -> int:
    """Permissions a plainly created file would get (mkstemp's are 0600: unreadable to the group)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Save ``fig`` to ``path`` atomically (format from the suffix) and close it.

    Raises
    ------
    ValueError
        If the suffix is not one of ``.png``, ``.svg``, ``.pdf``.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        plt.close(fig)
        raise ValueError(f"{path}: figure format must be one of {FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name does not end in the figure's suffix, so that what a killed job leaves
    # behind never matches '*.png' (matplotlib is told the format instead).
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format=path.suffix.lower()[1:], dpi=dpi, bbox_inches="tight", facecolor="white")
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return path


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    """Rows and columns of a panel grid holding ``n`` panels."""
    cols = max(1, min(n, max_cols))
    return (n + cols - 1) // cols, cols
