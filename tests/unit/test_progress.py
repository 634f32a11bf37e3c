"""Progress bars on the library's long loops (brainalign.progress)."""

from __future__ import annotations

from brainalign.progress import progress


def test_disabled_returns_the_items_untouched():
    items = iter([1, 2, 3])
    assert progress(items, desc="x", enabled=False) is items


def test_enabled_wraps_in_a_tqdm_bar_that_yields_every_item(capsys):
    from tqdm.auto import tqdm

    bar = progress(range(4), desc="scoring", unit="batch")
    assert isinstance(bar, tqdm)
    assert list(bar) == [0, 1, 2, 3]
    assert bar.desc == "scoring" and bar.unit == "batch" and bar.total == 4
    assert bar.mininterval == 5.0                      # a few lines a minute in a SLURM output file
    assert capsys.readouterr().out == ""               # the bar is written to stderr, never stdout


def test_total_is_passed_for_items_without_a_length():
    bar = progress((i for i in range(3)), desc="steps", total=3)
    assert bar.total == 3 and list(bar) == [0, 1, 2]
