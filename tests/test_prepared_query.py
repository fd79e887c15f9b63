"""A page embeds its question once: the results, the facets (each a search of its own), the
timeline and the answer share one prepared query."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from minutes.embed import HashingEmbedder
from minutes.settings import Settings

QUESTION = "what was said about short breaks for disabled children"
COUNCIL, COMMITTEE, YEAR = "London Borough of Haringey", "Children and Young People's Scrutiny Panel", "2018"


class CountingEmbedder(HashingEmbedder):
    """The test embedder, counting how often each text is embedded."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.embedded.extend(texts)
        return super().encode(texts, batch_size)


@pytest.fixture
def counted(seed_index_dir: Path) -> Iterator[tuple[TestClient, CountingEmbedder]]:
    from minutes.web.app import create_app

    embedder = CountingEmbedder()
    with TestClient(create_app(Settings(index_dir=seed_index_dir, model="hashing"), embedder=embedder)) as client:
        yield client, embedder


@pytest.mark.parametrize("path", ["/", "/timeline", "/api/answer", "/api/browse", "/api/timeline", "/api/search"])
def test_a_request_embeds_its_question_once(counted: tuple[TestClient, CountingEmbedder], path: str) -> None:
    client, embedder = counted
    # Every facet filter set: each facet is counted by a search without its own filter.
    params = {"q": QUESTION, "council": COUNCIL, "committee": COMMITTEE, "date_from": YEAR, "date_to": YEAR}
    embedder.embedded.clear()
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert embedder.embedded.count(QUESTION) == 1, embedder.embedded.count(QUESTION)
    if path in ("/", "/api/browse"):
        assert "Haringey" in response.text  # the search found passages, so the facets were counted


def test_facets_really_search_again(seed_index_dir: Path) -> None:
    """The count above means something: with facet filters set, the facets run more searches."""
    from minutes.features.browse import browse
    from minutes.records import Filters
    from minutes.search.hybrid import Searcher
    from minutes.storage import open_index

    embedder = CountingEmbedder()
    searcher = Searcher(open_index(seed_index_dir), embedder)
    calls: list[str] = []
    real_search = searcher.search

    def search(query, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(getattr(query, "text", query))
        return real_search(query, *args, **kwargs)

    searcher.search = search  # type: ignore[method-assign]
    found = browse(searcher, QUESTION, Filters(council=COUNCIL, committee=COMMITTEE))
    assert found.hits and len(calls) == 3 and embedder.embedded.count(QUESTION) == 1
