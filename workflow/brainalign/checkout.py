"""The repository checkout a workflow runs from, and the library the rules' environments install.

The rule scripts import ``brainalign`` as an installed package: the ``.venv`` has it editable
(``make venv``), and each rule's Conda environment installs it, editable, in its post-deploy script
(``envs/<env>.post-deploy.sh``: ``pip install --no-deps --editable "$BRAINALIGN_ROOT"``).  Snakemake
copies an env file to ``.snakemake/conda/<hash>.yaml`` before ``conda env create`` runs it, so a
relative path in an env file's ``pip:`` section would resolve against that copy, not the repository;
the checkout's root therefore reaches the post-deploy scripts as the environment variable
``BRAINALIGN_ROOT``, exported by :func:`use_checkout` when the Snakefile is parsed (the scripts run
in child processes of Snakemake and inherit it).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_VARIABLE = "BRAINALIGN_ROOT"


def library_root() -> Path:
    """The folder holding the imported ``brainalign`` package (``<checkout>/workflow`` when editable)."""
    import brainalign

    return Path(brainalign.__file__).resolve().parents[1]


def use_checkout(repo: str | os.PathLike) -> Path:
    """Check that ``brainalign`` is imported from ``repo`` and export ``repo`` as ``BRAINALIGN_ROOT``.

    A workflow parsed from one checkout with the library of another (an editable install of a
    different clone, say) would plan with one version of the code and run another; this stops it at
    parse time instead.

    Parameters
    ----------
    repo
        Root of the repository checkout (the folder holding ``workflow/brainalign``).

    Returns
    -------
    Path
        The resolved checkout root, also set in ``os.environ[ROOT_VARIABLE]``.

    Raises
    ------
    ImportError
        The imported ``brainalign`` is not ``repo``'s ``workflow/brainalign``; the message names both
        and the command that installs this checkout's.
    """
    root = Path(repo).resolve()
    # resolved: a checkout whose workflow/ is a link to another's (a test's work folder) imports the
    # same files, which is what matters
    expected = (root / "workflow").resolve()
    found = library_root()
    if found != expected:
        raise ImportError(
            f"brainalign is imported from {found / 'brainalign'}, but this workflow is {root}: expected "
            f"{expected / 'brainalign'}. Install this checkout's library (pip install --no-deps -e {root}) "
            f"in the environment running Snakemake, or put {expected} first on PYTHONPATH.")
    os.environ[ROOT_VARIABLE] = str(root)
    return root
