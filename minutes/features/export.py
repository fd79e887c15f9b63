"""Briefing notes: chosen passages with full citations, as Markdown, Word (.docx) or CSV.

Every passage carries council, committee, meeting date, item, page, the source URL (or,
where no source page is confirmed, the passage's page in this service) and the date it
was retrieved. File names come from `safe_filename`, never from raw input.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from minutes.records import Hit
from minutes.urls import source_link

FORMATS = {
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
CSV_FIELDS = ("number", "council", "committee", "meeting_date", "item", "page", "url", "source_url",
              "passage_url", "retrieved", "passage_id", "kind", "text")


@dataclass(frozen=True)
class Cited:
    number: int
    text: str
    council: str | None
    committee: str | None
    meeting_date: str | None
    item: str | None
    page: int | None
    source_url: str | None     # the confirmed source page, if any
    passage_url: str           # this passage in context, in this service
    retrieved: date
    passage_id: str
    kind: str

    @property
    def url(self) -> str:
        return self.source_url or self.passage_url


def cite(hits: Sequence[Hit], passage_url: Callable[[Hit], str], retrieved: date) -> list[Cited]:
    """Numbered citations for `hits`, in order; `passage_url(hit)` is the passage's absolute address
    in the service that exports it (the web layer knows its routes; this module does not)."""
    return [Cited(number=i, text=h.passage.text, council=h.document.council, committee=h.document.committee,
                  meeting_date=h.document.date, item=h.document.item or h.document.title, page=h.passage.page,
                  source_url=source_link(h), passage_url=passage_url(h),
                  retrieved=retrieved, passage_id=h.passage.passage_id, kind=h.passage.kind)
            for i, h in enumerate(hits, 1)]


def citation_text(c: Cited) -> str:
    """One line a reader can paste: who, which committee, when, which item, where, retrieved when."""
    return f"{_citation_source(c)}. {c.url} (retrieved {c.retrieved.isoformat()})."


def _citation_source(c: Cited) -> str:
    parts = [c.council or "Unknown council", c.committee or "committee not recorded",
             f"meeting of {c.meeting_date}" if c.meeting_date else "meeting date not recorded"]
    if c.item:
        parts.append(f"item “{c.item}”")
    if c.page:
        parts.append(f"p. {c.page}")
    return ", ".join(parts)


def safe_filename(query: str, extension: str, today: date) -> str:
    """`briefing-<words of the query>-<date>.<ext>`: only [a-z0-9-], so no path can come from input."""
    if extension not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not '{extension}'")
    slug = re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-")[:48].strip("-") or "passages"
    return f"briefing-{slug}-{today.isoformat()}.{extension}"


def _title(query: str) -> str:
    return f"Briefing note: {query}" if query else "Briefing note"


# Markdown from papers must stay text: every character that could start a link, an image, an
# autolink (GFM's bare http://, www. and e-mail ones too), raw HTML, an entity, emphasis, code or a
# table is backslash-escaped. CommonMark renders an escaped ASCII punctuation character as itself,
# so the quote stays exact when rendered.
_MD_ANYWHERE = re.compile(r"([\\`*_\[\]<>!|~#@]|&(?=#?\w+;))")
_MD_BARE_LINK = re.compile(r"(?i)(?<=[a-z0-9])(:)(?=//)|(?<=\bwww)(\.)")      # GFM autolinks http:// and www.
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])")                          # lists, quotes, setext lines


def _md_escape(text: str) -> str:
    text = _MD_ANYWHERE.sub(r"\\\1", text)
    text = _MD_BARE_LINK.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)
    return "\n".join(_MD_LINE_START.sub(_escape_line_start, line) for line in text.split("\n"))


def _escape_line_start(match: re.Match[str]) -> str:
    marker = match.group(2)  # "-", "+", "=", ">" or a number and its "." or ")": escape the mark
    return f"{match.group(1)}{marker[:-1]}\\{marker[-1]}"


def _md_url(url: str) -> str:
    """A URL safe inside `<...>`: spaces, controls, `<`, `>`, quotes and backslashes percent-encoded,
    so a source address cannot end the autolink or the line and add Markdown of its own."""
    return quote(url, safe="!#$%&'()*+,-./:;=?@[]^_`{|}~")


def to_markdown(query: str, cited: Sequence[Cited], scope: str = "") -> str:
    lines = [f"# {_md_escape(_title(query))}", ""]
    if scope:
        lines += [f"Filters: {_md_escape(scope)}", ""]
    if cited:
        lines += [f"Retrieved {cited[0].retrieved.isoformat()} from Minutes. {len(cited)} passage"
                  f"{'' if len(cited) == 1 else 's'}, quoted exactly.", ""]
    for c in cited:
        heading = " — ".join(x for x in (c.council, c.committee, c.meeting_date) if x)
        lines += [f"## {c.number}. {_md_escape(heading or c.passage_id)}", ""]
        if c.item:
            lines += [f"**Item:** {_md_escape(c.item)}", ""]
        lines += ["> " + _md_escape(line) if line.strip() else ">" for line in c.text.splitlines()] + [""]
        lines += [f"[{c.number}] {_md_escape(_citation_source(c))}. <{_md_url(c.url)}> "
                  f"(retrieved {c.retrieved.isoformat()}).", ""]
    return "\n".join(lines)


# A cell that starts like a formula would run in a spreadsheet; a leading apostrophe keeps it text.
# OWASP's list (= + - @ tab CR), plus | and % (DDE in old Excel) and the fullwidth forms some
# locales' spreadsheets also read as formulas. defusedcsv covers fewer (no tab, CR or fullwidth).
_FORMULA_START = frozenset("=+-@\t\r|%\uff1d\uff0b\uff0d\uff20")
# Excel in much of Europe splits a .csv on `;`, quotes or not: what follows a `;` inside a cell
# starts a cell there, so it is guarded the same way.
_AFTER_SEMICOLON = re.compile(";(?=[=+\\-@|%\uff1d\uff0b\uff0d\uff20])")


def _cell(value: object) -> str:
    text = _AFTER_SEMICOLON.sub(";'", "" if value is None else str(value))
    return "'" + text if text[:1] in _FORMULA_START else text


def to_csv(cited: Sequence[Cited]) -> str:
    """Every cell quoted (a reader that guesses the separator sees `","` between cells), and no
    cell, nor a piece of one cut at a `;`, starts a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_FIELDS)
    for c in cited:
        row = {"number": c.number, "council": c.council, "committee": c.committee, "meeting_date": c.meeting_date,
               "item": c.item, "page": c.page, "url": c.url, "source_url": c.source_url,
               "passage_url": c.passage_url, "retrieved": c.retrieved.isoformat(), "passage_id": c.passage_id,
               "kind": c.kind, "text": c.text}
        writer.writerow([_cell(row[f]) for f in CSV_FIELDS])
    return out.getvalue()


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """Word files are XML: control characters (form feeds from PDFs) cannot go in them."""
    return _NOT_XML.sub(" ", text)


def to_docx(query: str, cited: Sequence[Cited], scope: str = "") -> bytes:
    from docx import Document as WordDocument
    from docx.shared import Pt

    word = WordDocument()
    title = _xml_safe(_title(query))
    word.core_properties.title = title[:255]
    word.add_heading(title, level=0)
    if scope:
        word.add_paragraph(_xml_safe(f"Filters: {scope}"))
    if cited:
        word.add_paragraph(f"Retrieved {cited[0].retrieved.isoformat()} from Minutes. "
                           f"{len(cited)} passage{'' if len(cited) == 1 else 's'}, quoted exactly.")
    for c in cited:
        heading = " — ".join(x for x in (c.council, c.committee, c.meeting_date) if x)
        word.add_heading(_xml_safe(f"{c.number}. {heading or c.passage_id}"), level=2)
        if c.item:
            word.add_paragraph().add_run(_xml_safe(f"Item: {c.item}")).bold = True
        word.add_paragraph(_xml_safe(c.text), style="Quote")
        note = word.add_paragraph(_xml_safe(f"[{c.number}] {citation_text(c)}"))
        for run in note.runs:
            run.font.size = Pt(9)
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()
