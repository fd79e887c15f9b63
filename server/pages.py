"""HTML pages: the search page and the document page. They render the same data the API returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from indexer.highlight import highlight_spans, query_terms, segments
from indexer.render import result_to_dict
from indexer.store import distinct_values

from .api import document_dict
from .deps import K, FiltersDep, OptionalQueryText, SearcherDep

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
router = APIRouter(include_in_schema=False)


def render_error(request: Request, status: int, message: str) -> Response:
    return TEMPLATES.TemplateResponse(request, "error.html", {"status": status, "message": message},
                                      status_code=status)


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, searcher: SearcherDep, filters: FiltersDep,
                q: OptionalQueryText = None, k: K = 10) -> Response:
    context: dict[str, Any] = {
        "q": q or "", "k": k, "filters": filters.as_dict(), "result": None,
        "councils": distinct_values(searcher.index, "council"),
        "committees": distinct_values(searcher.index, "committee"),
    }
    if q is not None and q.strip():
        result = searcher.search(q, k, filters)
        terms = query_terms(q)
        data = result_to_dict(result)
        for hit in data["hits"]:
            hit["segments"] = segments(hit["text"], highlight_spans(hit["text"], terms))
            ordinal = hit["passage_id"].rsplit(":", 1)[1]
            hit["context_href"] = (f"/documents/{quote(hit['document_id'], safe='')}?passage={ordinal}"
                                   f"&q={quote(q)}#p{ordinal}")
        context["result"] = data
    elif q is not None:
        context["message"] = "Type some words to search for."
    return TEMPLATES.TemplateResponse(request, "search.html", context)


@router.get("/documents/{document_id}", response_class=HTMLResponse)
def document_page(request: Request, document_id: str, searcher: SearcherDep,
                  passage: int | None = None, q: OptionalQueryText = None) -> Response:
    document = document_dict(searcher, document_id)
    text = document["text"]
    terms = query_terms(q) if q and q.strip() else ()
    blocks, at = [], 0
    for p in document["passages"]:
        if p["char_start"] > at:
            blocks.append({"id": None, "segments": [(text[at:p["char_start"]], False)], "current": False})
        piece = text[p["char_start"]:p["char_end"]]
        blocks.append({"id": f"p{p['ordinal']}", "segments": segments(piece, highlight_spans(piece, terms)),
                       "current": p["ordinal"] == passage, "page": p["page"]})
        at = p["char_end"]
    if at < len(text):
        blocks.append({"id": None, "segments": [(text[at:], False)], "current": False})
    return TEMPLATES.TemplateResponse(request, "document.html",
                                      {"document": document, "blocks": blocks, "q": q or "", "passage": passage})
