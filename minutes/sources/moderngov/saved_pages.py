"""Saved ModernGov pages as documents: the ModernGov page parser for the HTML reader.

`register()` puts `read_html_with_moderngov` in the HTML reader's place through
`minutes.ingest.html.register_html_page_parser`; the CLI calls it at start-up
(minutes/cli/__init__.py). The generic reader never imports this module.

- A meeting page (`ieListDocuments.aspx`, rows of `table#mgItemTable`) becomes one
  document per agenda item, with committee, date, time, venue, item number and title,
  minutes and decision text. Restricted (exempt, Part 2) items are never kept.
- An agenda-item page (`mgAi.aspx`) becomes one document.
- A decision page (`ieDecisionDetails.aspx`) becomes one document: decision maker (the
  committee when decided at a meeting), date of decision, status, the decision text as
  its resolution, its papers, a link to the meeting.
- A decisions list (`mgDelegatedDecisions.aspx`) becomes one document per decision.
- Any other ModernGov page: its content, without the site's chrome.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from minutes.dates import parse_span
from minutes.ingest.html import HtmlError, SavedPage, read_html, register_html_page_parser
from minutes.ingest.htmltext import drop_hidden, html_to_text
from minutes.records import Document
from minutes.sources.moderngov.decisions import (
    Decision,
    is_decision_page,
    is_decisions_list,
    parse_decision_page,
    parse_decisions_list,
)
from minutes.sources.moderngov.pages import (
    HIDDEN_CLASSES,
    is_item_page,
    is_meeting_page,
    parse_item_page,
    parse_meeting_page,
    strip_chrome,
)

VERSION = "1"


def _meeting_page(page: SavedPage) -> Iterator[Document]:
    url = page.source_url
    meeting = parse_meeting_page(page.markup, url)
    extra = {k: v for k, v in (("meeting_time", meeting.time), ("venue", meeting.venue)) if v}
    kept = 0
    for item in meeting.items:
        if item.restricted:
            continue
        text = item.text()
        if not text.strip():
            continue
        kept += 1
        yield Document(
            document_id=f"{page.default_id}/item-{item.number or item.item_id or kept}",
            text=text, title=item.title, committee=meeting.committee,
            item=item.label(), date=parse_span(meeting.date) if meeting.date else None,
            source_url=item.item_url or (f"{url}#AI{item.item_id}" if url and item.item_id else url),
            see_also=tuple(u for u in (url,) if u and u != item.item_url), path=str(page.path),
            procedural=item.procedural,
            extra={"format": "html", "moderngov": "meeting-page", **extra,
                   **({"item_id": item.item_id} if item.item_id else {})},
        )
    if not kept:
        raise HtmlError("ModernGov meeting page with no public agenda item text")


def _item_page(page: SavedPage) -> Iterator[Document]:
    item = parse_item_page(page.markup, page.source_url)
    if item.restricted:
        raise HtmlError("restricted (exempt) agenda item; not stored")
    text = item.text()
    if not text.strip():
        raise HtmlError("ModernGov agenda-item page with no text")
    yield Document(
        document_id=page.default_id, text=text, title=item.title, committee=item.committee,
        item=item.label(), date=parse_span(item.date) if item.date else None,
        source_url=page.source_url, see_also=tuple(u for u in (item.meeting_url,) if u), path=str(page.path),
        procedural=item.procedural, extra={"format": "html", "moderngov": "item-page"},
    )


def _decision_document(decision: Decision, page: SavedPage, document_id: str, kind: str) -> Document:
    extra = {"format": "html", "moderngov": kind}
    for name, value in (("decision_id", decision.decision_id), ("decision_maker", decision.decision_maker),
                        ("decision_status", decision.status), ("published", decision.published),
                        ("key_decision", None if decision.key_decision is None else str(decision.key_decision))):
        if value:
            extra[name] = value
    return Document(
        document_id=document_id, text=decision.text(), title=decision.title,
        committee=decision.committee or decision.decision_maker,
        date=parse_span(decision.date) if decision.date else None,
        source_url=decision.url or page.source_url,
        see_also=tuple(u for u in (decision.meeting_url, *(d.url for d in decision.documents)) if u),
        path=str(page.path), extra=extra,
    )


def _decision_page(page: SavedPage) -> Iterator[Document]:
    decision = parse_decision_page(page.markup, page.source_url)
    if not decision.sections and not decision.documents:
        raise HtmlError("ModernGov decision page with no decision text")
    yield _decision_document(decision, page, page.default_id, "decision")


def _decisions_list(page: SavedPage) -> Iterator[Document]:
    decisions = parse_decisions_list(page.markup, page.source_url)
    if not decisions:
        raise HtmlError("ModernGov decisions list with no decisions")
    for decision in decisions:
        yield _decision_document(decision, page, f"{page.default_id}/decision-{decision.decision_id}",
                                 "decisions-list")


def _other_page(page: SavedPage) -> Iterator[Document]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.markup, "lxml")
    root = soup.find(id="modgov") or soup
    heading = root.select_one("h2.mgSubTitleTxt") or root.select_one("h1.mgMainTitleTxt") or soup.find("title")
    title = " ".join(heading.get_text(" ").split()) if heading is not None else page.path.stem
    drop_hidden(root, HIDDEN_CLASSES)
    strip_chrome(root)
    text = html_to_text(str(root.find(class_="mgContent") or root), HIDDEN_CLASSES)
    if not text.strip():
        raise HtmlError("ModernGov page has no text")
    yield Document(document_id=page.default_id, text=text, title=title, source_url=page.source_url,
                   path=str(page.path), extra={"format": "html", "moderngov": "page"})


def parse_saved_page(page: SavedPage) -> list[Document] | None:
    """The page's documents if it is a ModernGov page, else None (another parser, or the generic reader)."""
    markup = page.markup
    if is_meeting_page(markup):
        return list(_meeting_page(page))
    if is_item_page(markup):
        return list(_item_page(page))
    if is_decision_page(markup):
        return list(_decision_page(page))
    if 'id="modgov"' in markup or "mgTabTable" in markup:
        return list(_decisions_list(page) if is_decisions_list(markup) else _other_page(page))
    return None


def read_html_with_moderngov(path: Path, root: Path) -> Iterator[Document]:
    """The HTML reader with the ModernGov pages known (what `register` puts in its place)."""
    return read_html(path, root, parsers=(parse_saved_page,))


def register() -> None:
    """Read saved ModernGov pages as such (idempotent)."""
    register_html_page_parser(read_html_with_moderngov, f"moderngov-{VERSION}")
