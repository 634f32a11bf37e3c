"""brainalign.demo.stories: the shipped stories and the speech-rate timing model."""

import numpy as np
import pytest

from brainalign.demo import available_stories, load_stories, story_words
from brainalign.io.timings import WORD_COLUMNS


def test_at_least_two_original_stories_of_1200_words():
    stories = load_stories()
    assert {"lighthouse", "orchard"} <= set(stories)
    for name, text in stories.items():
        assert len(text.split()) >= 1200, name
        assert '"' in text and "," in text and "." in text  # dialogue and punctuation
    assert list(load_stories(["orchard", "lighthouse"])) == ["orchard", "lighthouse"]
    assert available_stories() == sorted(stories)


def test_unknown_story_names_the_file():
    with pytest.raises(FileNotFoundError, match=r"nosuchstory\.txt.*available: .*lighthouse"):
        load_stories(["nosuchstory"])


def test_word_table_contract_and_rate():
    text = load_stories(["lighthouse"])["lighthouse"]
    table = story_words(text, "lighthouse", rate=2.5, seed=0, lead_in=2.0)
    assert list(table.columns) == WORD_COLUMNS
    assert list(table["word"]) == text.split()  # punctuation and casing kept
    assert table["word"].iloc[0] == "The" and (table["story"] == "lighthouse").all()
    assert (table["word_index"].to_numpy() == np.arange(len(table))).all()
    assert (table["flags"] == "").all()
    on, off = table["onset"].to_numpy(), table["offset"].to_numpy()
    assert on[0] == pytest.approx(2.0)
    assert (off > on).all() and (on[1:] >= off[:-1]).all()
    # the whole story lasts n / rate seconds after the lead-in (up to the 0.1 ms rounding)
    assert off[-1] - 2.0 == pytest.approx(len(table) / 2.5, abs=1e-3)


def test_durations_grow_with_length_and_pauses_follow_punctuation():
    text = load_stories(["orchard"])["orchard"]
    table = story_words(text, "orchard")
    dur = (table["offset"] - table["onset"]).to_numpy()
    letters = np.array([sum(c.isalnum() for c in w) for w in table["word"]])
    assert np.corrcoef(dur, letters)[0, 1] > 0.8
    gap = table["onset"].to_numpy()[1:] - table["offset"].to_numpy()[:-1]
    words = table["word"].to_numpy()[:-1]
    core = np.array([w.rstrip("\"')") for w in words])
    sentence_end = np.array([c.endswith((".", "!", "?")) for c in core])
    comma = np.array([c.endswith(",") for c in core])
    plain = ~sentence_end & ~comma
    assert gap[sentence_end].mean() > gap[comma].mean() > 2 * gap[plain].mean()


def test_timings_are_deterministic_and_seeded():
    text = load_stories(["orchard"])["orchard"]
    a = story_words(text, "orchard", seed=3)
    b = story_words(text, "orchard", seed=3)
    c = story_words(text, "orchard", seed=4)
    assert a.equals(b)
    assert not np.allclose(a["onset"], c["onset"])
    faster = story_words(text, "orchard", rate=3.0, seed=3)
    assert faster["offset"].iloc[-1] < a["offset"].iloc[-1]


def test_bad_input():
    with pytest.raises(ValueError, match="rate"):
        story_words("Some words.", "x", rate=0)
    with pytest.raises(ValueError, match="no words"):
        story_words("   \n\n ", "empty")
