"""The answer on the real model (all-MiniLM-L6-v2): quotes that answer, sources that check out."""

from __future__ import annotations

import pytest

from minutes.build import build_index
from minutes.embed import Embedder, load_embedder
from minutes.features.answer import NO_HITS, build_answer, verify
from minutes.search.hybrid import Searcher
from minutes.storage import open_index

from .conftest import CORPUS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Searcher, Embedder]:
    embedder = load_embedder("minilm", threads=2)
    index_dir = tmp_path_factory.mktemp("answer-index")
    build_index([CORPUS], index_dir, embedder)
    return Searcher(open_index(index_dir), embedder), embedder


@pytest.mark.parametrize(("question", "expected"), [
    ("what was said about short breaks", "short breaks"),
    ("respite for disabled children", "respite"),
    ("what did the committee say about earned autonomy", "autonomy"),
])
def test_real_answers_quote_the_passages(real: tuple[Searcher, Embedder], question: str, expected: str) -> None:
    searcher, embedder = real
    answer = build_answer(question, searcher.search(question, 10).hits, embedder)
    assert answer.answered, answer.message
    assert any(expected in q.text.lower() for q in answer.quotes), answer.quotes
    cited = {c.number: c.hit for c in answer.citations}
    for quote in answer.quotes:
        verify(quote.text, cited[quote.citation])


def test_real_off_topic_question_has_no_answer(real: tuple[Searcher, Embedder]) -> None:
    searcher, embedder = real
    answer = build_answer("spaceship koala", searcher.search("spaceship koala", 10).hits, embedder)
    assert not answer.answered and answer.message == NO_HITS
