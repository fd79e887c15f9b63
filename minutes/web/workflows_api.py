"""The JSON API of the workflows: /api/answer, /api/browse (facets, sort, pages), /api/timeline."""

from __future__ import annotations

from fastapi import APIRouter

from minutes.features.answer import build_answer
from minutes.features.browse import browse
from minutes.web.deps import FiltersDep, K, PageNumber, QueryText, SearcherDep, Sort
from minutes.web.errors import ERROR_RESPONSES
from minutes.web.schemas import AnswerOut, BrowseOut, TimelineOut

router = APIRouter()


@router.get("/api/answer", response_model=AnswerOut, responses=ERROR_RESPONSES, tags=["search"])
def api_answer(q: QueryText, searcher: SearcherDep, filters: FiltersDep) -> AnswerOut:
    """A short answer quoted from the best passages, each quote with a numbered citation.

    `answered` is false, with a message, when the passages found do not answer the question.
    """
    prepared = searcher.prepare(q)
    result = searcher.search(prepared, 10, filters)
    return AnswerOut.from_answer(build_answer(prepared, result.hits, searcher.embedder))


@router.get("/api/browse", response_model=BrowseOut, responses=ERROR_RESPONSES, tags=["search"])
def api_browse(q: QueryText, searcher: SearcherDep, filters: FiltersDep, sort: Sort = "relevance",
               page: PageNumber = 1, k: K = 10) -> BrowseOut:
    """One page of results, sorted, with counts per council, committee and year."""
    return BrowseOut.from_browse(browse(searcher, q, filters, sort, page, k))


@router.get("/api/timeline", response_model=TimelineOut, responses=ERROR_RESPONSES, tags=["search"])
def api_timeline(q: QueryText, searcher: SearcherDep, filters: FiltersDep) -> TimelineOut:
    """Matching passages counted per period of meeting date, and listed by meeting, oldest first."""
    return TimelineOut.from_hits(q, browse(searcher, q, filters, facets=False).result.hits)
