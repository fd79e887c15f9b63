"""Facets with counts, sorting and pages over what `Searcher.search` finds. Pure library.

The search runs once with a wide k and the filters inside it (filtering afterwards would
leave pages empty); this module only groups, counts, sorts and cuts the result. A facet
whose own filter is set is counted without that filter, so the other choices stay visible
with their counts ("disjunctive" facets).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal, get_args

from minutes.dates import DateError, parse_span
from minutes.records import DateSpan, Filters, Hit, SearchResult
from minutes.search.hybrid import MAX_K, PreparedQuery, Searcher

Sort = Literal["relevance", "newest", "oldest"]   # the one list of sort orders
SORTS: tuple[Sort, ...] = get_args(Sort)
POOL = MAX_K          # passages fetched once, then counted, sorted and paged
MAX_PER_PAGE = MAX_K


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class Browse:
    result: SearchResult          # the whole pool, in relevance order
    hits: list[Hit]               # this page, in the chosen order, ranks renumbered from 1 on page 1
    sort: str
    page: int
    per_page: int
    facets: dict[str, list[FacetValue]]
    decisions: int                # how many passages of the pool are decisions

    @property
    def total(self) -> int:
        return self.result.total

    @property
    def capped(self) -> bool:
        """True when the pool is full: there may be more passages than the POOL best counted here."""
        return self.total >= POOL

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def hit_span(hit: Hit) -> DateSpan | None:
    """The meeting date of a hit, or None when it has none (or one that is not ISO 8601)."""
    if not hit.document.date:
        return None
    try:
        return parse_span(hit.document.date)
    except DateError:
        return None


def hit_years(hit: Hit) -> list[int]:
    """Every year the meeting date overlaps: the year filter matches on overlap, so counts agree."""
    span = hit_span(hit)
    return list(range(span.start.year, span.end.year + 1)) if span else []


def year_filter(filters: Filters) -> int | None:
    """The year selected when the date range is exactly one calendar year."""
    since, until = filters.date_from, filters.date_to
    if since and until and since == date(since.year, 1, 1) and until == date(since.year, 12, 31):
        return since.year
    return None


def sort_hits(hits: list[Hit], sort: str) -> list[Hit]:
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not '{sort}'")
    if sort == "relevance":
        return list(hits)
    dated = [(hit_span(h), h) for h in hits]
    undated = [h for span, h in dated if span is None]
    known = [(span, h) for span, h in dated if span is not None]
    if sort == "newest":
        known.sort(key=lambda pair: (-pair[0].end.toordinal(), -pair[0].start.toordinal(), pair[1].rank))
    else:
        known.sort(key=lambda pair: (pair[0].start, pair[0].end, pair[1].rank))
    return [h for _, h in known] + undated  # passages without a date go last either way


def _count(hits: list[Hit], field: str) -> Counter[str]:
    return Counter(getattr(h.document, field) for h in hits if getattr(h.document, field))


def _values(counts: Counter[str], selected: str | None) -> list[FacetValue]:
    values = [FacetValue(v, n, selected is not None and v.lower() == selected.lower())
              for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    if selected and not any(v.selected for v in values):
        values.insert(0, FacetValue(selected, 0, True))  # keep the chosen value visible, to unset it
    return values


def facet_counts(searcher: Searcher, query: str | PreparedQuery, filters: Filters,
                 result: SearchResult) -> dict[str, list[FacetValue]]:
    """Counts per council, committee and year; each counted without its own filter."""
    prepared = query if isinstance(query, PreparedQuery) else searcher.prepare(query)

    def pool_without(**unset: Any) -> list[Hit]:
        return searcher.search(prepared, POOL, replace(filters, **unset)).hits

    councils = _count(pool_without(council=None) if filters.council else result.hits, "council")
    committees = _count(pool_without(committee=None) if filters.committee else result.hits, "committee")
    year_hits = pool_without(date_from=None, date_to=None) if year_filter(filters) else result.hits
    years = Counter(str(y) for h in year_hits for y in hit_years(h))
    chosen_year = year_filter(filters)
    return {
        "council": _values(councils, filters.council),
        "committee": _values(committees, filters.committee),
        "year": sorted(_values(years, str(chosen_year) if chosen_year else None),
                       key=lambda v: v.value, reverse=True),
    }


def browse(searcher: Searcher, query: str | PreparedQuery, filters: Filters | None = None,
           sort: str = "relevance", page: int = 1, per_page: int = 10, facets: bool = True) -> Browse:
    """One page of results for `query`, sorted, with facet counts over all of them (each a search of
    its own, sharing the prepared query: the question is embedded once)."""
    filters = filters or Filters()
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not '{sort}'")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    if not isinstance(query, PreparedQuery):
        query = searcher.prepare(query)
    result = searcher.search(query, POOL, filters)
    ordered = sort_hits(result.hits, sort)
    pages = max(1, math.ceil(len(ordered) / per_page))
    page = min(max(page, 1), pages)
    first = (page - 1) * per_page
    shown = [replace(h, rank=first + i) for i, h in enumerate(ordered[first:first + per_page], 1)]
    return Browse(
        result=result, hits=shown, sort=sort, page=page, per_page=per_page,
        facets=facet_counts(searcher, query, filters, result) if facets and result.hits else {},
        decisions=sum(1 for h in result.hits if h.passage.kind == "resolution"),
    )
