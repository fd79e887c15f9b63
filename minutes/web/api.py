"""The JSON API: /api/search, /api/documents/{id}, /healthz. Shapes: minutes/web/schemas.py."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from minutes.web.deps import FiltersDep, K, QueryText, SearcherDep
from minutes.web.errors import ERROR_RESPONSES
from minutes.web.schemas import DocumentOut, HealthOut, SearchOut

router = APIRouter()


@router.get("/api/search", response_model=SearchOut, responses=ERROR_RESPONSES, tags=["search"])
def api_search(q: QueryText, searcher: SearcherDep, filters: FiltersDep, k: K = 10) -> SearchOut:
    """Ranked passages for a natural-language question or keywords."""
    return SearchOut.from_result(searcher.search(q, k, filters))


def document_out(searcher: SearcherDep, document_id: str) -> DocumentOut:
    document = searcher.index.passages.document(document_id)
    if document is None:
        raise HTTPException(404, f"no document with id '{document_id}'")
    passages = searcher.index.passages.document_passages(document_id)
    return DocumentOut.build(document.info, document.text, passages, document.extra)


@router.get("/api/documents/{document_id:path}", response_model=DocumentOut, responses=ERROR_RESPONSES,
            tags=["documents"])
def api_document(document_id: str, searcher: SearcherDep) -> DocumentOut:
    """A whole document with its passages' offsets."""
    return document_out(searcher, document_id)


@router.get("/healthz", response_model=HealthOut, responses=ERROR_RESPONSES, tags=["health"])
def healthz(searcher: SearcherDep) -> HealthOut:
    """Whether an index is being served, and which."""
    return HealthOut.from_manifest(searcher.index.manifest, getattr(searcher.embedder, "query_runtime", None))
