"""HTML papers with BeautifulSoup on lxml: saved ModernGov pages and any other web page.

lxml is the fastest HTML parser for Python and forgiving of the Word-generated markup
ModernGov serves (`<p class="MsoNormal">`, stray `<o:p>`); BeautifulSoup gives the
class-based selection the ModernGov pages need. Both are MIT/BSD.

- A saved ModernGov meeting page (`ieListDocuments.aspx`, rows of `table#mgItemTable`)
  becomes one document per agenda item, with committee, date, item number and title,
  minutes and decision text. Restricted (exempt, Part 2) items are never kept.
- A saved agenda-item page (`mgAi.aspx`) becomes one document.
- Any other page becomes one document of its main text (scripts, styles, navigation
  and page chrome dropped).

A browser's "saved from url" comment, or `<link rel=canonical>`, gives the source URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from minutes.errors import InputError
from minutes.records import Document

VERSION = "html-1"

BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
              "section", "article", "blockquote", "pre", "dd", "dt", "dl", "header", "footer", "form"}
DROP_TAGS = ("script", "style", "noscript", "template", "svg", "head", "nav", "iframe", "button", "select")
_SAVED_FROM = re.compile(r"saved from url=\(\d+\)(\S+)", re.IGNORECASE)


class HtmlError(InputError):
    pass


def html_to_text(markup: str) -> str:
    """Readable text of an HTML fragment or page: one line per block, a tab between table cells."""
    from bs4 import BeautifulSoup, NavigableString, Tag

    soup = BeautifulSoup(markup, "lxml")
    for tag in soup.find_all(DROP_TAGS):
        tag.decompose()
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = " ".join("".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child).__name__ in ("Comment", "Doctype", "ProcessingInstruction", "Declaration"):
                    continue
                current.append(str(child))
            elif isinstance(child, Tag):
                name = child.name.split(":")[-1]
                if name == "tr":
                    flush()
                    cells = [" ".join(c.get_text(" ").split()) for c in child.find_all(["td", "th"], recursive=False)]
                    cells = [c for c in cells if c]
                    if cells:
                        lines.append("\t".join(cells))
                    continue
                if name == "li":
                    flush()
                    current.append("• ")
                    walk(child)
                    flush()
                    continue
                block = name in BLOCK_TAGS
                if block:
                    flush()
                walk(child)
                if block:
                    flush()

    walk(soup)
    flush()
    return "\n".join(lines)


def source_url_of(markup: str) -> str | None:
    match = _SAVED_FROM.search(markup[:4000])
    if match:
        return match.group(1)
    found = re.search(r"<link[^>]+rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)", markup[:20000], re.IGNORECASE)
    return found.group(1) if found else None


def read_html(path: Path, root: Path) -> Iterator[Document]:
    from minutes.dates import parse_span
    from minutes.sources.moderngov.pages import is_item_page, is_meeting_page, parse_item_page, parse_meeting_page

    raw = path.read_bytes()
    if not raw.strip():
        raise HtmlError("empty file")
    markup = raw.decode("utf-8", errors="replace")
    default_id = path.relative_to(root).with_suffix("").as_posix()
    url = source_url_of(markup)

    if is_meeting_page(markup):
        meeting = parse_meeting_page(markup, url)
        kept = 0
        for item in meeting.items:
            if item.restricted:
                continue
            text = item.text()
            if not text.strip():
                continue
            kept += 1
            yield Document(
                document_id=f"{default_id}/item-{item.number or item.item_id or kept}",
                text=text, title=item.title, committee=meeting.committee,
                item=item.label(), date=parse_span(meeting.date) if meeting.date else None,
                source_url=item.item_url or (f"{url}#AI{item.item_id}" if url and item.item_id else url),
                see_also=tuple(u for u in (url,) if u and u != item.item_url), path=str(path),
                procedural=item.procedural,
                extra={"format": "html", "moderngov": "meeting-page",
                       **({"item_id": item.item_id} if item.item_id else {})},
            )
        if not kept:
            raise HtmlError("ModernGov meeting page with no public agenda item text")
        return

    if is_item_page(markup):
        item_page = parse_item_page(markup, url)
        if item_page.restricted:
            raise HtmlError("restricted (exempt) agenda item; not stored")
        text = item_page.text()
        if not text.strip():
            raise HtmlError("ModernGov agenda-item page with no text")
        yield Document(
            document_id=default_id, text=text, title=item_page.title, committee=item_page.committee,
            item=item_page.label(), date=parse_span(item_page.date) if item_page.date else None,
            source_url=url, see_also=tuple(u for u in (item_page.meeting_url,) if u), path=str(path),
            procedural=item_page.procedural, extra={"format": "html", "moderngov": "item-page"},
        )
        return

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    named = soup.find("title") or soup.find("h1")
    title = " ".join(named.get_text(" ").split()) if named is not None else None
    main = soup.find("main") or soup.find(id="content") or soup.find(id="modgov") or soup.body or soup
    text = html_to_text(str(main))
    if not text.strip():
        raise HtmlError("HTML page has no text")
    yield Document(document_id=default_id, text=text, title=title or path.stem, source_url=url,
                   path=str(path), extra={"format": "html"})


def _register() -> None:
    from minutes.ingest import register_reader

    for suffix in (".html", ".htm"):
        register_reader(suffix, read_html, version=VERSION)


_register()
