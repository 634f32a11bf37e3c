"""A tiny random-weight GPT-2 with a byte-level BPE tokenizer, built in memory in milliseconds.

For unit tests (here and in other stages) and quick experiments: it exercises the real
``transformers`` code paths (hidden states, KV cache, learned position embeddings) without any
download.  Its numbers mean nothing about language.
"""

from __future__ import annotations

from .loader import LoadedModel, from_objects

_CORPUS = (
    "Once upon a time there was a small village by the sea. The fishermen went out every morning, "
    "and the children played on the beach while their mothers sold bread, cheese and apples at the "
    "market. One day a stranger arrived with a strange box; nobody knew what it held, but everyone "
    "wanted to see it. \"Open it!\" they shouted. He smiled and said: not today."
)


def tiny_tokenizer(vocab_size: int = 400):
    """Byte-level BPE tokenizer (GPT-2 style leading-space tokens) trained on a short text."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([_CORPUS] * 4, vocab_size=vocab_size, min_frequency=1, show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer)


def tiny_model(n_layer: int = 3, n_embd: int = 32, n_head: int = 4, n_positions: int = 256,
               seed: int = 0, vocab_size: int = 400) -> LoadedModel:
    """A random GPT-2 (float32, eval mode) and its tokenizer, wrapped as a ``LoadedModel``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = tiny_tokenizer(vocab_size)
    config = GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=n_positions,
                        vocab_size=len(tokenizer), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=None, eos_token_id=None)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    return from_objects(model, tokenizer, model_id="tiny-gpt2", seed=seed, random_init=True)
