"""The search, filter, facet, timeline, answer, document and export routes answer the same on
Milvus as on the local index: the seed corpus built into both, the same requests to both apps.

Milvus here is the 2.3 standalone server with the local keyword index beside it
(`?keyword=local`), so keyword scores are FTS5's on both sides and only the vectors and
passages come from Milvus; floats are compared to 3 decimals (float32 inner products)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.settings import Settings
from minutes.storage import open_backend

from .conftest import CORPUS

pytestmark = [pytest.mark.slow, pytest.mark.milvus]

SEARCHES = [
    {"q": "what was said about short breaks"},
    {"q": "budget savings", "council": "stockport metropolitan borough council"},
    {"q": "children's services", "from": "2018", "to": "2019-12"},
    {"q": "care placements", "decisions": "1"},
    {"q": '"short breaks" -agency', "procedural": "1"},
    {"q": "transport", "committee": "Children & Families Scrutiny Committee"},
    {"q": "Zanzibar depot"},  # nothing: the floor's "no results" on both
]


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items() if k not in ("build", "build_id", "built_at")}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, milvus_server: Any) -> Iterator[tuple[TestClient, TestClient]]:
    from minutes.web.app import create_app

    embedder = HashingEmbedder()
    local_dir, milvus_dir = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("milvus")
    url = f"{milvus_server.url}/features?keyword=local"
    build_index([CORPUS], local_dir, embedder)
    build_index([CORPUS], milvus_dir, embedder, backend=open_backend(milvus_dir, url))
    local = create_app(Settings(index_dir=local_dir, model="hashing"), embedder=embedder)
    on_milvus = create_app(Settings(index_dir=milvus_dir, model="hashing", backend=url), embedder=embedder)
    with TestClient(local) as a, TestClient(on_milvus) as b:
        yield a, b


def _both(clients: tuple[TestClient, TestClient], path: str, params: dict[str, str]) -> tuple[Any, Any]:
    local, on_milvus = (c.get(path, params=params) for c in clients)
    assert local.status_code == on_milvus.status_code, (path, params, on_milvus.text[:500])
    if local.headers["content-type"].startswith("application/json"):
        return _rounded(local.json()), _rounded(on_milvus.json())
    return local.content, on_milvus.content


@pytest.mark.parametrize("params", SEARCHES, ids=lambda p: p["q"][:20])
def test_search_browse_timeline_and_answer_agree(clients: tuple[TestClient, TestClient],
                                                 params: dict[str, str]) -> None:
    for path in ("/api/search", "/api/browse", "/api/timeline", "/api/answer"):
        local, on_milvus = _both(clients, path, params | {"k": "10"})
        assert local == on_milvus, path


def test_facets_and_sorting_agree(clients: tuple[TestClient, TestClient]) -> None:
    for sort in ("relevance", "newest", "oldest"):
        local, on_milvus = _both(clients, "/api/browse", {"q": "budget", "sort": sort, "k": "5", "page": "2"})
        assert local == on_milvus and local["facets"]


def test_documents_and_exports_agree(clients: tuple[TestClient, TestClient]) -> None:
    hits = clients[0].get("/api/search", params={"q": "short breaks", "k": "3"}).json()["hits"]
    assert hits
    for hit in hits:
        local, on_milvus = _both(clients, f"/api/documents/{hit['document_id']}", {})
        assert local == on_milvus and local["text"]
    for format in ("md", "csv", "docx"):
        local, on_milvus = _both(clients, "/api/export", {"q": "short breaks", "format": format})
        if format == "docx":  # a zip with its own timestamps: compare sizes
            assert abs(len(local) - len(on_milvus)) < 64
        else:
            assert local == on_milvus and local
    chosen = {"passage": [h["passage_id"] for h in hits], "format": "md"}
    local, on_milvus = _both(clients, "/api/export", chosen)  # type: ignore[arg-type]
    assert local == on_milvus
