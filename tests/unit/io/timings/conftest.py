"""Fixtures shared by the word-timing tests."""

from __future__ import annotations

import pytest


@pytest.fixture()
def gentle_doc() -> dict:
    """A Gentle align.json in its published structure (Narratives stimuli/gentle/<story>/align.json)."""
    transcript = 'Once upon a time, "Tara" went to twenty-one shops.\n'

    def item(word, case, start=None, end=None):
        s = transcript.index(word if word != "one" else "-one") + (1 if word == "one" else 0)
        d = {"case": case, "startOffset": s, "endOffset": s + len(word), "word": word}
        if case == "success":
            d.update(alignedWord=word.lower(), start=start, end=end,
                     phones=[{"duration": end - start, "phone": "x_S"}])
        return d

    words = [item("Once", "success", 0.5, 0.8), item("upon", "success", 0.8, 1.1),
             item("a", "success", 1.1, 1.2), item("time", "success", 1.2, 1.6),
             item("Tara", "not-found-in-audio"), item("went", "not-found-in-audio"),
             {"case": "not-found-in-transcript", "start": 2.0, "end": 2.1, "word": "uh"},
             item("to", "success", 2.2, 2.3), item("twenty", "success", 2.3, 2.6),
             item("one", "success", 2.6, 2.8), item("shops", "success", 2.8, 3.3)]
    return {"transcript": transcript, "words": words}
