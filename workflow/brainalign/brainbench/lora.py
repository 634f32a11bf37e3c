"""BrainGPT-style LoRA adaptation on a neuroscience corpus, with a leak check against the test set.

Corpus files are plain text (``.txt``: paragraphs separated by blank lines) or JSON Lines
(``.jsonl``: one object per line with a ``text`` field and optionally ``doi``).  Before training, the
corpus is checked against every test case: a DOI of a test case anywhere in the corpus (field or
text), or any run of ``LEAK_NGRAM`` consecutive words shared with a test abstract (either version),
refuses the corpus with :class:`CorpusLeakError` naming the file, the test row and the shared text.

Training follows the paper's recipe at toy scale: the corpus is tokenized, joined with EOS tokens and
cut into blocks of ``max_length`` tokens; LoRA adapters (peft) on the chosen modules are trained with
AdamW and a cosine schedule for ``max_steps`` steps (cycling over the blocks in seeded shuffled
epochs).  Only the adapter is saved (``adapter_model.safetensors`` + ``adapter_config.json``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from brainalign.io.atomic import atomic_directory
from brainalign.progress import progress

from .parsing import TestCase

log = logging.getLogger(__name__)

LEAK_NGRAM = 13  # words; the contamination window of the GPT-3 paper
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")


class CorpusLeakError(ValueError):
    """The training corpus contains (part of) a test case."""


@dataclass(frozen=True)
class Document:
    """One corpus document: where it came from, its text and (optional) DOI."""

    source: str
    text: str
    doi: str | None = None


@dataclass(frozen=True)
class LoraSettings:
    """LoRA and training hyper-parameters (the ``brainbench.lora`` config section).

    ``target_modules`` None lets peft pick its default for the architecture (``q_proj``/``v_proj``
    for Llama-family models such as SmolLM2, ``c_attn`` for GPT-2).
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple[str, ...] | None = None
    max_steps: int = 200
    lr: float = 2e-4
    batch_size: int = 2
    max_length: int = 64
    warmup_steps: int = 10
    weight_decay: float = 0.0
    seed: int = 0

    @classmethod
    def from_config(cls, section: dict) -> "LoraSettings":
        """Build from the config's ``brainbench.lora`` mapping (``enabled``/``corpus`` ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in section.items() if k in known}
        unknown = sorted(set(section) - known - {"enabled", "corpus"})
        if unknown:
            raise ValueError(f"config brainbench.lora: unknown key(s) {unknown}; expected some of {sorted(known)}")
        if kwargs.get("target_modules") is not None:
            kwargs["target_modules"] = tuple(kwargs["target_modules"])
        settings = cls(**kwargs)
        for name in ("rank", "alpha", "max_steps", "batch_size", "max_length"):
            if getattr(settings, name) < 1:
                raise ValueError(f"config brainbench.lora.{name}: must be >= 1, got {getattr(settings, name)}")
        if not 0 <= settings.dropout < 1:
            raise ValueError(f"config brainbench.lora.dropout: must be in [0, 1), got {settings.dropout}")
        if settings.lr <= 0:
            raise ValueError(f"config brainbench.lora.lr: must be > 0, got {settings.lr}")
        return settings


def read_corpus(paths: Sequence[str | os.PathLike]) -> list[Document]:
    """Read corpus files (``.txt`` paragraphs or ``.jsonl`` records with ``text``[, ``doi``]).

    Raises
    ------
    FileNotFoundError
        A missing file (named).
    ValueError
        An unsupported extension, a JSONL line that is not an object with a non-empty ``text``
        (file and line named), or a corpus without any text.
    """
    docs: list[Document] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: corpus file not found")
        if path.suffix == ".txt":
            paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))]
            docs += [Document(str(path), p) for p in paragraphs if p]
        elif path.suffix == ".jsonl":
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}: line {n}: not valid JSON ({err.msg})") from None
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str) or not rec["text"].strip():
                    raise ValueError(f"{path}: line {n}: expected an object with a non-empty 'text' field")
                docs.append(Document(f"{path}:{n}", rec["text"], rec.get("doi")))
        else:
            raise ValueError(f"{path}: corpus files must be .txt or .jsonl, got {path.suffix!r}")
    if not docs:
        raise ValueError(f"corpus {list(map(str, paths))} holds no text")
    return docs


def normalize_doi(doi: str) -> str:
    """Lower-case DOI without resolver prefix (``https://doi.org/``, ``doi:``)."""
    doi = doi.strip().lower()
    return re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def check_leaks(docs: Sequence[Document], cases: Sequence[TestCase], n: int = LEAK_NGRAM) -> None:
    """Refuse a corpus that contains a test case (DOI or a shared run of ``n`` words).

    Raises
    ------
    CorpusLeakError
        Naming the corpus document, the test row and DOI, and the shared text.
    """
    by_doi = {normalize_doi(c.doi): c for c in cases}
    grams: dict[tuple[str, ...], TestCase] = {}
    for c in cases:
        for text in (c.original, c.altered):
            for g in _ngrams(_words(text), n):
                grams.setdefault(g, c)
    doi_pattern = re.compile(r"10\.\d{4,9}/[^\s\"'<>,;]+", re.IGNORECASE)
    for doc in docs:
        found = [doc.doi] if doc.doi else []
        found += doi_pattern.findall(doc.text)
        for doi in found:
            case = by_doi.get(normalize_doi(doi).rstrip(".)"))
            if case is not None:
                raise CorpusLeakError(
                    f"{doc.source}: corpus contains the DOI {doi!r} of test case row {case.row} "
                    f"({case.doi}); remove it before training")
        words = _words(doc.text)
        for i in range(len(words) - n + 1):
            case = grams.get(tuple(words[i:i + n]))
            if case is not None:
                raise CorpusLeakError(
                    f"{doc.source}: corpus shares {n} consecutive words with test case row {case.row} "
                    f"({case.doi}): {' '.join(words[i:i + n])!r}; remove the test abstracts from the corpus")


def token_blocks(tokenizer, docs: Sequence[Document], max_length: int) -> np.ndarray:
    """Tokenize documents, join them with EOS and cut into full blocks of ``max_length`` tokens.

    Returns
    -------
    numpy.ndarray
        ``(n_blocks, max_length)`` int64 token ids (the remainder shorter than a block is dropped).
    """
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for doc in docs:
        stream += tokenizer(doc.text, add_special_tokens=False)["input_ids"]
        if eos is not None:
            stream.append(eos)
    n_blocks = len(stream) // max_length
    if n_blocks == 0:
        raise ValueError(f"corpus has {len(stream)} tokens, fewer than one block of max_length={max_length}")
    return np.asarray(stream[: n_blocks * max_length], dtype=np.int64).reshape(n_blocks, max_length)


def lora_model(model, settings: LoraSettings):
    """Wrap ``model`` with fresh LoRA adapters (its own weights frozen), seeded by ``settings.seed``.

    Raises
    ------
    ValueError
        If ``settings.target_modules`` match no layer of the model.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(settings.seed)
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=list(settings.target_modules) if settings.target_modules else None,
                        task_type="CAUSAL_LM", bias="none")
    model.requires_grad_(False)
    peft_model = get_peft_model(model, config)
    if not any(p.requires_grad for p in peft_model.parameters()):
        raise ValueError(f"LoRA target modules {settings.target_modules} matched no layer of the model")
    return peft_model


def optimiser(params, settings: LoraSettings):
    """AdamW with linear warm-up (at most a tenth of the steps) and cosine decay over ``max_steps``."""
    import torch
    from transformers import get_cosine_schedule_with_warmup

    optimizer = torch.optim.AdamW(list(params), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, min(settings.warmup_steps, settings.max_steps // 10),
                                                settings.max_steps)
    return optimizer, scheduler


def batch_indices(n_blocks: int, settings: LoraSettings) -> Iterator[tuple[np.ndarray, int]]:
    """Block indices of each of ``max_steps`` batches and their epoch: seeded shuffled epochs, cycled.

    Yields
    ------
    idx : numpy.ndarray
        ``min(batch_size, n_blocks)`` block indices.
    epoch : int
        Epoch of the batch's last block (0-based).
    """
    rng = np.random.default_rng(settings.seed)
    order, cursor, epoch = rng.permutation(n_blocks), 0, 0
    for _ in range(settings.max_steps):
        idx = []
        while len(idx) < min(settings.batch_size, n_blocks):
            if cursor == len(order):  # next epoch: reshuffle
                order, cursor, epoch = rng.permutation(n_blocks), 0, epoch + 1
            idx.append(order[cursor])
            cursor += 1
        yield np.asarray(idx), epoch


def train_lora(model, tokenizer, docs: Sequence[Document], settings: LoraSettings):
    """Fine-tune LoRA adapters on the corpus.

    Parameters
    ----------
    model
        Base causal LM (its own weights stay frozen).
    tokenizer
        Its tokenizer.
    docs
        Corpus documents (check them with :func:`check_leaks` first).
    settings
        Hyper-parameters.

    Returns
    -------
    peft_model : peft.PeftModel
        The model with trained adapters (eval mode).
    history : pandas.DataFrame
        One row per step: ``step, epoch, loss, lr``.
    """
    import torch

    blocks = token_blocks(tokenizer, docs, settings.max_length)
    log.info("LoRA corpus: %d documents, %d blocks of %d tokens", len(docs), len(blocks), settings.max_length)
    peft_model = lora_model(model, settings)
    optimizer, scheduler = optimiser([p for p in peft_model.parameters() if p.requires_grad], settings)
    device = next(peft_model.parameters()).device
    peft_model.train()
    history = []
    batches = batch_indices(len(blocks), settings)
    for step in progress(range(1, settings.max_steps + 1), desc="LoRA training", unit="step"):
        idx, epoch = next(batches)
        batch = torch.from_numpy(blocks[idx]).to(device)
        loss = peft_model(input_ids=batch, labels=batch).loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"LoRA training diverged at step {step} (loss {loss.item()}); lower lr")
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        history.append({"step": step, "epoch": epoch, "loss": float(loss.item()),
                        "lr": float(scheduler.get_last_lr()[0])})
        if step % 25 == 0 or step == settings.max_steps:
            log.info("step %d/%d loss %.4f", step, settings.max_steps, history[-1]["loss"])
    peft_model.eval()
    return peft_model, pd.DataFrame(history)


def save_adapter(peft_model, directory: str | os.PathLike) -> Path:
    """Save only the adapter weights (safetensors) and its config into ``directory`` (atomically).

    Provenance (base model hash, settings, corpus) belongs beside the directory, not inside it: the
    directory holds exactly :data:`ADAPTER_FILES`.
    """
    with atomic_directory(directory) as tmp:
        peft_model.save_pretrained(tmp, safe_serialization=True)
        for extra in tmp.iterdir():  # peft also writes a README model card: not part of the adapter
            if extra.name not in ADAPTER_FILES:
                shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
        missing = [f for f in ADAPTER_FILES if not (tmp / f).is_file()]
        if missing:
            raise RuntimeError(f"peft did not write {missing} into {tmp}")
    return Path(directory)


def apply_adapter(model, directory: str | os.PathLike, merge: bool = True):
    """Load a saved adapter onto ``model`` (merged into the weights by default, for fast scoring).

    Raises
    ------
    FileNotFoundError
        If the directory lacks the adapter files.
    """
    from peft import PeftModel

    directory = Path(directory)
    missing = [f for f in ADAPTER_FILES if not (directory / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory}: not a LoRA adapter directory (missing {missing})")
    peft_model = PeftModel.from_pretrained(model, directory)
    adapted = peft_model.merge_and_unload() if merge else peft_model
    adapted.eval()
    return adapted


def settings_dict(settings: LoraSettings) -> dict:
    """Plain-dict form of the settings (for provenance)."""
    out = asdict(settings)
    out["target_modules"] = list(settings.target_modules) if settings.target_modules else None
    return out
