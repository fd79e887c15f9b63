"""The one sentence splitter: abbreviations in committee papers do not end a sentence."""

from __future__ import annotations

import pytest

from minutes.features.answer import sentence_spans as answer_spans
from minutes.text.sentences import sentence_spans


def cut(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(("text", "sentences"), [
    ("Cllr. Smith moved the motion. It was seconded by Cllr. Jones and agreed.",
     ["Cllr. Smith moved the motion.", "It was seconded by Cllr. Jones and agreed."]),
    ("See para. 3.2 of the report. No. 12 was withdrawn. The budget is £4.5m.",
     ["See para. 3.2 of the report.", "No. 12 was withdrawn.", "The budget is £4.5m."]),
    ("Mr. J. Smith spoke. The meeting ended at 5 p.m. Next item.",
     ["Mr. J. Smith spoke.", "The meeting ended at 5 p.m.", "Next item."]),
    ("RESOLVED that the report be noted\n• Members asked about costs.  \n\n  Last.",
     ["RESOLVED that the report be noted", "• Members asked about costs.", "Last."]),
    ("Officers will help where it is safe to do so. Targeted work continues.",
     ["Officers will help where it is safe to do so.", "Targeted work continues."]),
    ("", []),
])
def test_sentences(text: str, sentences: list[str]) -> None:
    assert cut(text) == sentences


def test_spans_are_offsets_into_the_text() -> None:
    text = "  One sentence here.\r\nTwo.\n\tThree, with a tab before it. Four"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["One sentence here.", "Two.", "Three, with a tab before it.", "Four"]
    assert all(0 <= s < e <= len(text) for s, e in spans) and spans == sorted(spans)


def test_the_answer_quotes_without_the_bullet() -> None:
    text = "·   Cllr. Brown said the policy works. It was noted."
    assert [text[s:e] for s, e in answer_spans(text)] == ["Cllr. Brown said the policy works.", "It was noted."]
