"""Results as plain data: the one JSON shape shared by `minutes search --json` and the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from minutes.records import Hit, SearchResult

if TYPE_CHECKING:
    from minutes.features.answer import Answer


def context_url(document_id: str, ordinal: int) -> str:
    """The local document page, scrolled to the passage."""
    return f"/documents/{quote(document_id, safe='')}?passage={ordinal}#p{ordinal}"


def web_url(url: str | None) -> str | None:
    """`url` when it is an http(s) address, else None: a `javascript:` or `data:` URL from a
    document's metadata must never become a link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def source_link(hit: Hit) -> str | None:
    """The source meeting, at the passage's page for paged documents (PDF viewers honour #page=N)."""
    url = web_url(hit.document.source_url)
    if url and hit.passage.page and "#" not in url:
        return f"{url}#page={hit.passage.page}"
    return url


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    doc, passage = hit.document, hit.passage
    return {
        "rank": hit.rank,
        "score": hit.score,
        "semantic_score": hit.semantic_score,
        "keyword_rank": hit.keyword_rank,
        "text": passage.text,
        "document_id": doc.document_id,
        "passage_id": passage.passage_id,
        "char_start": passage.char_start,
        "char_end": passage.char_end,
        "kind": passage.kind,
        "heading": passage.heading,
        "page": passage.page,
        "council": doc.council,
        "committee": doc.committee,
        "date": doc.date,
        "item": doc.item,
        "title": doc.title,
        "source_url": source_link(hit),
        "see_also": [url for url in doc.see_also if web_url(url)],
        "attribution": doc.attribution,
        "context_url": context_url(doc.document_id, passage.ordinal),
    }


def result_to_dict(result: SearchResult) -> dict[str, Any]:
    return {
        "query": result.query,
        "filters": result.filters.as_dict(),
        "total": result.total,
        "hits": [hit_to_dict(hit) for hit in result.hits],
        "message": result.message,
    }


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The answer with its numbered citations: each quote names the citation it comes from."""
    return {
        "query": answer.query,
        "answered": answer.answered,
        "message": answer.message,
        "quotes": [{"text": q.text, "citation": q.citation, "score": q.score} for q in answer.quotes],
        "citations": [{"number": c.number, **{key: value for key, value in hit_to_dict(c.hit).items()
                                             if key not in ("rank", "score", "semantic_score", "keyword_rank")}}
                      for c in answer.citations],
    }
