"""The tiny offline models of the BrainBench tests and smoke runs (brainalign.brainbench.testing)."""

from __future__ import annotations

import torch

from brainalign.brainbench.testing import save_tiny_model, tiny_gpt2, tiny_tokenizer


def test_tokenizer_encodes_any_text_through_its_byte_alphabet():
    tok = tiny_tokenizer(["neurons fire in the hippocampus"])
    text = "Zebrafish ß-cells fire 😀"                         # nothing like the fitting text
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.eos_token == "<|endoftext|>" and tok.convert_tokens_to_ids("<|endoftext|>") == 0


def test_gpt2_is_seeded_and_in_eval_mode():
    a, b, c = tiny_gpt2(50, seed=3), tiny_gpt2(50, seed=3), tiny_gpt2(50, seed=4)
    ids = torch.arange(10)[None]
    with torch.no_grad():
        assert torch.equal(a(input_ids=ids).logits, b(input_ids=ids).logits)
        assert not torch.allclose(a(input_ids=ids).logits, c(input_ids=ids).logits)
    assert not a.training and a.config.n_layer == 2 and a.config.vocab_size == 50


def test_saved_model_directory_reloads_the_same_weights(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = save_tiny_model(tmp_path / "tiny", seed=1)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    expected = tiny_gpt2(len(tok), seed=1)
    for name, value in expected.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    assert (folder / "model.safetensors").is_file()
