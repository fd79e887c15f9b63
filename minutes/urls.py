"""Links to a passage's source, safe to print or link anywhere (CLI, exports, web).

The core knows nothing of the web routes; what it needs from them (a passage's page in this
service) comes in as a callable, see `minutes.features.export.cite`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from minutes.records import Hit


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


def web_urls(urls: tuple[str, ...] | list[str]) -> list[str]:
    """The http(s) addresses among `urls`, in order."""
    return [url for url in urls if web_url(url)]


def source_link(hit: Hit) -> str | None:
    """The source meeting, at the passage's page for paged documents (PDF viewers honour #page=N)."""
    url = web_url(hit.document.source_url)
    if url and hit.passage.page and "#" not in url:
        return f"{url}#page={hit.passage.page}"
    return url
