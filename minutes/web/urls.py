"""The one URL builder for the site: route paths, and links that keep a search's state.

Every form is GET, so a search is its URL parameters (`state`); links change some of them
(`href`). Routes in pages.py, exports.py and the templates take their paths from here.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from minutes.records import Filters, Hit

SEARCH = "/"
TIMELINE = "/timeline"
EXPORT = "/export"
DOCUMENTS = "/documents"
STATIC = "/static"
API_DOCS = "/docs"

DEFAULT_SORT = "relevance"
DEFAULT_PER_PAGE = 10


def document_path(document_id: str) -> str:
    return f"{DOCUMENTS}/{quote(document_id, safe='')}"


def context_url(document_id: str, ordinal: int) -> str:
    """The local document page, scrolled to the passage (the API's `context_url`)."""
    return f"{document_path(document_id)}?passage={ordinal}#p{ordinal}"


def context_href(hit: Hit, q: str) -> str:
    """The passage in its document, with the query's words marked."""
    ordinal = hit.passage.ordinal
    return f"{document_path(hit.document.document_id)}?passage={ordinal}&q={quote(q)}#p{ordinal}"


def state(q: str, filters: Filters, sort: str = DEFAULT_SORT, page: int = 1,
          per_page: int = DEFAULT_PER_PAGE) -> dict[str, str]:
    """The search as URL parameters, only those that differ from the defaults, in a stable order."""
    params = {
        "q": q, "council": filters.council or "", "committee": filters.committee or "",
        "date_from": filters.date_from.isoformat() if filters.date_from else "",
        "date_to": filters.date_to.isoformat() if filters.date_to else "",
        "document": filters.document or "",
        "decisions": "1" if filters.decisions_only else "", "procedural": "1" if filters.include_procedural else "",
        "sort": "" if sort == DEFAULT_SORT else sort, "page": "" if page == 1 else str(page),
        "k": "" if per_page == DEFAULT_PER_PAGE else str(per_page),
    }
    return {key: value for key, value in params.items() if value}


def href(params: dict[str, str], path: str = SEARCH, /, **changes: str | None) -> str:
    """`path` with `params` changed (None or "" removes one); changing a filter goes back to page 1."""
    merged = dict(params)
    if any(key != "page" for key in changes):
        merged.pop("page", None)
    for key, value in changes.items():
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    return path + ("?" + urlencode(merged) if merged else "")


def meeting_href(params: dict[str, str], council: str | None, committee: str | None, when: str | None,
                 path: str = SEARCH) -> str | None:
    """The same search within one meeting: its council, committee and meeting date."""
    if not (council and committee and when):
        return None
    first, _, last = when.partition("/")
    return href(params, path, council=council, committee=committee, date_from=first, date_to=last or first,
                document=None)


def absolute(base_url: str, path: str) -> str:
    """`path` under the site's address (the configured public one, or the request's)."""
    return base_url.rstrip("/") + path


TEMPLATE_GLOBALS = {"search_path": SEARCH, "timeline_path": TIMELINE, "export_path": EXPORT,
                    "static_path": STATIC, "api_docs_path": API_DOCS}
