"""SqlitePassageStore: passages, documents and filters of one build's index.sqlite."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minutes.errors import IndexCorrupt
from minutes.records import Filters, Passage
from minutes.storage.base import FacetField, StoredDocument, StoredPassage
from minutes.storage.sqlite_faiss.schema import (
    INFO_COLUMNS,
    PASSAGE_COLUMNS,
    row_to_document,
    row_to_info,
    row_to_passage,
)

REBUILD = "rebuild with: minutes index --rebuild"


def filter_sql(filters: Filters) -> tuple[str, list[object]]:
    """`filters` as a WHERE clause over passages `p` joined to documents `d`."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.council:
        clauses.append("d.council = ? COLLATE NOCASE")
        params.append(filters.council)
    if filters.committee:
        clauses.append("d.committee = ? COLLATE NOCASE")
        params.append(filters.committee)
    if filters.document:
        clauses.append("d.document_id = ?")
        params.append(filters.document)
    if filters.date_from:  # a document matches when its date interval overlaps the filter
        clauses.append("d.date_end >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        clauses.append("d.date_start <= ?")
        params.append(filters.date_to.isoformat())
    if not filters.include_procedural:
        clauses.append("d.procedural = 0")
    if filters.decisions_only:
        clauses.append("p.kind = 'resolution'")
    return " AND ".join(clauses) or "1", params


class Database:
    """One build's index.sqlite, read-only, one connection per thread.

    A connection opened with the build is kept as well: a request that started on a build may
    first touch SQLite from another thread after a newer build pruned the folder, and then it
    shares that one (serialised by a lock) instead of failing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._keeper = self._connect()
        self._keeper_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise IndexCorrupt(f"cannot open {self.path} ({exc}); {REBUILD}") from None
        conn.row_factory = sqlite3.Row
        return conn

    @property
    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._connect()
            except IndexCorrupt:
                if self.path.exists():
                    raise
                conn = self._keeper  # the folder was pruned while this build still serves a request
            self._local.conn = conn
        return conn

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = self.connection
        try:
            if conn is self._keeper:
                with self._keeper_lock:
                    return conn.execute(query, params).fetchall()
            return conn.execute(query, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "fts5" in str(exc).lower():
                raise
            raise IndexCorrupt(f"{self.path} is damaged ({exc}); {REBUILD}") from None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn is not self._keeper:
            conn.close()
        self._local.conn = None


class SqlitePassageStore:
    def __init__(self, database: Database) -> None:
        self.sql: Callable[..., list[sqlite3.Row]] = database.sql
        self._has_procedural = bool(self.sql("SELECT 1 FROM documents WHERE procedural = 1 LIMIT 1"))

    def restricts(self, filters: Filters) -> bool:
        if filters == Filters(include_procedural=filters.include_procedural):
            return not filters.include_procedural and self._has_procedural
        return True

    def allowed_ids(self, filters: Filters) -> np.ndarray | None:
        """The ids `filters` let through, or None when they let every passage through."""
        if not self.restricts(filters):
            return None
        where, params = filter_sql(filters)
        rows = self.sql(f"SELECT p.id FROM passages p JOIN documents d ON d.doc = p.doc WHERE {where}", params)
        return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        found: dict[int, StoredPassage] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.sql(f"SELECT {PASSAGE_COLUMNS}, {INFO_COLUMNS}, d.procedural FROM passages p "
                            f"JOIN documents d ON d.doc = p.doc WHERE p.id IN ({','.join('?' * len(chunk))})", chunk)
            found.update((row["id"], StoredPassage(row["id"], row_to_passage(row), row_to_info(row),
                                                   bool(row["procedural"]))) for row in rows)
        return found

    def passage(self, document_id: str, ordinal: int) -> StoredPassage | None:
        rows = self.sql(f"SELECT {PASSAGE_COLUMNS}, {INFO_COLUMNS}, d.procedural FROM passages p "
                        "JOIN documents d ON d.doc = p.doc WHERE d.document_id = ? AND p.ordinal = ?",
                        (document_id, ordinal))
        if not rows:
            return None
        row = rows[0]
        return StoredPassage(row["id"], row_to_passage(row), row_to_info(row), bool(row["procedural"]))

    def document(self, document_id: str) -> StoredDocument | None:
        rows = self.sql("SELECT * FROM documents WHERE document_id = ?", (document_id,))
        return row_to_document(rows[0]) if rows else None

    def document_passages(self, document_id: str) -> list[Passage]:
        rows = self.sql(f"SELECT {PASSAGE_COLUMNS}, d.document_id FROM passages p JOIN documents d ON d.doc = p.doc "
                        "WHERE d.document_id = ? ORDER BY p.ordinal", (document_id,))
        return [row_to_passage(row) for row in rows]

    def places(self, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
        ids = list(ids)
        if not ids:
            return {}
        rows = self.sql(f"SELECT p.id, d.document_id, p.ordinal FROM passages p JOIN documents d ON d.doc = p.doc "
                        f"WHERE p.id IN ({','.join('?' * len(ids))})", ids)
        return {row[0]: (row[1], row[2]) for row in rows}

    def facet_values(self, field: FacetField) -> list[str]:
        if field not in ("council", "committee"):
            raise ValueError(f"no such filter field: {field}")
        rows = self.sql(f"SELECT DISTINCT {field} FROM documents WHERE {field} IS NOT NULL ORDER BY {field}")
        return [row[0] for row in rows]
