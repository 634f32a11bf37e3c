"""The tiny in-memory GPT-2 of the tests (brainalign.models.tiny)."""

from __future__ import annotations

import torch

from brainalign.models.tiny import tiny_model, tiny_tokenizer


def test_tokenizer_round_trips_text_with_gpt2_style_leading_spaces():
    tok = tiny_tokenizer()
    ids = tok("the fishermen sold bread")["input_ids"]
    assert tok.decode(ids) == "the fishermen sold bread"
    assert any(t.startswith("Ġ") for t in tok.convert_ids_to_tokens(ids))   # byte-level leading-space tokens


def test_model_is_seeded_sized_as_asked_and_marked_random():
    a, b = tiny_model(n_layer=2, n_embd=16, seed=1), tiny_model(n_layer=2, n_embd=16, seed=1)
    other = tiny_model(n_layer=2, n_embd=16, seed=2)
    ids = torch.as_tensor(a.tokenizer("once upon a time")["input_ids"])[None]
    with torch.no_grad():
        out = a.model(input_ids=ids, output_hidden_states=True)
        same = b.model(input_ids=ids).logits
        diff = other.model(input_ids=ids).logits
    assert len(out.hidden_states) == 3 and out.hidden_states[-1].shape[-1] == 16   # embeddings + 2 layers
    assert torch.equal(out.logits, same) and not torch.allclose(out.logits, diff)
    assert a.model.config.vocab_size == len(a.tokenizer) and not a.model.training
    assert a.info["random_init"] is True and a.info["seed"] == 1 and a.info["n_layers"] == 2
    assert a.info["weights_sha256"] == b.info["weights_sha256"] != other.info["weights_sha256"]
