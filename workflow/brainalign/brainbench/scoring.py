"""Perplexity scoring of BrainBench prompts (Luo et al. 2024 protocol).

Each prompt is ``PROMPT_TEMPLATE`` with the abstract substituted (and stripped, as the reference
code does).  Its perplexity is ``exp(mean NLL)`` over *all* its tokens (template included), each token
predicted from the ones before it (shifted by one; the first token is never scored).  The tokenizer
is called with its default special tokens, as the reference code does (Llama-family tokenizers add a
BOS token, GPT-2/SmolLM2 add none).  The model picks the version with the lower perplexity; a tie
counts as wrong.  The reference code randomises which version is shown as "A" (seed 42); with
perplexity scoring each prompt is scored on its own, so that order cannot change any result and is
not simulated.  Scoring only the abstract's tokens would be a variant of the protocol; it is not
what this module does.

Batched scoring pads on the right with an attention mask and drops padded positions from the loss,
so it equals unbatched scoring up to floating-point summation order (tested to 1e-4 relative).
Prompts are sorted by length before batching so that padding stays small.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import pandas as pd

from brainalign.progress import progress

from .parsing import TestCase, isolated_sentences

log = logging.getLogger(__name__)

# The first six columns of items.csv (the contract); extra columns follow.
ITEM_COLUMNS = ["doi", "journal_section", "ppl_original", "ppl_altered", "correct", "confidence"]
PROMPT_TEMPLATE = ("You are a neuroscientist with deep knowledge in neuroscience. "
                   "Here is an abstract from a neuroscience publication: <abstract>")


def build_prompt(abstract: str, template: str = PROMPT_TEMPLATE) -> str:
    """Substitute an abstract into the template (``<abstract>`` placeholder), stripped."""
    if "<abstract>" not in template:
        raise ValueError(f"prompt template has no '<abstract>' placeholder: {template!r}")
    return template.replace("<abstract>", abstract).strip()


def _device(model):
    return next(model.parameters()).device


def _encode(tokenizer, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
    ids = tokenizer(list(texts), add_special_tokens=True)["input_ids"]
    for i, seq in enumerate(ids):
        if len(seq) < 2:
            raise ValueError(f"text {i} has {len(seq)} token(s); perplexity needs at least 2: {texts[i]!r}")
        if max_length is not None and len(seq) > max_length:
            raise ValueError(
                f"text {i} has {len(seq)} tokens, more than the model's context of {max_length}; "
                "it would be truncated and its perplexity would not be comparable")
    return ids


def _head(model):
    """The output head as a function of final hidden states -> logits (with Gemma-style soft-capping)."""
    head = model.get_output_embeddings()
    cfg = getattr(model.config, "get_text_config", lambda: model.config)()
    cap = getattr(cfg, "final_logit_softcapping", None)
    scale = getattr(cfg, "logit_scale", None)
    if scale is not None and not isinstance(scale, (int, float)):
        scale = None

    def apply(hidden):
        logits = head(hidden)
        if scale is not None:
            logits = logits * scale
        if cap:
            logits = cap * (logits / cap).tanh()
        return logits

    return apply


def _batch_nll(model, input_ids, mask, chunk: int = 512) -> np.ndarray:
    """Summed NLL per row of a right-padded batch.

    Logits are computed only for real (unpadded) positions, ``chunk`` at a time, from the base
    model's final hidden states: a full ``batch x length x vocab`` float32 logit tensor (~0.5 GB for 8
    SmolLM2 prompts) would dominate time and memory.
    """
    import torch
    import torch.nn.functional as F

    base = getattr(model, model.base_model_prefix, None)
    if base is None or model.get_output_embeddings() is None:  # unusual layout: full logits
        logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
        nll = F.cross_entropy(logits.transpose(1, 2), input_ids[:, 1:], reduction="none")
        return (nll * mask[:, 1:]).double().sum(dim=1).cpu().numpy()
    hidden = base(input_ids=input_ids, attention_mask=mask).last_hidden_state
    # Token t is predicted from tokens < t: position t-1's state scores label t.
    valid = mask[:, 1:].bool()
    states = hidden[:, :-1][valid]
    labels = input_ids[:, 1:][valid]
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None].expand_as(valid)[valid]
    head = _head(model)
    total = torch.zeros(input_ids.shape[0], dtype=torch.float64, device=input_ids.device)
    for start in range(0, len(labels), chunk):
        sl = slice(start, start + chunk)
        nll = F.cross_entropy(head(states[sl]).float(), labels[sl], reduction="none")
        total.index_add_(0, rows[sl], nll.double())
    return total.cpu().numpy()


def sequence_nll(model, tokenizer, texts: Sequence[str], batch_size: int = 8,
                 max_length: int | None = None, show_progress: bool = True) -> pd.DataFrame:
    """Mean and summed token negative log-likelihood of each text, batched.

    Parameters
    ----------
    model
        ``transformers`` causal LM (eval mode).
    tokenizer
        Its tokenizer.
    texts
        Texts to score (already templated).
    batch_size
        Texts per forward pass (right-padded; padded positions are masked out of attention and loss).
    max_length
        Refuse texts longer than this many tokens (None: the model config's context length, if any).
    show_progress
        A tqdm bar over the batches (on stderr).

    Returns
    -------
    pandas.DataFrame
        One row per text (input order): ``n_tokens``, ``n_scored`` (= n_tokens - 1), ``nll_sum``,
        ``nll_mean`` (nats/token) and ``ppl`` (= exp(nll_mean)).
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_length is None:
        cfg = getattr(model.config, "get_text_config", lambda: model.config)()
        max_length = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    ids = _encode(tokenizer, texts, max_length)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:  # any id works: padded positions are masked out of attention and loss
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    order = np.argsort([-len(s) for s in ids], kind="stable")
    nll_sum = np.zeros(len(ids))
    device = _device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            starts = range(0, len(order), batch_size)
            for start in progress(starts, desc="BrainBench scoring", unit="batch", enabled=show_progress):
                idx = order[start:start + batch_size]
                width = max(len(ids[i]) for i in idx)
                input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                input_ids, mask = input_ids.to(device), mask.to(device)
                nll_sum[idx] = _batch_nll(model, input_ids, mask)
    finally:
        model.train(was_training)
    n_tokens = np.array([len(s) for s in ids])
    nll_mean = nll_sum / (n_tokens - 1)
    return pd.DataFrame({"n_tokens": n_tokens, "n_scored": n_tokens - 1, "nll_sum": nll_sum,
                         "nll_mean": nll_mean, "ppl": np.exp(nll_mean)})


def score_pairs(model, tokenizer, original: Sequence[str], altered: Sequence[str],
                batch_size: int = 8, template: str | None = PROMPT_TEMPLATE) -> pd.DataFrame:
    """Score pairs of texts: perplexities, choice, correctness and confidence.

    Parameters
    ----------
    original, altered
        The two versions of each item (same length).
    template
        Prompt template with ``<abstract>``; None scores the texts as they are.

    Returns
    -------
    pandas.DataFrame
        ``ppl_original``, ``ppl_altered``, ``correct`` (bool: original strictly less perplexing;
        ties are wrong), ``tie`` and ``confidence`` (= |log ppl_original - log ppl_altered|),
        ``n_tokens_original``, ``n_tokens_altered``.
    """
    if len(original) != len(altered):
        raise ValueError(f"{len(original)} original vs {len(altered)} altered texts")
    texts = list(original) + list(altered)
    if template is not None:
        texts = [build_prompt(t, template) for t in texts]
    nll = sequence_nll(model, tokenizer, texts, batch_size=batch_size)
    n = len(original)
    a, b = nll.iloc[:n].reset_index(drop=True), nll.iloc[n:].reset_index(drop=True)
    return pd.DataFrame({
        "ppl_original": a["ppl"], "ppl_altered": b["ppl"],
        "correct": (a["nll_mean"] < b["nll_mean"]).to_numpy(),
        "tie": (a["nll_mean"] == b["nll_mean"]).to_numpy(),
        "confidence": (a["nll_mean"] - b["nll_mean"]).abs(),
        "n_tokens_original": a["n_tokens"], "n_tokens_altered": b["n_tokens"],
    })


def score_cases(model, tokenizer, cases: Sequence[TestCase], batch_size: int = 8,
                condition: str = "full", template: str = PROMPT_TEMPLATE) -> pd.DataFrame:
    """Score BrainBench test cases.

    Parameters
    ----------
    model, tokenizer
        The language model (e.g. ``LoadedModel.model`` / ``.tokenizer``).
    cases
        Parsed test cases (:func:`brainalign.brainbench.parsing.read_testset`).
    batch_size
        Prompts per forward pass.
    condition
        ``"full"`` (whole abstracts: every case) or ``"isolated"`` (only the sentences with altered
        spans: cases whose markup could not be used, ``markup_problem``, are left out, with a logged
        count).

    Returns
    -------
    pandas.DataFrame
        One row per scored case: ``doi, journal_section, ppl_original, ppl_altered, correct,
        confidence`` then ``tie, n_tokens_original, n_tokens_altered, row, reference_parse_differs,
        markup_problem`` ("" when the markup was resolved), ``condition``.  Empty (same columns) when
        no case can enter the isolated condition.
    """
    if condition == "full":
        pairs = [(c.original, c.altered) for c in cases]
    elif condition == "isolated":
        left_out = [c.row for c in cases if not c.has_markup]
        if left_out:
            log.warning("isolated-sentence condition: %d of %d cases left out (markup that cannot be used; "
                        "rows %s)", len(left_out), len(cases), left_out)
        cases = [c for c in cases if c.has_markup]
        pairs = [isolated_sentences(c) for c in cases]
    else:
        raise ValueError(f"condition must be 'full' or 'isolated', got {condition!r}")
    if pairs:
        scores = score_pairs(model, tokenizer, [p[0] for p in pairs], [p[1] for p in pairs],
                             batch_size=batch_size, template=template)
    else:
        scores = pd.DataFrame({k: pd.Series(dtype=t) for k, t in (
            ("ppl_original", float), ("ppl_altered", float), ("correct", bool), ("tie", bool),
            ("confidence", float), ("n_tokens_original", int), ("n_tokens_altered", int))})
    meta = pd.DataFrame({"doi": pd.Series([c.doi for c in cases], dtype=object),
                         "journal_section": pd.Series([c.journal_section for c in cases], dtype=object)})
    out = pd.concat([meta, scores], axis=1)
    out["row"] = pd.Series([c.row for c in cases], dtype=int)
    out["reference_parse_differs"] = pd.Series([c.reference_parse_differs for c in cases], dtype=bool)
    out["markup_problem"] = pd.Series([c.markup_problem or "" for c in cases], dtype=object)
    out["condition"] = condition
    return out[ITEM_COLUMNS + [c for c in out.columns if c not in ITEM_COLUMNS]]
