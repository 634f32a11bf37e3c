"""The unit tests mirror the library, so a reader finds a module's tests in one hop.

``workflow/brainalign/<package>/<module>.py`` is tested in ``tests/unit/<package>/test_<module>.py``
(or ``test_<module>_<topic>.py`` when one file would grow too long); a top-level module
``workflow/brainalign/<module>.py`` in ``tests/unit/test_<module>.py``.  Tests of the project as a whole
(rules, Conda envs, dataset profiles, the schema, the documentation) test no single module: they stay
flat in ``tests/unit/`` under the names listed in :data:`PROJECT_WIDE`.  Every test folder is a package
(an empty ``__init__.py``), so ``tests/unit/io`` imports as ``tests.unit.io`` and never shadows the
standard library's ``io``.  Fixtures shared by one package's tests live in its ``conftest.py``; builders
shared across folders are modules of ``tests/`` imported by package path (``from tests import
synthetic_bids``, ``from tests.qc_runs import bold_run``).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "workflow" / "brainalign"
UNIT = REPO / "tests" / "unit"

# Flat test modules that test the project rather than one library module (name -> what they test).
PROJECT_WIDE = {
    "test_dependencies.py": "pyproject/requirements declare every import; the LICENSE",
    "test_envs.py": "each rule's Conda env lists what its script imports",
    "test_layout.py": "this file: the tests mirror the library",
    "test_profiles.py": "config/datasets/*.yaml profiles against the schema and the library",
    "test_profiles_download.py": "the download rules take each profile's download settings with the schema's defaults",
    "test_readme_snippets.py": "the commands and snippets of README.md",
    "test_rules_analyses.py": "the analysis rules' scripts run on synthetic scores",
    "test_rules_figures_ieeg.py": "figures.smk draws electrodes for iEEG (a scratch Snakefile)",
    "test_preprocess_schema.py": "the schema's preprocess.* blocks equal the preprocess functions' keywords",
}

# Library modules with no test module at their mirrored path yet, each with where it is exercised
# today.  Remove a line when its test module is added (the test below says so); add none for new code.
UNTESTED = {
    "analyses/atlases.py": "named atlases: tests/unit/analyses/test_regions_ieeg.py",
    "brainbench/evaluate.py": "evaluate_model: tests/reliability/test_brainbench.py, the brainbench workflow test",
    "brainbench/figures.py": "tests/workflow/test_brainbench_workflow.py (rule brainbench_figures)",
    "brainbench/loading.py": "tests/workflow/test_brainbench_workflow.py (the scoring and LoRA rules)",
    "demo/eeg.py": "through generate_demo: tests/unit/demo/test_generate.py",
    "demo/fmri.py": "hrf_regressors: tests/unit/demo/test_generate.py",
    "demo/params.py": "resolve_params: tests/unit/demo/test_generate.py",
    "encoding/assemble.py": "assemble_scores, own_channels: tests/unit/encoding/test_pipeline_subjects.py",
    "encoding/collect.py": "tests/unit/encoding/test_pipeline_subjects.py, test_shards.py",
    "encoding/electrodes.py": "tests/unit/encoding/test_pipeline_subjects.py",
    "plotting/sensitivity.py": "plot_power: tests/workflow/test_sensitivity_workflow.py",
}


def _library_modules() -> list[Path]:
    return sorted(p.relative_to(LIB) for p in LIB.rglob("*.py") if "__pycache__" not in p.parts)


def _has_logic(module: Path) -> bool:
    """Whether a module defines a function or class (a package ``__init__`` that only re-exports has none)."""
    tree = ast.parse((LIB / module).read_text())
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for node in tree.body)


def _test_modules(module: Path) -> list[Path]:
    """The test modules at ``module``'s mirrored path: ``test_<module>.py`` and ``test_<module>_*.py``."""
    folder = UNIT / module.parent
    return sorted(folder.glob(f"test_{module.stem}.py")) + sorted(folder.glob(f"test_{module.stem}_*.py"))


def test_every_library_module_has_a_test_module_at_its_mirrored_path():
    missing = [str(m) for m in _library_modules()
               if m.name != "__init__.py" and str(m) not in UNTESTED and not _test_modules(m)]
    assert not missing, (f"no tests/unit/<package>/test_<module>.py for {missing}: add one there "
                         "(the layout: this file's docstring, docs/architecture.md)")


def test_package_inits_hold_no_logic():
    """``__init__.py`` files are exempt from the rule above only while they just re-export names."""
    with_logic = [str(m) for m in _library_modules() if m.name == "__init__.py" and _has_logic(m)]
    assert not with_logic, f"{with_logic} define functions or classes: move them into a tested module"


def test_the_untested_list_names_only_existing_untested_modules():
    modules = {str(m) for m in _library_modules()}
    gone = sorted(set(UNTESTED) - modules)
    assert not gone, f"UNTESTED names modules that no longer exist: {gone}"
    tested = sorted(m for m in UNTESTED if _test_modules(Path(m)))
    assert not tested, f"these modules now have a mirrored test module, remove them from UNTESTED: {tested}"


def test_every_test_module_names_a_library_module():
    """A test file sits in the folder of its package and is named after one of its modules."""
    strays = []
    for path in sorted(UNIT.rglob("test_*.py")):
        rel = path.relative_to(UNIT)
        if rel.parent == Path(".") and rel.name in PROJECT_WIDE:
            continue
        package = LIB / rel.parent
        stem = rel.stem.removeprefix("test_")
        names = {p.stem for p in package.glob("*.py") if p.name != "__init__.py"} if package.is_dir() else set()
        if not any(stem == name or stem.startswith(name + "_") for name in names):
            strays.append(str(rel))
    assert not strays, (f"{strays} name no module of the library package they sit in: rename them "
                        "test_<module>[_<topic>].py, move them, or (project-wide tests) list them in PROJECT_WIDE")


def test_every_test_folder_is_a_package():
    """Empty ``__init__.py`` files make ``tests.unit.io`` a package: it cannot shadow the standard ``io``."""
    folders = [REPO / "tests", UNIT] + sorted(p for p in UNIT.rglob("*") if p.is_dir() and p.name != "__pycache__")
    missing = [str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file()]
    assert not missing, f"add an empty __init__.py to {missing}"
    mirrored = [str(f.relative_to(UNIT)) for f in folders[2:] if not (LIB / f.relative_to(UNIT)).is_dir()]
    assert not mirrored, f"{mirrored} mirror no library package"
