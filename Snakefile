# brainalign: language-model representations vs brain recordings, from raw files to figures.
#
#   snakemake --cores 2                 the demo (config/config.yaml), end to end
#   snakemake -n / --dag | dot -Tsvg    the plan
#   snakemake --report report.html      the figures and tables, captioned, with per-run QC
#   snakemake brainbench                BrainBench (and LoRA when enabled) on the configured test sets
#   snakemake check_inputs              every run's metadata and timings checked (headers only): results/<ds>/inputs.tsv
#
# Rules stay thin: inputs, outputs, resources and an env; the science is in workflow/brainalign.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/words.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/brainbench.smk"
include: "workflow/rules/qc.smk"


rule all:
    default_target: True
    input:
        all_targets(),
        analysis_targets(),
        sensitivity_targets(),
        qc_targets(),
