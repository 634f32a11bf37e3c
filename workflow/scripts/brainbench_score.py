"""Rule `brainbench_score`: one model (optionally + its LoRA adapter) on one BrainBench test set."""

import json
from pathlib import Path

import torch


from brainalign.brainbench.evaluate import evaluate_model
from brainalign.brainbench.lora import read_corpus
from brainalign.brainbench.loading import load_for_brainbench
from brainalign.brainbench.parsing import read_testset
from brainalign.io.store import atomic_write_table, atomic_write_text
from brainalign.runtime import provenance, setup_logging

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
torch.set_num_threads(sm.threads)  # the rule's threads, not every core of a shared node
p = sm.params
adapter = Path(sm.input.adapter).parent if "adapter" in sm.input.keys() else None
loaded = load_for_brainbench(p.model["name"], p.model["entry"], random_init=p.model["random_init"],
                             device=p.device, adapter=adapter)
cases = read_testset(sm.input.testset)  # BrainBenchFormatError (an InputError) names file, row, column
differs = [c.row for c in cases if c.reference_parse_differs]
if differs:
    log.warning("%s: rows %s have options with commas that the reference parser splits wrongly; "
                "scored with the parallel-split rule (column reference_parse_differs)", sm.input.testset, differs)
unparsed = [c.row for c in cases if not c.has_markup]
if unparsed:
    log.warning("%s: %d of %d rows have markup that cannot be parsed (rows %s); scored from their "
                "original/incorrect abstracts and left out of the isolated-sentence condition "
                "(column markup_problem; summary n_markup_unparsed)", sm.input.testset, len(unparsed),
                len(cases), unparsed)
# Paragraphs are joined into one text, then cut into abstract-length chunks by the memorization check.
unseen = [" ".join(d.text for d in read_corpus(list(sm.input.unseen)))] if sm.input.unseen else []
ev = evaluate_model(loaded.model, loaded.tokenizer, cases, unseen=unseen, batch_size=p.batch_size,
                    n_boot=p.bootstrap["n"], seed=p.bootstrap["seed"], n_bins=p.n_bins)
ev.summary.update(model=p.label, testset=p.testset, testset_path=str(sm.input.testset), model_info=loaded.info,
                  **provenance({"model": p.model, "batch_size": p.batch_size, "bootstrap": p.bootstrap}))
atomic_write_table(ev.items, sm.output.item_table)
atomic_write_table(ev.isolated, sm.output.isolated_table)
atomic_write_table(ev.subfields, sm.output.subfields)
atomic_write_table(ev.calibration, sm.output.calibration)
atomic_write_table(ev.memorization, sm.output.memorization)
atomic_write_text(sm.output.summary, json.dumps(ev.summary, indent=2, default=str))
log.info("%s on %s: accuracy %.3f [%.3f, %.3f]", p.label, p.testset, ev.summary["accuracy"],
         ev.summary["ci_low"], ev.summary["ci_high"])
