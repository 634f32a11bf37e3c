#!/usr/bin/env bash
# Run by Snakemake (--sdm conda) in the new env of envs/words.yaml: brainalign itself, editable
# from this checkout, without its dependencies (the env file lists them; docs/architecture.md#environments).
set -euo pipefail
python -m pip install --no-deps --editable "${BRAINALIGN_ROOT:?set by workflow/rules/common.smk}"
