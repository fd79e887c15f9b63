"""Request parameters and dependencies shared by the API and the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response
from pydantic import BeforeValidator, WithJsonSchema

from minutes.dates import parse_filter_date
from minutes.features.browse import Sort as SortOrder
from minutes.records import Filters
from minutes.search.hybrid import MAX_K, MAX_QUERY_CHARS, Searcher
from minutes.web.holder import SearcherHolder


def get_searcher(request: Request, response: Response) -> Searcher:
    holder: SearcherHolder = request.app.state.holder
    searcher = holder.get()
    # Which build answered: the whole response comes from this one (JSON responses carry it).
    response.headers["X-Minutes-Index"] = searcher.index.build_id
    return searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]


def site_url(request: Request) -> str:
    """Absolute base for links in citations: the configured public address, else the request's."""
    public = request.app.state.settings.public_url
    return public.rstrip("/") + "/" if public else str(request.base_url)


QueryText = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="What to search for.")]
OptionalQueryText = Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description="What to search for.")]
K = Annotated[int, Query(ge=1, le=MAX_K, description="How many passages to return.")]
DateText = Annotated[str | None, Query(max_length=21, description="YYYY, YYYY-MM or YYYY-MM-DD.")]
Name = Annotated[str | None, Query(max_length=300)]


def _blank_is_false(value: object) -> object:
    # A hand-written URL may carry `decisions=`; an empty switch means off, as browsers mean it.
    return False if value == "" else value


# The schema says so too, so clients (and the API fuzzing) know an empty switch is valid.
Switch = Annotated[bool, BeforeValidator(_blank_is_false),
                   WithJsonSchema({"anyOf": [{"type": "boolean"}, {"type": "string", "enum": [""]}]})]


def search_filters(
    council: Name = None,
    committee: Name = None,
    date_from: DateText = None,
    date_to: DateText = None,
    document: Name = None,
    decisions: Annotated[Switch, Query(description="Only decisions (RESOLVED / AGREED).")] = False,
    procedural: Annotated[Switch, Query(description="Include procedural items.")] = False,
) -> Filters:
    # Empty form fields arrive as "": treat them as absent.
    return Filters(
        council=council or None,
        committee=committee or None,
        date_from=parse_filter_date(date_from) if date_from else None,
        date_to=parse_filter_date(date_to, end=True) if date_to else None,
        document=document or None,
        decisions_only=decisions,
        include_procedural=procedural,
    )


FiltersDep = Annotated[Filters, Depends(search_filters)]

Sort = Annotated[SortOrder, Query(description="Order of the results: relevance, newest or oldest meeting first.")]
PageNumber = Annotated[int, Query(ge=1, le=1000, description="Which page of results, from 1.")]
