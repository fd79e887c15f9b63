"""Turns library results into what the templates show: links that keep the filters, snippets
cut into escaped pieces (query words marked, best sentence outlined), page titles.

Nothing here builds markup: templates escape every piece.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minutes.features.answer import Answer
from minutes.features.browse import SORTS, FacetValue, year_filter
from minutes.features.export import citation_text, cite
from minutes.features.highlight import highlight_spans, query_terms, segments
from minutes.records import Filters, Hit
from minutes.web.schemas import HitOut
from minutes.web.urls import SEARCH, absolute, context_href, context_url, href, meeting_href

_LABELS: dict[str, str] = {"relevance": "Relevance", "newest": "Newest first", "oldest": "Oldest first"}
SORT_LABELS: dict[str, str] = {sort: _LABELS[sort] for sort in SORTS}  # a new sort order needs its label


def describe(filters: Filters) -> list[tuple[str, dict[str, None]]]:
    """Each active filter as (label, the parameters that remove it)."""
    chips: list[tuple[str, dict[str, None]]] = []
    if filters.council:
        chips.append((filters.council, {"council": None}))
    if filters.committee:
        chips.append((filters.committee, {"committee": None}))
    year = year_filter(filters)
    if year:
        chips.append((f"Year {year}", {"date_from": None, "date_to": None}))
    else:
        if filters.date_from:
            chips.append((f"From {filters.date_from.isoformat()}", {"date_from": None}))
        if filters.date_to:
            chips.append((f"To {filters.date_to.isoformat()}", {"date_to": None}))
    if filters.document:
        chips.append((f"Within document {filters.document}", {"document": None}))
    if filters.decisions_only:
        chips.append(("Decisions only", {"decisions": None}))
    if filters.include_procedural:
        chips.append(("Including procedural items", {"procedural": None}))
    return chips


def chip_links(filters: Filters, params: dict[str, str], path: str = SEARCH) -> list[tuple[str, str]]:
    """Each active filter with the link that removes it."""
    return [(label, href(params, path, **unset)) for label, unset in describe(filters)]


def title(q: str, filters: Filters, sort: str = "relevance", page: int = 1, prefix: str = "") -> str:
    parts = [f"{prefix}{q}" if q else "Search"]
    labels = [label for label, _ in describe(filters)]
    if labels:
        parts.append(", ".join(labels))
    if sort != "relevance":
        parts.append(SORT_LABELS[sort].lower())
    if page > 1:
        parts.append(f"page {page}")
    return " — ".join(parts + ["Minutes"])


def passage_url(base_url: str) -> Callable[[Hit], str]:
    """What citations link to: the passage in context, under the site's address."""
    return lambda hit: absolute(base_url, context_url(hit.document.document_id, hit.passage.ordinal))


def hit_view(hit: Hit, q: str, base_url: str, retrieved: Any,
             best: tuple[int, int] | None, params: dict[str, str]) -> dict[str, Any]:
    """A hit for _hit.html: the API's fields plus snippet parts, links and the citation line."""
    data = HitOut.from_hit(hit).model_dump()
    text = hit.passage.text
    spans = highlight_spans(text, query_terms(q))
    cuts = [(0, best[0], False), (best[0], best[1], True), (best[1], len(text), False)] if best \
        else [(0, len(text), False)]
    parts = []
    for start, end, is_best in cuts:
        if end > start:
            inside = [(max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start]
            parts.append({"best": is_best, "segments": segments(text[start:end], inside)})
    data.update(
        parts=parts,
        context_href=context_href(hit, q),
        within_href=href(params, document=hit.document.document_id),
        meeting_href=meeting_href(params, hit.document.council, hit.document.committee, hit.document.date),
        citation=citation_text(cite([hit], passage_url(base_url), retrieved)[0]),
    )
    return data


def answer_view(answer: Answer, q: str) -> dict[str, Any]:
    hrefs = {c.number: context_href(c.hit, q) for c in answer.citations}
    return {
        "answered": answer.answered,
        "message": answer.message,
        "quotes": [{"text": qt.text, "citation": qt.citation, "href": hrefs[qt.citation]} for qt in answer.quotes],
        "citations": [{"number": c.number, "href": context_href(c.hit, q), "council": c.hit.document.council,
                       "committee": c.hit.document.committee, "date": c.hit.document.date,
                       "item": c.hit.document.item or c.hit.document.title, "ordinal": c.hit.passage.ordinal,
                       "page": c.hit.passage.page}
                      for c in answer.citations],
    }


def facet_views(facets: dict[str, list[FacetValue]], params: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Each facet value with the link that selects it (or, when selected, removes it)."""
    views: dict[str, list[dict[str, Any]]] = {}
    for name, values in facets.items():
        views[name] = []
        for v in values:
            value = None if v.selected else v.value
            link = href(params, date_from=value, date_to=value) if name == "year" else href(params, **{name: value})
            views[name].append({"value": v.value, "count": v.count, "selected": v.selected, "href": link})
    return views
