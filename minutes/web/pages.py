"""HTML pages: search (answer, facets, timeline, results), timeline, document. They render the
same data the API returns; every form is GET, so the URL is the whole state of a search."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from minutes.features.answer import best_sentences, build_answer, score_sentences
from minutes.features.browse import browse
from minutes.features.highlight import highlight_spans, query_terms, segments
from minutes.features.timeline import by_meeting, periods
from minutes.records import Filters, Hit
from minutes.search.hybrid import Searcher
from minutes.web import present, urls
from minutes.web.api import document_out
from minutes.web.chart import chart
from minutes.web.deps import FiltersDep, K, OptionalQueryText, PageNumber, SearcherDep, Sort, site_url

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
TEMPLATES.env.globals.update(urls.TEMPLATE_GLOBALS)
router = APIRouter(include_in_schema=False)


def render_error(request: Request, status: int, message: str) -> Response:
    return TEMPLATES.TemplateResponse(request, "error.html", {"status": status, "message": message},
                                      status_code=status)


def _form_context(searcher: Searcher, q: str, filters: Filters, sort: str, per_page: int) -> dict[str, Any]:
    return {
        "q": q, "filters": filters.as_dict(), "sort": sort, "per_page": per_page,
        "sorts": present.SORT_LABELS, "result": None, "chips": [],
        "councils": searcher.index.passages.facet_values("council"),
        "committees": searcher.index.passages.facet_values("committee"),
    }


def _timeline(hits: list[Hit], params: dict[str, str], small: bool = False) -> Any:
    """The chart of `hits` by meeting date; each bar links to the results of its period."""
    buckets = periods(hits)
    if not buckets:
        return None
    return chart(buckets, lambda p: urls.href(params, date_from=p.label, date_to=p.label),
                 width=320 if small else 640, max_labels=4 if small else 12)


@router.get(urls.SEARCH, response_class=HTMLResponse)
def search_page(request: Request, searcher: SearcherDep, filters: FiltersDep, q: OptionalQueryText = None,
                sort: Sort = "relevance", page: PageNumber = 1, k: K = 10) -> Response:
    q = (q or "").strip()
    context = _form_context(searcher, q, filters, sort, k)
    context["title"] = "Minutes — search what councils said and decided"
    if not q:
        if request.query_params.get("q") is not None:
            context["message"] = "Type some words to search for."
        return TEMPLATES.TemplateResponse(request, "search.html", context)

    prepared = searcher.prepare(q)  # embedded once for the results, the facets and the answer
    found = browse(searcher, prepared, filters, sort, page, k)
    params = urls.state(q, filters, sort, found.page, k)
    top = found.result.hits[:5]
    top_ids = {h.passage.passage_id for h in top}
    scored = score_sentences(prepared, top + [h for h in found.hits if h.passage.passage_id not in top_ids],
                             searcher.embedder)
    best = best_sentences(scored)
    answer = build_answer(prepared, found.result.hits, searcher.embedder, scored) if found.page == 1 else None
    today = date.today()
    context.update(
        title=present.title(q, filters, sort, found.page),
        params=params, chips=present.chip_links(filters, params),
        result={"query": q, "total": found.total, "message": found.result.message,
                "hits": [present.hit_view(h, q, site_url(request), today,
                                          best.get(h.passage.passage_id), params) for h in found.hits]},
        browse=found, answer=present.answer_view(answer, q) if answer else None,
        facets=present.facet_views(found.facets, params), timeline=_timeline(found.result.hits, params, small=True),
        sort_links={key: urls.href(params, sort=None if key == "relevance" else key)
                    for key in present.SORT_LABELS},
        page_links=[(n, urls.href(params, page=str(n) if n > 1 else None))
                    for n in range(1, found.pages + 1)],
        timeline_href=urls.href(params, urls.TIMELINE, sort=None),
        decisions_href=urls.href(params, decisions=None if filters.decisions_only else "1"),
    )
    return TEMPLATES.TemplateResponse(request, "search.html", context)


@router.get(urls.TIMELINE, response_class=HTMLResponse)
def timeline_page(request: Request, searcher: SearcherDep, filters: FiltersDep,
                  q: OptionalQueryText = None) -> Response:
    q = (q or "").strip()
    context = _form_context(searcher, q, filters, "relevance", 10)
    context.update(title=present.title(q, filters, prefix="Over time: ") if q else "Over time — Minutes",
                   form_action=urls.TIMELINE)
    if q:
        prepared = searcher.prepare(q)
        found = browse(searcher, prepared, filters, facets=False)
        params = urls.state(q, filters)
        hits = found.result.hits
        today = date.today()
        best = best_sentences(score_sentences(prepared, hits[:30], searcher.embedder))
        groups = [{"group": g, "href": urls.meeting_href(params, g.council, g.committee, g.date),
                   "hits": [present.hit_view(h, q, site_url(request), today, best.get(h.passage.passage_id),
                                             params) for h in g.hits]}
                  for g in by_meeting(hits)]
        context.update(params=params, result={"query": q, "total": found.total, "message": found.result.message,
                                              "capped": found.capped},
                       timeline=_timeline(hits, params), groups=groups,
                       chips=present.chip_links(filters, params, urls.TIMELINE),
                       results_href=urls.href(params),
                       export_hrefs={fmt: urls.href(params, urls.EXPORT, sort="oldest", k="100", format=fmt)
                                     for fmt in ("md", "docx", "csv")})
    return TEMPLATES.TemplateResponse(request, "timeline.html", context)


@router.get(urls.DOCUMENTS + "/{document_id:path}", response_class=HTMLResponse)
def document_page(request: Request, document_id: str, searcher: SearcherDep,
                  passage: int | None = None, q: OptionalQueryText = None) -> Response:
    document = document_out(searcher, document_id).model_dump()
    text = document["text"]
    terms = query_terms(q) if q and q.strip() else ()
    blocks: list[dict[str, Any]] = []
    at = 0
    for p in document["passages"]:
        if p["char_start"] > at:
            blocks.append({"id": None, "segments": [(text[at:p["char_start"]], False)], "current": False})
        piece = text[p["char_start"]:p["char_end"]]
        blocks.append({"id": f"p{p['ordinal']}", "segments": segments(piece, highlight_spans(piece, terms)),
                       "current": p["ordinal"] == passage, "page": p["page"]})
        at = p["char_end"]
    if at < len(text):
        blocks.append({"id": None, "segments": [(text[at:], False)], "current": False})
    within = urls.href({"q": q} if q else {}, document=document_id)
    return TEMPLATES.TemplateResponse(request, "document.html",
                                      {"document": document, "blocks": blocks, "q": q or "", "passage": passage,
                                       "within_href": within})
