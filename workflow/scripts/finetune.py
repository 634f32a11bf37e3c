"""Rule `finetune`: LoRA fine-tuning of one model with one objective, saved with the adapters merged."""

import torch

from brainalign.finetune.objectives import FinetuneSettings
from brainalign.finetune.train import finetune, provenance, save_merged, training_documents
from brainalign.io.store import atomic_write_table
from brainalign.models import ModelSpec, load_model
from brainalign.runtime import provenance as run_provenance, setup_logging

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
torch.set_num_threads(sm.threads)  # the rule's threads, not every core of a shared node
p = sm.params
settings = FinetuneSettings.from_config(p.finetune)
spec = ModelSpec.from_config(p.model["name"], p.model["entry"], seed=p.seed, device=p.device)
loaded = load_model(spec, device_key="features.device")
objective = settings.objective(sm.wildcards.objective, int(loaded.info["n_layers"]))
documents = training_documents(word_tables=list(sm.input.words), corpus=list(sm.input.corpus))
log.info("%s: objective %s, %d documents, %d words", spec.name, objective, len(documents), sum(map(len, documents)))
model, history = finetune(loaded.model, loaded.tokenizer, documents, objective, settings.lora)
info = {**provenance(objective, settings.lora, loaded.info, len(documents)),
        **run_provenance({"finetune": p.finetune, "model": p.model, "seed": p.seed})}
save_merged(model, loaded.tokenizer, sm.output.model, info)
atomic_write_table(history, sm.output.history)
log.info("loss %.4f -> %.4f", history["loss"].iloc[0], history["loss"].iloc[-1])
