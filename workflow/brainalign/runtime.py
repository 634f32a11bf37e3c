"""Helpers shared by the thin Snakemake scripts: logging, provenance and config hashing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

_PROVENANCE_PACKAGES = ("brainalign", "numpy", "scipy", "xarray", "zarr", "torch", "transformers",
                        "mne", "nilearn", "himalaya", "snakemake")


def setup_logging(log_path: str | os.PathLike | None, name: str = "brainalign") -> logging.Logger:
    """Send the library's log records (and warnings) to the rule's log file and to stderr.

    Parameters
    ----------
    log_path
        The rule's ``log:`` file, or None for stderr only.
    name
        Logger name whose records are captured.
    """
    logging.captureWarnings(True)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Snakemake runs a rule's script in a process of its own: an exception that escapes it would print its
    # traceback to the terminal only. Route it through the handlers so the job's log file holds it too.
    sys.excepthook = _log_uncaught
    return logging.getLogger(name)


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    # the traceback's last line carries the message: the record's own text does not repeat it
    logging.getLogger("brainalign").critical("the job failed with an uncaught exception",
                                             exc_info=(exc_type, exc, tb))


def config_hash(obj: Any) -> str:
    """Stable sha256 (first 16 hex digits) of a JSON-serialisable config fragment."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def package_versions(packages: Iterable[str] = _PROVENANCE_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the numbers (absent ones are skipped)."""
    versions = {"python": platform.python_version()}
    for pkg in packages:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance(config_fragment: Any, **extra: Any) -> dict[str, Any]:
    """Provenance attributes for an output: config hash, package versions and anything extra."""
    attrs = {"config_hash": config_hash(config_fragment),
             "package_versions": json.dumps(package_versions(), sort_keys=True)}
    attrs.update(extra)
    return attrs
