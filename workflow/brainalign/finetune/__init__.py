"""Making a model more brain-like (Caucheteux et al. 2023): fine-tuning with forecast objectives.

* :mod:`.objectives` — the objectives (next token only; + a long-range, high-level forecast; + a
  short-range, low-level forecast) and their settings (the ``analyses.finetune`` config section).
* :mod:`.train` — LoRA fine-tuning with a forecast head, saved as a merged local model directory
  that the ``features`` rule loads like any ``source: local`` model.
* :mod:`.compare` — brain scores of each fine-tuned model vs the base model per region, paired
  across subjects, FDR-corrected; and the report figure.
* :mod:`.plan` — model names and output paths of the rules (imported at parse time: light).

Nothing is imported here, so that the workflow's parse-time import of :mod:`.plan` stays cheap.
"""
