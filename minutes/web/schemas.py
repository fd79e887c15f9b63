"""Every JSON shape of the API, once: the routes return these models, and `minutes search --json`
prints `SearchOut` too (`search_json`), so the CLI and the API cannot drift apart.

Each model is built from the library's records by a `from_*` constructor; nothing else turns a
record into JSON (no dict builders, no `__dict__`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field

from minutes.features.browse import Sort
from minutes.records import DocumentInfo, Filters, Hit, Passage, SearchResult
from minutes.urls import source_link, web_url, web_urls
from minutes.web.urls import context_url

if TYPE_CHECKING:
    from minutes.features.answer import Answer, Citation
    from minutes.features.browse import Browse, FacetValue
    from minutes.features.timeline import MeetingGroup, Period


class BuildFacts(Protocol):
    """What /healthz reports of the build being served (its manifest)."""

    @property
    def documents(self) -> int: ...
    @property
    def passages(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def built_at(self) -> str: ...


class ErrorBody(BaseModel):
    """The body of every error response."""

    ok: bool = False
    error: str
    status: int


class FiltersOut(BaseModel):
    council: str | None
    committee: str | None
    date_from: str | None
    date_to: str | None
    document: str | None
    decisions_only: bool
    include_procedural: bool

    @classmethod
    def from_filters(cls, filters: Filters) -> FiltersOut:
        return cls.model_validate(filters.as_dict())


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

    @classmethod
    def from_hit(cls, hit: Hit) -> HitOut:
        doc, passage = hit.document, hit.passage
        return cls(
            rank=hit.rank, score=hit.score, semantic_score=hit.semantic_score, keyword_rank=hit.keyword_rank,
            text=passage.text, document_id=doc.document_id, passage_id=passage.passage_id,
            char_start=passage.char_start, char_end=passage.char_end, kind=passage.kind, heading=passage.heading,
            page=passage.page, council=doc.council, committee=doc.committee, date=doc.date, item=doc.item,
            title=doc.title, source_url=source_link(hit), see_also=web_urls(doc.see_also),
            attribution=doc.attribution, context_url=context_url(doc.document_id, passage.ordinal),
        )


class SearchOut(BaseModel):
    query: str
    filters: FiltersOut
    total: int
    hits: list[HitOut]
    message: str | None

    @classmethod
    def from_result(cls, result: SearchResult) -> SearchOut:
        return cls(query=result.query, filters=FiltersOut.from_filters(result.filters), total=result.total,
                   hits=[HitOut.from_hit(h) for h in result.hits], message=result.message)


def search_json(result: SearchResult) -> str:
    """What `minutes search --json` prints: the body of /api/search, indented."""
    return json.dumps(SearchOut.from_result(result).model_dump(mode="json"), indent=2, ensure_ascii=False)


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

    @classmethod
    def from_citation(cls, citation: Citation) -> CitationOut:
        hit = HitOut.from_hit(citation.hit)
        return cls.model_validate({"number": citation.number, **hit.model_dump(include=set(cls.model_fields))})


class AnswerOut(BaseModel):
    query: str
    answered: bool
    message: str | None
    quotes: list[QuoteOut]
    citations: list[CitationOut]

    @classmethod
    def from_answer(cls, answer: Answer) -> AnswerOut:
        """The answer with its numbered citations: each quote names the citation it comes from."""
        return cls(query=answer.query, answered=answer.answered, message=answer.message,
                   quotes=[QuoteOut(text=q.text, citation=q.citation, score=q.score) for q in answer.quotes],
                   citations=[CitationOut.from_citation(c) for c in answer.citations])


class FacetOut(BaseModel):
    value: str
    count: int
    selected: bool

    @classmethod
    def from_value(cls, value: FacetValue) -> FacetOut:
        return cls(value=value.value, count=value.count, selected=value.selected)


class BrowseOut(BaseModel):
    query: str
    filters: FiltersOut
    total: int
    capped: bool
    sort: Sort
    page: int
    pages: int
    per_page: int
    decisions: int
    facets: dict[str, list[FacetOut]]
    hits: list[HitOut]
    message: str | None

    @classmethod
    def from_browse(cls, found: Browse) -> BrowseOut:
        return cls(
            query=found.result.query, filters=FiltersOut.from_filters(found.result.filters), total=found.total,
            capped=found.capped, sort=found.sort, page=found.page, pages=found.pages,
            per_page=found.per_page, decisions=found.decisions,
            facets={name: [FacetOut.from_value(v) for v in values] for name, values in found.facets.items()},
            hits=[HitOut.from_hit(h) for h in found.hits], message=found.result.message,
        )


class PeriodOut(BaseModel):
    period: str
    start: str
    end: str
    count: int

    @classmethod
    def from_period(cls, period: Period) -> PeriodOut:
        return cls(period=period.label, start=period.start.isoformat(), end=period.end.isoformat(),
                   count=period.count)


class MeetingOut(BaseModel):
    date: str | None
    council: str | None
    committee: str | None
    hits: list[HitOut]

    @classmethod
    def from_group(cls, group: MeetingGroup) -> MeetingOut:
        return cls(date=group.date, council=group.council, committee=group.committee,
                   hits=[HitOut.from_hit(h) for h in group.hits])


class TimelineOut(BaseModel):
    query: str
    total: int
    periods: list[PeriodOut]
    meetings: list[MeetingOut]

    @classmethod
    def from_hits(cls, query: str, hits: list[Hit]) -> TimelineOut:
        from minutes.features.timeline import by_meeting, periods

        return cls(query=query, total=len(hits), periods=[PeriodOut.from_period(p) for p in periods(hits)],
                   meetings=[MeetingOut.from_group(g) for g in by_meeting(hits)])


class PassageOut(BaseModel):
    passage_id: str
    ordinal: int
    char_start: int
    char_end: int
    kind: str
    page: int | None

    @classmethod
    def from_passage(cls, p: Passage) -> PassageOut:
        return cls(passage_id=p.passage_id, ordinal=p.ordinal, char_start=p.char_start, char_end=p.char_end,
                   kind=p.kind, page=p.page)


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

    @classmethod
    def build(cls, info: DocumentInfo, text: str, passages: list[Passage],
              extra: dict[str, Any] | None = None) -> DocumentOut:
        ocr_pages = [int(n) for n in str((extra or {}).get("ocr_pages") or "").split(",") if n.strip().isdigit()]
        return cls(document_id=info.document_id, title=info.title, council=info.council, committee=info.committee,
                   item=info.item, date=info.date, source_url=web_url(info.source_url),
                   see_also=web_urls(info.see_also), attribution=info.attribution, text=text,
                   passages=[PassageOut.from_passage(p) for p in passages], ocr_pages=ocr_pages)


class HealthOut(BaseModel):
    ok: bool
    documents: int
    passages: int
    model: str
    built_at: str
    query_runtime: str | None = Field(None, description="What embeds the questions: `onnx` or `torch` "
                                                        "(none for the test models).")

    @classmethod
    def from_manifest(cls, manifest: BuildFacts, query_runtime: str | None = None) -> HealthOut:
        return cls(ok=True, documents=manifest.documents, passages=manifest.passages, model=manifest.model,
                   built_at=manifest.built_at, query_runtime=query_runtime)
