"""BrainBench (Luo et al. 2024): can a language model tell a real neuroscience result from an altered one?

Modules: :mod:`.parsing` (test-case CSVs and ``[[original, altered]]`` markup), :mod:`.scoring`
(batched prompt perplexities), :mod:`.stats` (accuracy, bootstrap intervals, calibration),
:mod:`.memorization` (log-perplexity vs zlib entropy), :mod:`.lora` (BrainGPT-style LoRA with a
leak check), :mod:`.figures` and :mod:`.testing` (tiny offline models).
"""

from .parsing import BrainBenchFormatError, TestCase, isolated_sentences, parse_testset, read_testset
from .scoring import PROMPT_TEMPLATE, build_prompt, score_cases, score_pairs, sequence_nll
from .stats import accuracy_table, bootstrap_ci, calibration, sem, summarize

__all__ = ["BrainBenchFormatError", "TestCase", "read_testset", "parse_testset", "isolated_sentences",
           "PROMPT_TEMPLATE", "build_prompt", "sequence_nll", "score_pairs", "score_cases",
           "accuracy_table", "bootstrap_ci", "calibration", "sem", "summarize"]
