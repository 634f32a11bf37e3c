"""LoRA fine-tuning with a next-token loss plus (optionally) a word-level forecast loss.

The text (the stories' words, or corpus documents split on white space) is tokenised word-aligned
(:func:`brainalign.features.alignment.align_words`), the documents are joined with EOS and cut into
blocks of ``max_length`` tokens that overlap by half (so that most word pairs ``d`` apart share a
block).  For a forecast objective, at each step the frozen base model (the same network with its
adapters disabled) gives the representation at layer ``k`` of every word's last token; a linear
head maps the fine-tuned model's own layer-``k`` state of word ``t`` to the base model's state of
word ``t + d``; both sides are z-scored per feature with statistics of the base model's layer ``k`` on
the training blocks, so that the few high-magnitude residual dimensions dominate neither the head's
input nor the loss.  Words of different
documents are never paired.  The head serves the objective only; the saved model is the base model
with the adapters merged into its weights, in a directory that ``brainalign.models.load_model``
reads as a ``source: local`` model.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from brainalign.brainbench.lora import LoraSettings, batch_indices, lora_model, optimiser, settings_dict
from brainalign.features.alignment import align_words
from brainalign.io.atomic import atomic_directory
from brainalign.progress import progress

from .objectives import Objective

log = logging.getLogger(__name__)

#: Blocks of the base model's forward passes that estimate the target's per-feature mean and sd.
STAT_BLOCKS = 32


@dataclass(frozen=True)
class Blocks:
    """Training blocks and where the words end in them.

    Attributes
    ----------
    ids
        ``(n_blocks, max_length)`` token ids.
    ends
        Per block, the positions of the words' last tokens (ascending).
    words
        Per block, the global index of each of those words (consecutive within a document).
    docs
        Per block, the document index of each of those words.
    """

    ids: np.ndarray
    ends: list[np.ndarray]
    words: list[np.ndarray]
    docs: list[np.ndarray]

    def pairs(self, block: int, distance: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions (source, target) of the word pairs ``distance`` apart inside one block."""
        ends, words, docs = self.ends[block], self.words[block], self.docs[block]
        if distance < 1 or len(ends) <= distance:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        ok = (words[distance:] - words[:-distance] == distance) & (docs[distance:] == docs[:-distance])
        return ends[:-distance][ok], ends[distance:][ok]


