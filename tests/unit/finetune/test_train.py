"""Fine-tuning with forecast objectives on the tiny random GPT-2 (seconds on CPU)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from brainalign.brainbench.lora import LoraSettings  # noqa: E402
from brainalign.finetune.objectives import Objective  # noqa: E402
from brainalign.finetune.train import finetune, make_blocks, provenance, save_merged  # noqa: E402
from brainalign.models import ModelSpec, load_model  # noqa: E402
from brainalign.models.tiny import tiny_model, tiny_tokenizer  # noqa: E402

WORDS = ("once upon a time there was a small village by the sea the fishermen went out every morning "
         "and the children played on the beach while their mothers sold bread cheese and apples").split()


def test_blocks_pair_words_d_apart_within_one_document():
    tok = tiny_tokenizer()
    docs = [WORDS, WORDS[::-1]]
    blocks = make_blocks(tok, docs, max_length=24)
    assert blocks.ids.shape[1] == 24
    eos_free = [tok(w, add_special_tokens=False)["input_ids"] for w in WORDS]
    assert all(len(t) >= 1 for t in eos_free)
    n_pairs = 0
    for b in range(len(blocks.ids)):
        ends, words, docs_of = blocks.ends[b], blocks.words[b], blocks.docs[b]
        assert np.all((ends >= 0) & (ends < 24)) and np.all(np.diff(ends) > 0)
        src, tgt = blocks.pairs(b, 3)
        n_pairs += len(src)
        for s, t in zip(src, tgt):
            i, j = np.flatnonzero(ends == s)[0], np.flatnonzero(ends == t)[0]
            assert words[j] - words[i] == 3 and docs_of[i] == docs_of[j]
    assert n_pairs > 0
    # the word pairs spanning the two documents are never formed
    total = sum(len(blocks.pairs(b, 1)[0]) for b in range(len(blocks.ids)))
    cross = sum(int(np.sum(np.diff(blocks.docs[b]) != 0)) for b in range(len(blocks.ids)))
    assert cross > 0
    assert total == sum(len(blocks.ends[b]) - 1 for b in range(len(blocks.ids))) - cross


def test_blocks_refuse_text_shorter_than_a_block():
    with pytest.raises(ValueError, match="fewer than one block"):
        make_blocks(tiny_tokenizer(), [WORDS[:3]], max_length=64)


def _train(objective: Objective, steps: int, lr: float):
    loaded = tiny_model(n_layer=3, n_embd=32)
    settings = LoraSettings(rank=4, alpha=8, dropout=0.0, max_steps=steps, lr=lr, batch_size=2,
                            max_length=24, warmup_steps=0, seed=0)
    model, history = finetune(loaded.model, loaded.tokenizer, [WORDS * 2], objective, settings)
    return loaded, model, history, settings


@pytest.fixture(scope="module")
def long_range():
    """One forecast fine-tuning shared by the tests below (the CPU is shared: train once)."""
    return _train(Objective("long_range", distance=4, layer=2, weight=1.0), steps=60, lr=3e-2)


def test_forecast_objective_learns_the_future_state(long_range):
    _, _, history, _ = long_range
    fc = history["forecast_loss"].to_numpy()
    assert np.isfinite(fc).all()
    # the head + adapters learn to predict the base model's z-scored layer-2 state 4 words ahead
    # (measured: 1.00 -> 0.62 over 80 steps of 4 blocks; starts near 1, the variance of a z-score)
    assert 0.8 < fc[:5].mean() < 1.2
    assert fc[-5:].mean() < 0.85 * fc[:5].mean()
    assert np.allclose(history["loss"], history["lm_loss"] + history["forecast_loss"], rtol=1e-5)


def test_next_token_objective_has_no_forecast_loss_and_learns_the_text():
    _, _, history, _ = _train(Objective("next_token"), steps=15, lr=3e-2)
    assert history["forecast_loss"].isna().all()
    assert history["lm_loss"].iloc[-3:].mean() < history["lm_loss"].iloc[:3].mean()


def test_merged_model_loads_as_a_local_model_with_the_adapted_weights(long_range, tmp_path):
    loaded, model, _, settings = long_range
    ids = torch.tensor([loaded.tokenizer(" ".join(WORDS))["input_ids"][:20]])
    with torch.no_grad():
        adapted = model(input_ids=ids, output_hidden_states=True).hidden_states[2]
        with model.disable_adapter():
            base = model(input_ids=ids, output_hidden_states=True).hidden_states[2]
    assert not torch.allclose(adapted, base, atol=1e-4)  # the adapters changed the representation
    info = dict(loaded.info)
    out = save_merged(model, loaded.tokenizer, tmp_path / "model",
                      provenance(Objective("long_range", 4, 2, 1.0), settings, info, 1))
    assert (out / "finetune.json").is_file() and list(out.glob("*.safetensors"))
    reloaded = load_model(ModelSpec.from_config("tuned", {"source": "local", "id": str(out)}))
    with torch.no_grad():
        again = reloaded.model(input_ids=ids, output_hidden_states=True).hidden_states[2]
    assert torch.allclose(again, adapted, atol=1e-4)
    assert not list(tmp_path.glob(".model.tmp-*"))
