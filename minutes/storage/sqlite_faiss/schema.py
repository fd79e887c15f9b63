"""The SQLite schema of a build and the mapping of its rows to records (private to the backend)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

from minutes.records import DateSpan, Document, DocumentInfo, Passage
from minutes.storage.base import StoredDocument

SCHEMA = """
CREATE TABLE documents (
    doc INTEGER PRIMARY KEY, document_id TEXT NOT NULL UNIQUE, title TEXT, council TEXT,
    committee TEXT, item TEXT, date_text TEXT, date_start TEXT, date_end TEXT, source_url TEXT,
    see_also TEXT NOT NULL, attribution TEXT, path TEXT, procedural INTEGER NOT NULL,
    page_starts TEXT NOT NULL, content_hash TEXT NOT NULL, extra TEXT NOT NULL, text TEXT NOT NULL
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, doc INTEGER NOT NULL REFERENCES documents(doc), ordinal INTEGER NOT NULL,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, kind TEXT NOT NULL, heading TEXT NOT NULL,
    page INTEGER, text TEXT NOT NULL
);
CREATE INDEX passages_doc ON passages(doc);
CREATE INDEX documents_council ON documents(council);
CREATE INDEX documents_committee ON documents(committee);
CREATE VIRTUAL TABLE passages_fts USING fts5(
    text, heading, content='passages', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
"""

# The document columns a hit needs, by name: `d.*` would read each document's whole text too
# (100 ms a search at 100k passages of long documents, against 0.3 ms; docs/benchmarks.md).
INFO_COLUMNS = ", ".join(f"d.{column}" for column in ("document_id", "title", "council", "committee", "item",
                                                       "date_text", "source_url", "see_also", "attribution"))
PASSAGE_COLUMNS = "p.id, p.ordinal, p.char_start, p.char_end, p.kind, p.heading, p.page, p.text"


def document_row(doc: int, document: Document) -> dict[str, object]:
    span = document.date
    return {
        "doc": doc, "document_id": document.document_id, "title": document.title, "council": document.council,
        "committee": document.committee, "item": document.item, "date_text": span.text if span else None,
        "date_start": span.start.isoformat() if span else None, "date_end": span.end.isoformat() if span else None,
        "source_url": document.source_url, "see_also": json.dumps(list(document.see_also)),
        "attribution": document.attribution, "path": document.path, "procedural": int(document.procedural),
        "page_starts": json.dumps(list(document.page_starts)), "content_hash": document.content_hash,
        "extra": json.dumps(document.extra), "text": document.text,
    }


def passage_row(pid: int, doc: int, passage: Passage) -> dict[str, object]:
    return {"id": pid, "doc": doc, "ordinal": passage.ordinal, "char_start": passage.char_start,
            "char_end": passage.char_end, "kind": passage.kind, "heading": passage.heading, "page": passage.page,
            "text": passage.text}


def insert_sql(table: str, row: dict[str, object]) -> str:
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + name for name in row)})"


def row_to_info(row: sqlite3.Row) -> DocumentInfo:
    return DocumentInfo(
        document_id=row["document_id"], title=row["title"], council=row["council"],
        committee=row["committee"], item=row["item"], date=row["date_text"],
        source_url=row["source_url"], see_also=tuple(json.loads(row["see_also"])),
        attribution=row["attribution"],
    )


def row_to_passage(row: sqlite3.Row) -> Passage:
    return Passage(document_id=row["document_id"], ordinal=row["ordinal"], char_start=row["char_start"],
                   char_end=row["char_end"], kind=row["kind"], text=row["text"], heading=row["heading"],
                   page=row["page"])


def row_to_document(row: sqlite3.Row) -> StoredDocument:
    span = None
    if row["date_text"] and row["date_start"] and row["date_end"]:
        span = DateSpan(row["date_text"], date.fromisoformat(row["date_start"]), date.fromisoformat(row["date_end"]))
    return StoredDocument(info=row_to_info(row), text=row["text"], span=span, procedural=bool(row["procedural"]),
                          page_starts=tuple(json.loads(row["page_starts"])), path=row["path"],
                          content_hash=row["content_hash"], extra=json.loads(row["extra"]))
