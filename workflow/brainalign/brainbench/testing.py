"""Tiny offline models for tests and smoke runs (random weights, a byte-level BPE fitted on the spot)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

_DEFAULT_TEXT = (
    "You are a neuroscientist with deep knowledge in neuroscience. Here is an abstract from a "
    "neuroscience publication: neurons in the hippocampus fire at specific places, and their "
    "activity increased or decreased with learning, reward and attention in rats, mice and humans."
)


def tiny_tokenizer(texts: Iterable[str] = (_DEFAULT_TEXT,), vocab_size: int = 400):
    """A fast byte-level BPE tokenizer fitted on ``texts`` (any text is encodable: byte fallback)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", unk_token="<|endoftext|>")


def tiny_gpt2(vocab_size: int, seed: int = 0, n_layer: int = 2, n_embd: int = 32, n_positions: int = 2048):
    """A randomly initialised GPT-2 (seeded) in eval mode; eager attention for exact comparisons."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                        n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config)
    return model.eval()


def save_tiny_model(directory: str | os.PathLike, texts: Iterable[str] = (_DEFAULT_TEXT,),
                    seed: int = 0) -> Path:
    """Write a tiny GPT-2 + tokenizer as a local model directory (``source: local``)."""
    directory = Path(directory)
    tok = tiny_tokenizer(texts)
    model = tiny_gpt2(len(tok), seed=seed)
    model.save_pretrained(directory, safe_serialization=True)
    tok.save_pretrained(directory)
    return directory
