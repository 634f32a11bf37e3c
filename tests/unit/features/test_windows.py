"""Context windows: each word read from its earliest full strided window, one shared pass at the story start
(brainalign.features.windows)."""

from __future__ import annotations

import numpy as np

from brainalign.features.windows import strided_plan


def test_strided_plan_reads_each_word_from_its_earliest_full_window():
    start = np.array([0, 3, 7, 9, 15])
    stop = np.array([3, 7, 9, 15, 20])
    plan = strided_plan(start, stop, 20, length=10, stride=5)
    assert plan.starts.tolist()[:3] == [0, 5, 10]
    # word 1 [3,7) fits window 0; word 3 [9,15) fits window 1 ([5,15)); word 4 [15,20) window 2
    assert plan.word_window.tolist()[:5] == [0, 0, 0, 1, 2]
    # S = L: word [9,15) straddles windows [0,10) and [10,20) -> an extra window ending with it
    plan = strided_plan(start, stop, 20, length=10, stride=10)
    extra = plan.word_window[3]
    assert (plan.starts[extra], plan.stops[extra]) == (5, 15)


def test_fixed_plan_shares_one_pass_among_words_at_story_start():
    from brainalign.features.windows import fixed_plan

    start = np.array([0, 2, 3, 6, 9])
    stop = np.array([2, 3, 6, 9, 10])
    plan = fixed_plan(start, stop, context=4)
    # words 0-2 have fewer than 4 tokens before them: windows [0,2), [0,3), [0,6) -> one pass [0,6)
    windows = [(plan.starts[k], plan.stops[k]) for k in plan.word_window]
    assert windows == [(0, 6), (0, 6), (0, 6), (2, 9), (5, 10)]
    assert len(plan.starts) == 3
