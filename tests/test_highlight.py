"""Highlighting marks the words the keyword engine matched: one stemmer (Snowball English)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from minutes.features.highlight import highlight_spans, query_terms
from minutes.text.stem import stem


def marked(text: str, *terms: str) -> list[str]:
    return [text[s:e] for s, e in highlight_spans(text, terms)]


@pytest.mark.parametrize(("text", "terms", "marks"), [
    ("The policy on policies was agreed.", ["policies"], ["policy", "policies"]),
    ("Short breaks, a short break and breakfast.", ["breaks"], ["breaks", "break"]),
    ("Breaking news: the BREAKS were cut.", ["break"], ["Breaking", "BREAKS"]),
    ("short\n  breaks; short-break care; short notice", ["short breaks"], ["short\n  breaks", "short-break"]),
    ("Councillors met the council.", ["council"], ["council"]),
    ("Agreed. The budget (£4.5m) for 2025", ["budgets", "2025"], ["budget", "2025"]),
    ("nothing here", ["   ", "absent"], []),
])
def test_terms_mark_the_words_with_the_same_stem(text: str, terms: list[str], marks: list[str]) -> None:
    assert marked(text, *terms) == marks


def test_spans_are_sorted_merged_offsets() -> None:
    text = "Home to school transport policy"
    spans = highlight_spans(text, ["school transport", "transport policy", "home"])
    assert spans == [(0, 4), (8, len(text))]


def test_stems_agree_with_the_keyword_engine() -> None:
    # Snowball English, as tantivy's en_stem (and FTS5's porter, for these words) reduce them.
    assert stem("policies") == stem("policy") == stem("Policy") == "polici"
    assert stem("breaks") == stem("breaking") == "break" != stem("breakfast")


def test_query_policies_highlights_policy_on_the_search_page(client: TestClient) -> None:
    terms = query_terms("policies")
    assert terms == ("policies",)
    soup = BeautifulSoup(client.get("/", params={"q": "policies", "k": 20}).text, "html.parser")
    marks = {m.text.lower() for m in soup.select("li.hit mark")}
    assert "policy" in marks, marks  # the seed papers say "policy", never "policies"
