"""The JSON API: /api/search, /api/documents/{id}, /healthz."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from minutes.render import result_to_dict, web_url
from minutes.web.deps import FiltersDep, K, QueryText, SearcherDep
from minutes.web.errors import ERROR_RESPONSES

router = APIRouter()


class HitOut(BaseModel):
    rank: int
    score: float
    semantic_score: float | None
    keyword_rank: int | None
    text: str
    document_id: str
    passage_id: str
    char_start: int
    char_end: int
    kind: str
    heading: str
    page: int | None
    council: str | None
    committee: str | None
    date: str | None
    item: str | None
    title: str | None
    source_url: str | None
    see_also: list[str]
    attribution: str | None
    context_url: str


class SearchOut(BaseModel):
    query: str
    filters: dict[str, Any]
    total: int
    hits: list[HitOut]
    message: str | None


class PassageOut(BaseModel):
    passage_id: str
    ordinal: int
    char_start: int
    char_end: int
    kind: str
    page: int | None


class DocumentOut(BaseModel):
    document_id: str
    title: str | None
    council: str | None
    committee: str | None
    item: str | None
    date: str | None
    source_url: str | None
    see_also: list[str]
    attribution: str | None
    text: str
    passages: list[PassageOut]
    ocr_pages: list[int] = []  # pages whose text was read from scanned images by OCR


class HealthOut(BaseModel):
    ok: bool
    documents: int
    passages: int
    model: str
    built_at: str


@router.get("/api/search", response_model=SearchOut, responses=ERROR_RESPONSES, tags=["search"])
def api_search(q: QueryText, searcher: SearcherDep, filters: FiltersDep, k: K = 10) -> dict[str, Any]:
    """Ranked passages for a natural-language question or keywords."""
    return result_to_dict(searcher.search(q, k, filters))


def document_dict(searcher: SearcherDep, document_id: str) -> dict[str, Any]:
    row = searcher.index.document(document_id)
    if row is None:
        raise HTTPException(404, f"no document with id '{document_id}'")
    passages = searcher.index.document_passages(document_id)
    return {
        "document_id": row["document_id"], "title": row["title"], "council": row["council"],
        "committee": row["committee"], "item": row["item"], "date": row["date_text"],
        "source_url": web_url(row["source_url"]),
        "see_also": [url for url in json.loads(row["see_also"]) if web_url(url)],
        "attribution": row["attribution"], "text": row["text"],
        "ocr_pages": [int(n) for n in (json.loads(row["extra"] or "{}").get("ocr_pages") or "").split(",") if n],
        "passages": [{"passage_id": p.passage_id, "ordinal": p.ordinal, "char_start": p.char_start,
                      "char_end": p.char_end, "kind": p.kind, "page": p.page} for p in passages],
    }


@router.get("/api/documents/{document_id:path}", response_model=DocumentOut, responses=ERROR_RESPONSES,
            tags=["documents"])
def api_document(document_id: str, searcher: SearcherDep) -> dict[str, Any]:
    """A whole document with its passages' offsets."""
    return document_dict(searcher, document_id)


@router.get("/healthz", response_model=HealthOut, responses=ERROR_RESPONSES, tags=["health"])
def healthz(searcher: SearcherDep) -> dict[str, Any]:
    """Whether an index is being served, and which."""
    m = searcher.index.manifest
    return {"ok": True, "documents": m.documents, "passages": m.passages, "model": m.model, "built_at": m.built_at}
