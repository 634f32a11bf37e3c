# brainalign: language-model representations vs brain recordings, from raw files to figures.
#
#   snakemake --cores 2                 the demo (config/config.yaml), end to end
#   snakemake -n / --dag | dot -Tsvg    the plan
#   snakemake --report report.html      the figures and tables, captioned, with per-run QC
#   snakemake --cores 2 brainbench      BrainBench (and LoRA when enabled) on the configured test sets
#   snakemake --cores 1 check_inputs    every run's metadata and timings checked (headers only): results/<ds>/inputs.tsv
#
# Rules stay thin: inputs, outputs, resources and an env; the science is in workflow/brainalign.

from snakemake.utils import min_version

min_version("9.0")


# config/config.yaml is the demo's configuration (values tuned on the demo: every other layer, a 0.15
# map threshold, the planted forecast distance, LoRA on). It is read only when the command line does
# not select another dataset kind: a dataset profile (--configfile config/datasets/<name>.yaml, with
# dataset.kind: bids) gets the schema's defaults, set for real data, for everything it does not set.
# Snakemake merges --configfile/--config into `config` before this line and again over any configfile
# read here, so the command line always wins.
_dataset = config.get("dataset")
if (_dataset.get("kind", "demo") if isinstance(_dataset, dict) else "demo") == "demo":

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/words.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/repeats.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/brainbench.smk"
include: "workflow/rules/qc.smk"


rule all:
    default_target: True
    input:
        all_targets(),
        analysis_targets(),
        sensitivity_targets(),
        finetune_targets(),
        qc_targets(),
