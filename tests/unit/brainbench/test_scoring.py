"""brainalign.brainbench.scoring: prompt, perplexity over the whole prompt, batching, ties."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from brainalign.brainbench.parsing import parse_testset
from brainalign.brainbench.scoring import PROMPT_TEMPLATE, build_prompt, score_cases, score_pairs, sequence_nll
from brainalign.brainbench.testing import tiny_gpt2, tiny_tokenizer

TEXTS = [
    "Neurons in the hippocampus fire at specific places.",
    "Dopamine neurons signal reward prediction errors during learning in monkeys and rats, "
    "and their activity increased when outcomes were better than expected.",
    "Attention decreased alpha power.",
    "Sleep spindles and ripples were coupled in humans, and this coupling predicted memory "
    "consolidation overnight in a large sample of healthy adults who learned word pairs.",
    "Cells.",
]


@pytest.fixture(scope="module")
def tiny():
    tok = tiny_tokenizer(TEXTS + [PROMPT_TEMPLATE])
    model = tiny_gpt2(len(tok), seed=1)
    return model, tok


def reference_ppl(model, tok, text):
    """The reference implementation (braingpt-lovelab run_choice.forward_pass), unbatched."""
    ids = tok(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    logp = F.log_softmax(logits[0, :-1].float(), dim=-1)
    return math.exp(-logp.gather(1, ids[0, 1:, None]).mean().item())


def test_prompt_template_is_the_papers():
    assert build_prompt("An abstract. ") == (
        "You are a neuroscientist with deep knowledge in neuroscience. "
        "Here is an abstract from a neuroscience publication: An abstract.")
    with pytest.raises(ValueError, match="placeholder"):
        build_prompt("x", template="no placeholder")


def test_perplexity_equals_reference_implementation(tiny):
    model, tok = tiny
    got = sequence_nll(model, tok, TEXTS, batch_size=1)
    want = [reference_ppl(model, tok, t) for t in TEXTS]
    np.testing.assert_allclose(got["ppl"], want, rtol=1e-5)
    # every token but the first is scored (shifted by one)
    assert (got["n_scored"] == got["n_tokens"] - 1).all()
    np.testing.assert_allclose(got["nll_mean"], got["nll_sum"] / got["n_scored"])


@pytest.mark.parametrize("batch_size", [2, 3, 8])
def test_batched_equals_unbatched(tiny, batch_size):
    model, tok = tiny
    assert tok.pad_token_id is None  # padding falls back to EOS; masking must make it irrelevant
    one = sequence_nll(model, tok, TEXTS, batch_size=1)
    many = sequence_nll(model, tok, TEXTS, batch_size=batch_size)
    rel = np.abs(many["ppl"] / one["ppl"] - 1)
    assert rel.max() < 1e-4
    assert (many["n_tokens"] == one["n_tokens"]).all()


def test_uniform_model_gives_vocabulary_size_and_ties_are_wrong(tiny):
    _, tok = tiny
    model = tiny_gpt2(len(tok), seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # all logits 0: every token has probability 1/V
    out = score_pairs(model, tok, [TEXTS[0], TEXTS[1]], [TEXTS[2], TEXTS[1]], batch_size=2)
    np.testing.assert_allclose(out[["ppl_original", "ppl_altered"]].to_numpy(), len(tok), rtol=1e-6)
    assert out["tie"].all()
    assert not out["correct"].any()  # a tie counts as wrong
    assert (out["confidence"] == 0).all()


def test_choice_and_confidence_follow_perplexities(tiny):
    model, tok = tiny
    a, b = TEXTS[:3], [TEXTS[3], TEXTS[0], TEXTS[4]]
    out = score_pairs(model, tok, a, b, batch_size=4)
    pa = np.array([reference_ppl(model, tok, build_prompt(t)) for t in a])
    pb = np.array([reference_ppl(model, tok, build_prompt(t)) for t in b])
    np.testing.assert_allclose(out["ppl_original"], pa, rtol=1e-5)
    np.testing.assert_allclose(out["ppl_altered"], pb, rtol=1e-5)
    assert (out["correct"].to_numpy() == (pa < pb)).all()
    np.testing.assert_allclose(out["confidence"], np.abs(np.log(pa) - np.log(pb)), atol=1e-5)


def test_score_cases_item_columns_and_conditions(tiny):
    model, tok = tiny
    rows = [{"doi": f"10.1/{i}", "journal_section": s, "combined_abstract": c,
             "original_abstract": o, "incorrect_abstract": a}
            for i, (s, c, o, a) in enumerate([
                ("A", "Intro here. Rates [[rose, fell]] today.", "Intro here. Rates rose today.",
                 "Intro here. Rates fell today."),
                ("B", "Cells were [[stable, unstable]]. End.", "Cells were stable. End.",
                 "Cells were unstable. End.")])]
    cases = parse_testset(pd.DataFrame(rows))
    full = score_cases(model, tok, cases, batch_size=2)
    assert list(full.columns[:6]) == ["doi", "journal_section", "ppl_original", "ppl_altered", "correct", "confidence"]
    assert list(full["doi"]) == ["10.1/0", "10.1/1"]
    iso = score_cases(model, tok, cases, batch_size=2, condition="isolated")
    want = reference_ppl(model, tok, build_prompt("Rates rose today."))
    assert iso["ppl_original"][0] == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="condition"):
        score_cases(model, tok, cases, condition="other")


def test_score_cases_leaves_unparsed_markup_out_of_the_isolated_condition(tiny, caplog):
    model, tok = tiny
    rows = [{"doi": "10.1/ok", "journal_section": "A", "combined_abstract": "Rates [[rose, fell]] today.",
             "original_abstract": "Rates rose today.", "incorrect_abstract": "Rates fell today."},
            {"doi": "10.1/bad", "journal_section": "A", "combined_abstract": "Rates [[rose, fell] today.",
             "original_abstract": "Rates rose today.", "incorrect_abstract": "Rates fell today."}]
    cases = parse_testset(pd.DataFrame(rows))
    full = score_cases(model, tok, cases, batch_size=2)
    assert list(full["row"]) == [1, 2] and full["ppl_original"].notna().all()
    assert full["markup_problem"][0] == "" and "never closed" in full["markup_problem"][1]
    assert full["ppl_original"][0] == full["ppl_original"][1]          # same two texts, same scores
    iso = score_cases(model, tok, cases, batch_size=2, condition="isolated")
    assert list(iso["row"]) == [1] and "1 of 2 cases left out" in caplog.text
    none = score_cases(model, tok, cases[1:], condition="isolated")
    assert none.empty and list(none.columns) == list(full.columns)


def test_text_longer_than_context_is_refused(tiny):
    _, tok = tiny
    model = tiny_gpt2(len(tok), n_positions=16)
    with pytest.raises(ValueError, match="more than the model's context of 16"):
        sequence_nll(model, tok, [TEXTS[1]])
