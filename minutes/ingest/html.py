"""HTML papers: any saved web page, and the pages a site's own parser knows.

A page becomes one document of its main text (scripts, styles, navigation, hidden
elements and page chrome dropped; see htmltext.py), unless one of the page parsers it is
given recognises it first. A site with structured pages registers, through
`register_html_page_parser`, a reader that passes its parsers (the ModernGov pages do, in
minutes/sources/moderngov/saved_pages.py), so this reader stays generic and the sources
layer above it plugs in, never the other way round.

A browser's "saved from url" comment, or `<link rel=canonical>`, gives the source URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from minutes.errors import InputError
from minutes.ingest import register_reader
from minutes.ingest.htmltext import drop_hidden, html_to_text, is_gone
from minutes.records import Document

VERSION = "html-2"

_SAVED_FROM = re.compile(r"saved from url=\(\d+\)(\S+)", re.IGNORECASE)


class HtmlError(InputError):
    pass


@dataclass(frozen=True)
class SavedPage:
    """What a page parser is given: the markup, where it came from, and the id it would get."""

    markup: str
    source_url: str | None
    path: Path
    default_id: str


# A parser returns the page's documents, or None when the page is not one of its own.
# It raises HtmlError to refuse a page of its kind (a restricted item, nothing public).
PageParser = Callable[[SavedPage], Iterable[Document] | None]


def register_html_page_parser(reader: Callable[[Path, Path], Iterable[Document]], version: str) -> None:
    """Read .html/.htm files with `reader`: a module-level function that calls `read_html` with its
    site's page parsers (module-level, so the extraction sandbox's child process can import it)."""
    for suffix in (".html", ".htm"):
        register_reader(suffix, reader, version=f"{VERSION}+{version}")


def source_url_of(markup: str) -> str | None:
    match = _SAVED_FROM.search(markup[:4000])
    if match:
        return match.group(1)
    found = re.search(r"<link[^>]+rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)", markup[:20000], re.IGNORECASE)
    return found.group(1) if found else None


def read_html(path: Path, root: Path, parsers: Iterable[PageParser] = ()) -> Iterator[Document]:
    """The page's documents: from the first of `parsers` that knows the page, else its main text."""
    raw = path.read_bytes()
    if not raw.strip():
        raise HtmlError("empty file")
    markup = raw.decode("utf-8", errors="replace")
    page = SavedPage(markup, source_url_of(markup), path, path.relative_to(root).with_suffix("").as_posix())
    for parser in parsers:
        documents = parser(page)
        if documents is not None:
            yield from documents
            return

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    named = soup.find("title") or soup.find("h1")
    title = " ".join(named.get_text(" ").split()) if named is not None else None
    drop_hidden(soup)
    for chrome in soup.find_all(True, attrs={"role": ["navigation", "banner", "contentinfo", "search"]}):
        if not is_gone(chrome):
            chrome.decompose()
    main = soup.find("main") or soup.find(id="content") or soup.body or soup
    text = html_to_text(str(main))
    if not text.strip():
        raise HtmlError("HTML page has no text")
    yield Document(document_id=page.default_id, text=text, title=title or path.stem, source_url=page.source_url,
                   path=str(path), extra={"format": "html"})


def _register() -> None:
    for suffix in (".html", ".htm"):
        register_reader(suffix, read_html, version=VERSION)


_register()
