"""One model on one test set: every BrainBench table, from parsed cases to the summary."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from .memorization import memorization_summary, memorization_table
from .parsing import TestCase
from .scoring import PROMPT_TEMPLATE, score_cases
from .stats import accuracy_table, calibration, summarize

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """All results of one model on one test set.

    Attributes
    ----------
    items
        Per item: ``doi, journal_section, ppl_original, ppl_altered, correct, confidence`` then
        ``tie, n_tokens_original, n_tokens_altered, row, reference_parse_differs, markup_problem,
        condition`` (every case, scored from its two abstracts).
    isolated
        The same for the isolated-sentences condition (cases with usable markup only).
    subfields
        Accuracy with 95% bootstrap CI and SEM per journal section (plus ``all``), both conditions
        (column ``condition``).
    calibration
        Accuracy per confidence-quantile bin.
    memorization
        Per-text log-perplexity and zlib entropy (test set, shuffled, unseen).
    summary
        Headline numbers (JSON-serialisable), including calibration correlations, the isolated
        condition and the memorization comparison.
    """

    items: pd.DataFrame
    isolated: pd.DataFrame
    subfields: pd.DataFrame
    calibration: pd.DataFrame
    memorization: pd.DataFrame
    summary: dict


def evaluate_model(model, tokenizer, cases: Sequence[TestCase], unseen: Sequence[str] = (),
                   batch_size: int = 8, n_boot: int = 10_000, seed: int = 0, n_bins: int = 5,
                   template: str = PROMPT_TEMPLATE) -> Evaluation:
    """Score a model on parsed test cases and summarise (full and isolated conditions, memorization).

    Parameters
    ----------
    model, tokenizer
        The language model (e.g. from :func:`brainalign.models.load_model`).
    cases
        Parsed test cases.
    unseen
        Fluent texts the model cannot have seen (memorization reference).
    batch_size
        Prompts per forward pass.
    n_boot, seed
        Bootstrap resamples and seed (intervals are reproducible).
    n_bins
        Confidence-quantile bins for calibration.
    """
    t0 = time.perf_counter()
    items = score_cases(model, tokenizer, cases, batch_size=batch_size, condition="full", template=template)
    t1 = time.perf_counter()
    log.info("full abstracts: accuracy %.3f (%d items, %.1f s)", items["correct"].mean(), len(items), t1 - t0)
    # Cases whose [[original, altered]] markup cannot be used are scored above from their two
    # abstracts and left out here (score_cases logs the count; the summary records the rows).
    isolated = score_cases(model, tokenizer, cases, batch_size=batch_size, condition="isolated", template=template)
    log.info("isolated sentences: accuracy %.3f (%d of %d items)",
             isolated["correct"].mean() if len(isolated) else float("nan"), len(isolated), len(cases))
    memo = memorization_table(model, tokenizer, [c.original for c in cases], [c.doi for c in cases],
                              unseen=unseen, seed=seed, batch_size=batch_size)
    tables = []
    for condition, df in (("full", items), ("isolated", isolated)):
        if df.empty:  # no case with usable markup: no isolated rows (summary: isolated.n = 0)
            continue
        for by in (None, "journal_section"):
            t = accuracy_table(df, by=by, n_boot=n_boot, seed=seed)
            t.insert(0, "condition", condition)
            tables.append(t)
    subfields = pd.concat(tables, ignore_index=True)
    calib, _ = calibration(items, n_bins=n_bins)
    summary = summarize(items, isolated, n_boot=n_boot, seed=seed, n_bins=n_bins)
    summary["memorization"] = memorization_summary(memo)
    summary["seconds_full_condition"] = t1 - t0
    summary["abstracts_per_s"] = len(items) / (t1 - t0)
    summary["prompt_template"] = template
    return Evaluation(items=items, isolated=isolated, subfields=subfields,
                      calibration=calib, memorization=memo, summary=summary)
