"""The answer with citations: extractive, every quote verbatim in the passage it cites."""

from __future__ import annotations

from dataclasses import replace

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from minutes.embed import HashingEmbedder
from minutes.features.answer import (
    NO_HITS,
    NOT_ANSWERED,
    Answer,
    CitationError,
    Quote,
    build_answer,
    checked,
    sentence_spans,
    verify,
)
from minutes.search.hybrid import Searcher

QUESTION = "what was said about short breaks"


@pytest.fixture(scope="module")
def answer(searcher: Searcher, embedder: HashingEmbedder) -> Answer:
    return build_answer(QUESTION, searcher.search(QUESTION, 10).hits, embedder)


def test_sentence_spans_are_exact_offsets() -> None:
    text = "·   First point is made here. Second one follows.\nA line without a stop\n\n  Last."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["First point is made here.", "Second one follows.",
                                             "A line without a stop", "Last."]


def test_answer_quotes_sentences_verbatim_with_numbered_citations(answer: Answer) -> None:
    assert answer.answered and answer.quotes and answer.message is None
    by_number = {c.number: c.hit for c in answer.citations}
    assert sorted(by_number) == list(range(1, len(by_number) + 1))
    for quote in answer.quotes:
        assert quote.text in by_number[quote.citation].passage.text
        assert "short break" in quote.text.lower() or quote.score > 0
    assert len(answer.quotes) <= 3 and len({q.text for q in answer.quotes}) == len(answer.quotes)


def test_tampered_quote_is_refused(answer: Answer) -> None:
    hit = answer.citations[0].hit
    with pytest.raises(CitationError, match="does not appear in passage"):
        verify(answer.quotes[0].text.replace("short", "long"), hit)
    tampered = replace(answer, quotes=(Quote(answer.quotes[0].text + " And the council agreed to everything.",
                                             answer.quotes[0].citation, 1.0), *answer.quotes[1:]))
    kept = checked(tampered)
    assert all(q.text in {x.text for x in answer.quotes[1:]} for q in kept.quotes)
    assert not any("agreed to everything" in q.text for q in kept.quotes)


def test_quote_citing_the_wrong_passage_is_refused(answer: Answer, searcher: Searcher) -> None:
    other = next(h for h in searcher.search("home to school transport", 10).hits
                 if answer.quotes[0].text not in h.passage.text)
    wrong = replace(answer, citations=tuple(replace(c, hit=other) for c in answer.citations))
    refused = checked(wrong)
    assert not refused.answered and refused.quotes == () and refused.message == NOT_ANSWERED


def test_unanswerable_question_says_so(searcher: Searcher, embedder: HashingEmbedder) -> None:
    hits = searcher.search("short breaks", 10).hits
    weak = build_answer("short breaks", hits, embedder, threshold=5.0)
    assert not weak.answered and weak.quotes == () and weak.message == NOT_ANSWERED
    none = build_answer("anything", [], embedder)
    assert not none.answered and none.message == NO_HITS


def test_api_answer_shape(client: TestClient) -> None:
    body = client.get("/api/answer", params={"q": QUESTION}).json()
    assert set(body) == {"query", "answered", "message", "quotes", "citations"}
    assert body["answered"] is True
    citations = {c["number"]: c for c in body["citations"]}
    for quote in body["quotes"]:
        cited = citations[quote["citation"]]
        assert quote["text"] in cited["text"]
        assert cited["council"] and cited["context_url"].startswith("/documents/")


def test_api_answer_without_matches(client: TestClient) -> None:
    body = client.get("/api/answer", params={"q": "zzzz qqqq xxxx"}).json()
    assert body["answered"] is False and body["quotes"] == [] and body["message"]


def test_search_page_shows_the_answer_above_results(client: TestClient) -> None:
    soup = BeautifulSoup(client.get("/", params={"q": QUESTION}).text, "html.parser")
    section = soup.select_one("section.answer")
    assert section is not None
    assert section.find_next("section", class_="results") is not None  # answer first
    refs = section.select("a.cite-ref")
    sources = section.select("ol.sources li")
    assert refs and sources
    for ref in refs:
        assert ref["href"].startswith("/documents/") and "#p" in ref["href"]
        number = int(ref.text.strip("[]"))
        assert 1 <= number <= len(sources)
    assert "Stockport" in sources[0].text


def test_best_sentence_is_outlined_in_each_snippet(client: TestClient) -> None:
    soup = BeautifulSoup(client.get("/", params={"q": QUESTION}).text, "html.parser")
    hits = soup.select("li.hit")
    best = [h.select_one("blockquote .best") for h in hits]
    assert sum(b is not None for b in best) >= len(hits) // 2
    for hit, span in zip(hits, best, strict=True):
        if span is not None:
            assert span.text in hit.select_one("blockquote").text
