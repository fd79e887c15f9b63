"""Answers after questions: a question passage hands part of its score to the passage after it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.search import fusion
from minutes.search.hybrid import Searcher, Tuning
from minutes.settings import Settings
from minutes.storage import open_index

PLACES = {1: ("minutes", 0), 2: ("minutes", 1), 3: ("minutes", 2), 4: ("report", 0)}


def texts_of(texts: dict[int, str]) -> tuple[Callable[[Sequence[int]], Mapping[int, str]], list[list[int]]]:
    """A text fetcher over `texts` and the list of what it was asked for."""
    asked: list[list[int]] = []

    def fetch(ids: Sequence[int]) -> Mapping[int, str]:
        asked.append(list(ids))
        return {pid: texts[pid] for pid in ids}
    return fetch, asked


@pytest.mark.parametrize("text, expected", [
    ("Councillor Hay asked what the council would do about potholes?", True),
    ('She asked: "will the library stay open?"', True),
    ("(Is a separate assessment needed?)  ", True),
    ("The council would repair potholes. Was that clear? It was.", False),
    ("No question here.", False),
])
def test_asks_reads_the_end_of_the_passage(text: str, expected: bool) -> None:
    assert fusion.asks(text) is expected


def test_a_question_hands_its_score_to_the_next_passage_only() -> None:
    fused = {1: 4.0, 2: 1.0, 3: 0.5, 4: 2.0}
    fetch, asked = texts_of({1: "What will be done about potholes?", 2: "We doubled the budget.",
                             3: "Next item.", 4: "Potholes were reported."})
    boosted = fusion.reply_boost(fused, PLACES, fetch, weight=0.5, top=3)
    assert boosted == {1: 4.0, 2: 1.0 + 0.5 * 4.0, 3: 0.5, 4: 2.0}
    assert asked == [[1, 4, 2]]  # only the best `top` passages' texts are fetched


def test_no_reply_when_the_next_passage_is_another_document_or_not_a_candidate() -> None:
    fused = {3: 4.0, 4: 1.0}  # passage 3 is the last of "minutes"; nothing follows it there
    fetch, _ = texts_of({3: "Any other business?", 4: "Report text."})
    assert fusion.reply_boost(fused, PLACES, fetch, weight=1.0) == fused


def test_weight_zero_fetches_nothing() -> None:
    fetch, asked = texts_of({1: "Why?"})
    assert fusion.reply_boost({1: 1.0}, PLACES, fetch, weight=0.0) == {1: 1.0}
    assert asked == []


def turn(speaker: str, words: str, filler: str, ending: str) -> str:
    """One speaker's turn of about 150 words: long enough that the chunker keeps turns apart."""
    body = " ".join(f"{filler} number {n} was noted." for n in range(30))
    return f"**{speaker}:** {words} {body} {ending}"


@pytest.fixture(scope="module")
def transcript_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committee hearing: a member's question (ending on "?") and the cabinet member's answer."""
    folder = tmp_path_factory.mktemp("transcript")
    turns = [
        turn("Chair", "Welcome to the scrutiny committee.", "apology", "We move to questions."),
        turn("Councillor Hay", "Pothole repairs on rural roads are slow; pothole repairs on rural roads matter.",
             "resident complaint", "What will the cabinet do about pothole repairs on rural roads?"),
        turn("Cabinet Member", "We have doubled the highways maintenance budget for roads.",
             "crew contract", "The backlog will be cleared by March."),
        turn("Chair", "Thank you. The next item is the library consultation.", "library visitor", "Agreed."),
    ]
    (folder / "hearing.md").write_text("---\ndocument_id: hearing\n---\n" + "\n\n".join(turns) + "\n")
    index_dir = tmp_path_factory.mktemp("transcript-index")
    build_index([folder], index_dir, HashingEmbedder())
    return index_dir


@pytest.fixture(scope="module")
def transcript(transcript_index: Path) -> Searcher:
    return Searcher(open_index(transcript_index), HashingEmbedder())


def test_the_answer_rises_above_the_question_in_a_real_index(transcript: Searcher) -> None:
    query = "pothole repairs on rural roads"
    plain = transcript.search(query, 4).hits
    assert plain[0].passage.text.rstrip().endswith("?")  # the questioner's words match best
    answer_ordinal = plain[0].passage.ordinal + 1
    plain_rank = next(h.rank for h in plain if h.passage.ordinal == answer_ordinal)
    replied = transcript.search(query, 4, tuning=Tuning(reply_weight=1.0)).hits
    replied_rank = next(h.rank for h in replied if h.passage.ordinal == answer_ordinal)
    assert replied_rank < plain_rank
    assert replied[0].passage.ordinal == answer_ordinal
    assert "highways maintenance" in replied[0].passage.text


def test_reply_boost_is_off_by_default(transcript: Searcher) -> None:
    assert Tuning().reply_weight == 0.0
    query = "pothole repairs on rural roads"
    default = [h.passage.ordinal for h in transcript.search(query, 4).hits]
    explicit = [h.passage.ordinal for h in transcript.search(query, 4, tuning=Tuning(reply_weight=0.0)).hits]
    assert default == explicit


@pytest.mark.parametrize("weight, first_words", [(0.0, "Pothole repairs"), (1.0, "We have doubled")])
def test_the_server_takes_the_reply_weight_from_its_settings(transcript_index: Path, monkeypatch: pytest.MonkeyPatch,
                                                             weight: float, first_words: str) -> None:
    from minutes.web.app import create_app

    monkeypatch.setenv("MINUTES_REPLY_WEIGHT", str(weight))
    settings = Settings(index_dir=transcript_index, model="hashing")
    assert settings.reply_weight == weight
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        hits = client.get("/api/search", params={"q": "pothole repairs on rural roads", "k": 3}).json()["hits"]
    assert first_words in hits[0]["text"]


@pytest.mark.parametrize("value", ["-0.1", "2.5", "lots"])
def test_a_bad_reply_weight_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MINUTES_REPLY_WEIGHT", value)
    with pytest.raises(ValidationError, match="reply_weight"):
        Settings()
