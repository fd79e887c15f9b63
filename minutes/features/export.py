"""Briefing notes: chosen passages with full citations, as Markdown, Word (.docx) or CSV.

Every passage carries council, committee, meeting date, item, page, the source URL (or,
where no source page is confirmed, the passage's page in this service) and the date it
was retrieved. File names come from `safe_filename`, never from raw input.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from minutes.records import Hit
from minutes.render import context_url, source_link

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


def cite(hits: Sequence[Hit], base_url: str, retrieved: date) -> list[Cited]:
    """Numbered citations for `hits`, in order; `base_url` makes the passage links absolute."""
    base = base_url.rstrip("/")
    return [Cited(number=i, text=h.passage.text, council=h.document.council, committee=h.document.committee,
                  meeting_date=h.document.date, item=h.document.item or h.document.title, page=h.passage.page,
                  source_url=source_link(h), passage_url=base + context_url(h.document.document_id,
                                                                             h.passage.ordinal),
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


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


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
        # Quotes stay exact when rendered; `<` and `>` are escaped so no tag in a paper becomes live HTML.
        lines += ["> " + re.sub(r"([<>])", r"\\\1", line) if line.strip() else ">"
                  for line in c.text.splitlines()] + [""]
        lines += [f"[{c.number}] {_md_escape(_citation_source(c))}. <{c.url}> (retrieved {c.retrieved.isoformat()}).",
                  ""]
    return "\n".join(lines)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell that starts like a formula would run in a spreadsheet; a leading apostrophe keeps it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(cited: Sequence[Cited]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
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