def make_blocks(tokenizer, documents: Sequence[Sequence[str]], max_length: int) -> Blocks:
    """Tokenise documents (lists of words) word-aligned and cut them into half-overlapping blocks.

    Raises
    ------
    ValueError
        No document, or fewer tokens than one block.
    """
    if not documents:
        raise ValueError("fine-tuning text: no document")
    eos = tokenizer.eos_token_id
    stream, ends, word_ids, doc_ids, offset, n_words = [], [], [], [], 0, 0
    for d, words in enumerate(documents):
        al = align_words(tokenizer, list(words))
        stream.append(al.input_ids)
        ends.append(offset + al.word_stop - 1)
        word_ids.append(n_words + np.arange(len(al.word_stop)))
        doc_ids.append(np.full(len(al.word_stop), d))
        offset += len(al.input_ids)
        n_words += len(al.word_stop)
        if eos is not None:
            stream.append(np.asarray([eos], dtype=np.int64))
            offset += 1
    ids = np.concatenate(stream).astype(np.int64)
    ends_all, words_all, docs_all = map(np.concatenate, (ends, word_ids, doc_ids))
    if len(ids) < max_length:
        raise ValueError(f"fine-tuning text has {len(ids)} tokens, fewer than one block of max_length={max_length}")
    step = max(1, max_length // 2)
    starts = np.arange(0, len(ids) - max_length + 1, step)
    blocks = np.stack([ids[s:s + max_length] for s in starts])
    sel = [(ends_all >= s) & (ends_all < s + max_length) for s in starts]
    return Blocks(ids=blocks, ends=[ends_all[m] - s for m, s in zip(sel, starts)],
                  words=[words_all[m] for m in sel], docs=[docs_all[m] for m in sel])


def training_documents(word_tables: Sequence[str | os.PathLike] = (),
                       corpus: Sequence[str | os.PathLike] = ()) -> list[list[str]]:
    """The training text, one list of words per document.

    ``corpus`` files (read by :func:`brainalign.brainbench.lora.read_corpus`, split on white space)
    when given, else the ``word`` column of each story's word table.

    Raises
    ------
    ValueError
        Neither given.
    """
    if corpus:
        from brainalign.brainbench.lora import read_corpus

        return [doc.text.split() for doc in read_corpus(list(corpus))]
    if not word_tables:
        raise ValueError("fine-tuning text: give word tables or corpus files")
    from brainalign.io.timings import read_word_table

    return [[str(w) for w in read_word_table(path)["word"]] for path in word_tables]


def _base_states(peft_model, batch, layer: int):
    """Layer ``layer`` of the frozen base model (adapters disabled), without gradients."""
    import torch

    with torch.no_grad(), peft_model.disable_adapter():
        return peft_model(input_ids=batch, output_hidden_states=True).hidden_states[layer]


def target_stats(peft_model, blocks: Blocks, layer: int, batch_size: int) -> tuple:
    """Per-feature mean and sd of the base model's layer-``layer`` states at word ends (first blocks)."""
    import torch

    device = next(peft_model.parameters()).device
    rows = []
    n = min(len(blocks.ids), STAT_BLOCKS)
    for start in range(0, n, batch_size):
        idx = range(start, min(n, start + batch_size))
        states = _base_states(peft_model, torch.from_numpy(blocks.ids[list(idx)]).to(device), layer)
        rows += [states[i, torch.from_numpy(blocks.ends[b]).to(device)] for i, b in enumerate(idx)]
    values = torch.cat(rows).float()
    return values.mean(0), values.std(0).clamp_min(1e-6)


def _forecast_loss(peft_model, head, batch, out, blocks: Blocks, idx, objective: Objective, stats):
    """Mean squared error of the head's forecast of the base model's z-scored future states (None if no pair)."""
    import torch

    target_states = _base_states(peft_model, batch, objective.layer)
    own = out.hidden_states[objective.layer]
    mean, sd = stats
    preds, targets = [], []
    for i, b in enumerate(idx):
        src, tgt = blocks.pairs(int(b), objective.distance)
        if len(src):
            # the head reads the present state z-scored with the same statistics: unscaled, a deep layer's few
            # high-magnitude dimensions made the forecast error 62 at step 25 on the demo (SmolLM2 layer 19) and
            # its gradient raised the language-modelling loss from 3.6 to 4.9 by step 50
            preds.append(head((own[i, torch.from_numpy(src).to(batch.device)].float() - mean) / sd))
            targets.append(target_states[i, torch.from_numpy(tgt).to(batch.device)])
    if not preds:
        return None
    return torch.mean((torch.cat(preds) - (torch.cat(targets).float() - mean) / sd) ** 2)


def finetune(model, tokenizer, documents: Sequence[Sequence[str]], objective: Objective,
             settings: LoraSettings):
    """Fine-tune LoRA adapters with ``objective``.

    Parameters
    ----------
    model
        Base causal LM (its weights stay frozen; the adapters learn).
    tokenizer
        Its fast tokenizer.
    documents
        Training text, one list of words per document (a story).
    objective
        Next token only, or next token + forecast (:class:`Objective`).
    settings
        LoRA and optimiser settings (``max_steps``, ``lr``, ``batch_size``, ``max_length``, ...).

    Returns
    -------
    peft_model : peft.PeftModel
        The model with trained adapters (eval mode).
    history : pandas.DataFrame
        One row per step: ``step, epoch, loss, lm_loss, forecast_loss, lr``.
    """
    import torch

    blocks = make_blocks(tokenizer, documents, settings.max_length)
    log.info("fine-tuning %s: %d documents, %d blocks of %d tokens", objective.name, len(documents),
             len(blocks.ids), settings.max_length)
    peft_model = lora_model(model, settings)
    device = next(peft_model.parameters()).device
    params = [p for p in peft_model.parameters() if p.requires_grad]
    head = stats = None
    if objective.forecasts:
        hidden = int(peft_model.config.hidden_size)
        n_layers = int(peft_model.config.num_hidden_layers)
        if not 0 <= objective.layer <= n_layers:
            raise ValueError(f"forecast layer {objective.layer} outside the model's layers 0-{n_layers}")
        head = torch.nn.Linear(hidden, hidden).to(device)
        params += list(head.parameters())
        stats = target_stats(peft_model, blocks, objective.layer, settings.batch_size)
    optimizer, scheduler = optimiser(params, settings)
    peft_model.train()
    history, batches = [], batch_indices(len(blocks.ids), settings)
    for step in progress(range(1, settings.max_steps + 1), desc=f"fine-tuning {objective.name}", unit="step"):
        idx, epoch = next(batches)
        batch = torch.from_numpy(blocks.ids[idx]).to(device)
        out = peft_model(input_ids=batch, labels=batch, output_hidden_states=head is not None)
        loss, lm_loss, fc_loss = out.loss, out.loss, None
        if head is not None:
            fc_loss = _forecast_loss(peft_model, head, batch, out, blocks, idx, objective, stats)
            if fc_loss is not None:
                loss = lm_loss + objective.weight * fc_loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"fine-tuning {objective.name} diverged at step {step} "
                                     f"(loss {loss.item()}); lower analyses.finetune.lr")
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        history.append({"step": step, "epoch": epoch, "loss": float(loss.item()), "lm_loss": float(lm_loss.item()),
                        "forecast_loss": float(fc_loss.item()) if fc_loss is not None else np.nan,
                        "lr": float(scheduler.get_last_lr()[0])})
        if step % 25 == 0 or step == settings.max_steps:
            log.info("step %d/%d loss %.4f (lm %.4f, forecast %.4f)", step, settings.max_steps,
                     history[-1]["loss"], history[-1]["lm_loss"], history[-1]["forecast_loss"])
    peft_model.eval()
    return peft_model, pd.DataFrame(history)


def save_merged(peft_model, tokenizer, directory: str | os.PathLike, provenance: dict) -> Path:
    """Merge the adapters into the weights and save a local model directory, atomically.

    The directory holds ``config.json``, safetensors weights, the tokenizer and ``finetune.json``
    (``provenance``): what ``brainalign.models`` loads for ``source: local``.
    """
    with atomic_directory(directory) as tmp:
        merged = peft_model.merge_and_unload()
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "finetune.json").write_text(json.dumps(provenance, indent=2, default=str))
    return Path(directory)


def provenance(objective: Objective, settings: LoraSettings, base_info: dict, n_documents: int) -> dict:
    """What made a fine-tuned model: objective, LoRA settings, base model, amount of text."""
    return {"objective": asdict(objective), "lora": settings_dict(settings),
            "base_model": {k: base_info.get(k) for k in ("model_id", "name", "weights_sha256", "n_layers")},
            "n_documents": n_documents}
