"""Briefing-note export: the chosen passages (or the current page of results) as Markdown,
Word or CSV, with full citations. `/export` answers errors as a page, `/api/export` as JSON."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from minutes.features.browse import browse
from minutes.features.export import FORMATS, cite, safe_filename, to_csv, to_docx, to_markdown
from minutes.records import Hit
from minutes.search.hybrid import MAX_K, Searcher
from minutes.web import present, urls
from minutes.web.deps import FiltersDep, K, OptionalQueryText, PageNumber, SearcherDep, Sort, site_url
from minutes.web.errors import ERROR_RESPONSES

router = APIRouter()

PASSAGE_ID = re.compile(r"^(?P<document>[^\x00-\x1f]{1,300}):(?P<ordinal>\d{1,6})$")
Format = Annotated[Literal["md", "docx", "csv"], Query(description="md (Markdown), docx (Word) or csv.")]
PassageIds = Annotated[list[str] | None, Query(max_length=MAX_K,
                                               description="Passage ids (`document_id:ordinal`) to export, "
                                                           "in order; none: the current page of results.")]


def chosen_hits(searcher: Searcher, ids: list[str]) -> list[Hit]:
    """The passages named by `ids`, in that order, once each; an unknown id is a 404."""
    hits: list[Hit] = []
    for pid in dict.fromkeys(ids):
        match = PASSAGE_ID.match(pid)
        if not match:
            raise HTTPException(422, f"'{pid[:80]}' is not a passage id; use document_id:ordinal")
        stored = searcher.index.passages.passage(match["document"], int(match["ordinal"]))
        if stored is None:
            raise HTTPException(404, f"no passage with id '{pid[:80]}'")
        hits.append(Hit(stored.passage, stored.document, 0.0, len(hits) + 1))
    return hits


@router.get(urls.EXPORT, include_in_schema=False)
@router.get("/api/export", responses=ERROR_RESPONSES | {200: {"content": {t: {} for t in FORMATS.values()},
                                                             "description": "The briefing note as a file"}},
            tags=["export"], response_class=Response)
def export(request: Request, searcher: SearcherDep, filters: FiltersDep, format: Format = "md",
           q: OptionalQueryText = None, passage: PassageIds = None, sort: Sort = "relevance",
           page: PageNumber = 1, k: K = 10) -> Response:
    """A briefing note of the chosen passages, or of the current page of results, with citations."""
    q = (q or "").strip()
    if passage:
        hits = chosen_hits(searcher, passage)
    elif q:
        hits = browse(searcher, q, filters, sort, page, k, facets=False).hits
    else:
        raise HTTPException(422, "choose some passages, or search first: there is nothing to export")
    if not hits:
        raise HTTPException(404, "no passages match this search, so there is nothing to export")
    today = date.today()
    cited = cite(hits, present.passage_url(site_url(request)), today)
    scope = ", ".join(label for label, _ in present.describe(filters))
    if format == "md":
        body: bytes = to_markdown(q, cited, scope).encode("utf-8")
    elif format == "csv":
        body = ("\ufeff" + to_csv(cited)).encode("utf-8")  # the BOM makes Excel read UTF-8
    else:
        body = to_docx(q, cited, scope)
    name = safe_filename(q, format, today)
    return Response(body, media_type=FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff"})
