"""The JSON API of the workflows: /api/answer, /api/browse (facets, sort, pages), /api/timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from minutes.features.answer import build_answer
from minutes.features.browse import browse
from minutes.features.timeline import by_meeting, periods
from minutes.render import answer_to_dict, hit_to_dict
from minutes.web.api import HitOut
from minutes.web.deps import FiltersDep, K, PageNumber, QueryText, SearcherDep, Sort
from minutes.web.errors import ERROR_RESPONSES

router = APIRouter()


class QuoteOut(BaseModel):
    text: str
    citation: int
    score: float


class CitationOut(BaseModel):
    number: int
    text: str
    document_id: str
    passage_id: str
    kind: str
    page: int | None
    council: str | None
    committee: str | None
    date: str | None
    item: str | None
    title: str | None
    source_url: str | None
    context_url: str


class AnswerOut(BaseModel):
    query: str
    answered: bool
    message: str | None
    quotes: list[QuoteOut]
    citations: list[CitationOut]


class FacetOut(BaseModel):
    value: str
    count: int
    selected: bool


class BrowseOut(BaseModel):
    query: str
    filters: dict[str, Any]
    total: int
    capped: bool
    sort: str
    page: int
    pages: int
    per_page: int
    decisions: int
    facets: dict[str, list[FacetOut]]
    hits: list[HitOut]
    message: str | None


class PeriodOut(BaseModel):
    period: str
    start: str
    end: str
    count: int


class MeetingOut(BaseModel):
    date: str | None
    council: str | None
    committee: str | None
    hits: list[HitOut]


class TimelineOut(BaseModel):
    query: str
    total: int
    periods: list[PeriodOut]
    meetings: list[MeetingOut]


@router.get("/api/answer", response_model=AnswerOut, responses=ERROR_RESPONSES, tags=["search"])
def api_answer(q: QueryText, searcher: SearcherDep, filters: FiltersDep) -> dict[str, Any]:
    """A short answer quoted from the best passages, each quote with a numbered citation.

    `answered` is false, with a message, when the passages found do not answer the question.
    """
    prepared = searcher.prepare(q)
    result = searcher.search(prepared, 10, filters)
    return answer_to_dict(build_answer(prepared, result.hits, searcher.embedder))


@router.get("/api/browse", response_model=BrowseOut, responses=ERROR_RESPONSES, tags=["search"])
def api_browse(q: QueryText, searcher: SearcherDep, filters: FiltersDep, sort: Sort = "relevance",
               page: PageNumber = 1, k: K = 10) -> dict[str, Any]:
    """One page of results, sorted, with counts per council, committee and year."""
    found = browse(searcher, q, filters, sort, page, k)
    return {
        "query": found.result.query, "filters": filters.as_dict(), "total": found.total, "capped": found.capped,
        "sort": found.sort,
        "page": found.page, "pages": found.pages, "per_page": found.per_page, "decisions": found.decisions,
        "facets": {name: [v.__dict__ for v in values] for name, values in found.facets.items()},
        "hits": [hit_to_dict(h) for h in found.hits], "message": found.result.message,
    }


@router.get("/api/timeline", response_model=TimelineOut, responses=ERROR_RESPONSES, tags=["search"])
def api_timeline(q: QueryText, searcher: SearcherDep, filters: FiltersDep) -> dict[str, Any]:
    """Matching passages counted per period of meeting date, and listed by meeting, oldest first."""
    hits = browse(searcher, q, filters, facets=False).result.hits
    return {
        "query": q, "total": len(hits),
        "periods": [{"period": p.label, "start": p.start.isoformat(), "end": p.end.isoformat(), "count": p.count}
                    for p in periods(hits)],
        "meetings": [{"date": g.date, "council": g.council, "committee": g.committee,
                      "hits": [hit_to_dict(h) for h in g.hits]} for g in by_meeting(hits)],
    }
