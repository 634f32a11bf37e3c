"""Per-subject timings compared across subjects within a tolerance (brainalign.io.timings.compare)."""

from __future__ import annotations

import pandas as pd
import pytest

from brainalign.errors import InputError
from brainalign.io.timings import check_subject_timings


def test_check_subject_timings_tolerance():
    ref = pd.DataFrame({"word": ["a", "b"], "norm": ["a", "b"], "onset": [1.0, 2.0]})
    same = ref.assign(onset=[1.0004, 2.0], word=["A", "b"], norm=["a", "b"])
    check_subject_timings(ref, same, subject="02", story="s", source="x.tsv")  # within 1 ms, same norm
    later = ref.assign(onset=[1.0, 2.01])
    with pytest.raises(InputError, match=r"x.tsv: subject 02, story s: 1 word onset\(s\) differ .* word 1 \('b'\)"):
        check_subject_timings(ref, later, subject="02", story="s", source="x.tsv")
    check_subject_timings(ref, later, subject="02", story="s", source="x.tsv", onset_tolerance=None)  # words only
