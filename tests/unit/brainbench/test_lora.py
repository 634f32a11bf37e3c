"""brainalign.brainbench.lora: corpus reading, leak refusal, a few LoRA steps, adapter-only output."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from brainalign.brainbench.lora import (ADAPTER_FILES, CorpusLeakError, Document, LoraSettings, apply_adapter,
                                        check_leaks, read_corpus, save_adapter, token_blocks, train_lora)
from brainalign.brainbench.parsing import parse_testset, read_testset
from brainalign.brainbench.scoring import sequence_nll
from brainalign.brainbench.testing import tiny_gpt2, tiny_tokenizer

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "data" / "brainbench" / "BrainBench_GPT-4_v0.1.csv"
ABSTRACT = ("We recorded place cells in the dorsal hippocampus while rats learned a new maze, and found that "
            "remapping cells were recruited into sharp wave ripples more often than stable cells were.")
CORPUS = ("Neurons communicate with spikes. Synapses change with experience, and memories are "
          "consolidated during sleep when the hippocampus replays recent activity.\n\n"
          "Attention selects what we perceive. Dopamine signals reward prediction errors.\n")


@pytest.fixture(scope="module")
def cases():
    row = {"doi": "https://doi.org/10.1523/JNEUROSCI.9999-22.2022", "journal_section": "Systems/Circuits",
           "combined_abstract": ABSTRACT.replace("more often than", "[[more often than, less often than]]"),
           "original_abstract": ABSTRACT, "incorrect_abstract": ABSTRACT.replace("more often", "less often")}
    return parse_testset(pd.DataFrame([row]), source="t.csv")


def test_read_corpus_txt_and_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text(CORPUS)
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "Glia support neurons.", "doi": "10.1/abc"}) + "\n\n")
    docs = read_corpus([tmp_path / "a.txt", tmp_path / "b.jsonl"])
    assert len(docs) == 3 and docs[2].doi == "10.1/abc" and docs[2].source.endswith("b.jsonl:1")
    (tmp_path / "bad.jsonl").write_text('{"txt": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl: line 1: expected an object with a non-empty 'text'"):
        read_corpus([tmp_path / "bad.jsonl"])
    (tmp_path / "c.csv").write_text("x")
    with pytest.raises(ValueError, match=".txt or .jsonl"):
        read_corpus([tmp_path / "c.csv"])
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_corpus([tmp_path / "nope.txt"])


def test_leaks_are_refused(cases):
    check_leaks([Document("ok.txt", CORPUS)], cases)  # no overlap: passes
    leak = " ".join(ABSTRACT.split()[5:20])  # 15 consecutive words of the abstract
    with pytest.raises(CorpusLeakError, match=r"leak.txt: corpus shares 13 consecutive words with test case row 1"):
        check_leaks([Document("ok.txt", CORPUS), Document("leak.txt", "Background. " + leak)], cases)
    altered_leak = " ".join(cases[0].altered.split()[-14:])
    with pytest.raises(CorpusLeakError, match="row 1"):
        check_leaks([Document("alt.txt", altered_leak)], cases)
    with pytest.raises(CorpusLeakError, match="DOI"):
        check_leaks([Document("d.jsonl:3", "unrelated text", doi="10.1523/jneurosci.9999-22.2022")], cases)
    with pytest.raises(CorpusLeakError, match="DOI"):
        check_leaks([Document("e.txt", "See https://doi.org/10.1523/JNEUROSCI.9999-22.2022.")], cases)
    # 12 shared words are not a leak (common phrases must not trip the check)
    check_leaks([Document("short.txt", " ".join(ABSTRACT.split()[5:17]))], cases)


@pytest.mark.skipif(not SHARED.is_file(), reason="shared BrainBench CSV not available")
def test_repository_corpus_does_not_contain_the_test_set():
    files = sorted((REPO / "workflow" / "brainalign" / "brainbench" / "corpus").rglob("*.txt"))
    docs = read_corpus(files)
    assert sum(len(d.text.split()) for d in docs) > 3000
    check_leaks(docs, read_testset(SHARED))


def test_settings_from_config():
    s = LoraSettings.from_config({"enabled": True, "corpus": ["a"], "rank": 4, "target_modules": ["c_attn"]})
    assert s.rank == 4 and s.target_modules == ("c_attn",)
    with pytest.raises(ValueError, match="unknown key"):
        LoraSettings.from_config({"rnak": 4})
    with pytest.raises(ValueError, match="dropout"):
        LoraSettings.from_config({"dropout": 1.5})


def test_lora_few_steps_saves_only_the_adapter(tmp_path):
    tok = tiny_tokenizer([CORPUS * 3])
    docs = [Document("c.txt", CORPUS * 4)]
    blocks = token_blocks(tok, docs, 16)
    assert blocks.shape[1] == 16 and blocks.dtype == np.int64
    base = tiny_gpt2(len(tok), seed=2)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    settings = LoraSettings(rank=4, alpha=8, dropout=0.0, max_steps=8, lr=5e-2, batch_size=2, max_length=16)
    peft_model, history = train_lora(base, tok, docs, settings)
    assert list(history["step"]) == list(range(1, 9))
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]  # it learns the corpus
    out = save_adapter(peft_model, tmp_path / "adapter")
    assert sorted(p.name for p in out.iterdir()) == sorted(ADAPTER_FILES)
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 4 and cfg["lora_alpha"] == 8
    # base weights untouched; the adapter changes the model's perplexity on the corpus
    fresh = tiny_gpt2(len(tok), seed=2)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in before.items())
    ppl_base = sequence_nll(fresh, tok, [CORPUS])["ppl"][0]
    adapted = apply_adapter(tiny_gpt2(len(tok), seed=2), out)
    ppl_adapted = sequence_nll(adapted, tok, [CORPUS])["ppl"][0]
    assert ppl_adapted < ppl_base
    with pytest.raises(FileNotFoundError, match="not a LoRA adapter directory"):
        apply_adapter(fresh, tmp_path)


def test_corpus_too_small_for_one_block():
    tok = tiny_tokenizer([CORPUS])
    with pytest.raises(ValueError, match="fewer than one block"):
        token_blocks(tok, [Document("c.txt", "tiny")], 512)
