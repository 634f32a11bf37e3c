"""Rule `brainbench_lora`: fine-tune LoRA adapters on the corpus, refusing test-set leaks."""

import json
from pathlib import Path

import torch


from brainalign.brainbench.lora import (LoraSettings, check_leaks, read_corpus, save_adapter,
                                        settings_dict, train_lora)
from brainalign.brainbench.loading import load_for_brainbench
from brainalign.brainbench.parsing import read_testset
from brainalign.io.store import atomic_write_table, atomic_write_text
from brainalign.runtime import provenance, setup_logging

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
torch.set_num_threads(sm.threads)  # the rule's threads, not every core of a shared node
p = sm.params
settings = LoraSettings.from_config(p.lora)
docs = read_corpus(list(sm.input.corpus))
cases = [c for path in sm.input.testsets for c in read_testset(path)]
check_leaks(docs, cases)  # raises CorpusLeakError naming the document and the test case
log.info("corpus: %d documents, no overlap with %d test cases", len(docs), len(cases))
loaded = load_for_brainbench(p.model["name"], p.model["entry"], random_init=p.model["random_init"], device=p.device)
loaded.model.train()
peft_model, history = train_lora(loaded.model, loaded.tokenizer, docs, settings)
save_adapter(peft_model, Path(sm.output.adapter_model).parent)  # exactly the two adapter files
atomic_write_table(history, sm.output.history)
info = {"base_model": loaded.info, "settings": settings_dict(settings), "corpus": list(sm.input.corpus),
        "n_documents": len(docs), "final_loss": float(history["loss"].iloc[-1]),
        "first_loss": float(history["loss"].iloc[0]), **provenance({"lora": p.lora, "model": p.model})}
atomic_write_text(sm.output.info, json.dumps(info, indent=2, default=str))
