"""The index folder: SQLite for documents and passages (with FTS5), FAISS for vectors.

Layout of an index directory:

    current -> builds/<id>     symlink to the build that serves; replaced atomically
    builds/<id>/index.sqlite   documents, passages, passages_fts
    builds/<id>/vectors.faiss  unit vectors, inner product; FAISS id = passage id
    builds/<id>/manifest.json  model, dimension, chunker version, counts, build time
    cache.sqlite               vectors by (model, hash of embedded text), reused by every build

A build writes a new folder and only then swaps `current`, so a failed or killed build
leaves the previous index serving. A finished build is never modified again.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from minutes.chunk import CHUNKER_VERSION
from minutes.errors import IndexCorrupt, IndexMismatch, IndexMissing, IndexProblem
from minutes.records import DocumentInfo, Passage

FORMAT_VERSION = 1
KEEP_BUILDS = 2  # the serving build and the one before it

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


IndexError_ = IndexProblem  # the old name, until every caller moves to minutes.errors


@dataclass(frozen=True)
class Manifest:
    model: str
    dimension: int
    chunker_version: str
    documents: int
    passages: int
    built_at: str
    build_seconds: float
    sources: tuple[str, ...]
    faiss_index: str
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = self.__dict__ | {"sources": list(self.sources)}
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["sources"] = tuple(data.get("sources", ()))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def current_build(index_dir: Path) -> Path | None:
    link = Path(index_dir) / "current"
    if not link.is_symlink() and not link.exists():
        return None
    return link.resolve()


def swap_in(index_dir: Path, build_dir: Path) -> None:
    """Point `current` at `build_dir` in one atomic rename, then prune old builds."""
    index_dir = Path(index_dir)
    temporary = index_dir / f".current-{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(build_dir.relative_to(index_dir))
    os.replace(temporary, index_dir / "current")
    _fsync_dir(index_dir)
    prune_builds(index_dir)


def prune_builds(index_dir: Path) -> None:
    builds = index_dir / "builds"
    serving = current_build(index_dir)
    finished = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.name, reverse=True)
    for old in finished[KEEP_BUILDS:]:
        if old != serving:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in builds.glob(".tmp-*"):  # builds that were killed before they finished
        if leftover.is_dir() and not _owner_alive(leftover):
            shutil.rmtree(leftover, ignore_errors=True)


def _owner_alive(tmp_dir: Path) -> bool:
    try:
        pid = int(tmp_dir.name.split("-")[-1])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


INFO_COLUMNS = ", ".join(f"d.{column}" for column in ("document_id", "title", "council", "committee", "item",
                                                       "date_text", "source_url", "see_also", "attribution"))


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


class Index:
    """A finished build, opened read-only. Safe to share between threads."""

    def __init__(self, build_dir: Path) -> None:
        self.path = Path(build_dir)
        manifest_path = self.path / "manifest.json"
        try:
            self.manifest = Manifest.from_json(manifest_path.read_text())
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorrupt(f"cannot read {manifest_path} ({exc}); rebuild with: minutes index --rebuild") from None
        vectors_path = self.path / "vectors.faiss"
        try:
            # Memory-map large indexes so start-up does not read them whole.
            flags = faiss.IO_FLAG_MMAP if vectors_path.stat().st_size > 256 * 2**20 else 0
            self.vectors = faiss.read_index(str(vectors_path), flags)
        except (OSError, RuntimeError) as exc:
            raise IndexCorrupt(f"cannot read {vectors_path} ({str(exc).splitlines()[0] if str(exc) else exc}); "
                               "rebuild with: minutes index --rebuild") from None
        if self.vectors.ntotal != self.manifest.passages:
            raise IndexCorrupt(f"{vectors_path} holds {self.vectors.ntotal} vectors but the manifest says "
                               f"{self.manifest.passages}; rebuild with: minutes index --rebuild")
        self._local = threading.local()
        self.sql("SELECT count(*) FROM passages")  # fail now, not on the first search

    def check_compatible(self, model: str, dimension: int) -> None:
        m = self.manifest
        if m.model != model or m.dimension != dimension:
            raise IndexMismatch(f"the index at {self.path} was built with model '{m.model}' "
                                f"({m.dimension} dimensions) but the query model is '{model}' ({dimension}); "
                                "rebuild with: minutes index --rebuild")
        if m.chunker_version != CHUNKER_VERSION or m.format != FORMAT_VERSION:
            raise IndexMismatch(f"the index at {self.path} was built by an older version of Minutes "
                                f"(chunker {m.chunker_version}, format {m.format}); "
                                "rebuild with: minutes index --rebuild")

    @property
    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{self.path / 'index.sqlite'}?mode=ro&immutable=1"
            try:
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except sqlite3.Error as exc:
                raise IndexCorrupt(f"cannot open {self.path / 'index.sqlite'} ({exc}); "
                                   "rebuild with: minutes index --rebuild") from None
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def sql(self, query: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.connection.execute(query, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "fts5" in str(exc).lower():
                raise
            raise IndexCorrupt(f"{self.path / 'index.sqlite'} is damaged ({exc}); "
                               "rebuild with: minutes index --rebuild") from None

    def passages_by_id(self, ids: list[int]) -> dict[int, tuple[Passage, DocumentInfo, bool]]:
        """Passage, its document and whether it is procedural, for each id."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        # The document columns by name: `d.*` would read each document's whole text too
        # (100 ms a search at 100k passages of long documents, against 0.3 ms; docs/benchmarks.md).
        rows = self.sql(f"SELECT p.id, p.ordinal, p.char_start, p.char_end, p.kind, p.heading, p.page, p.text, "
                        f"{INFO_COLUMNS}, d.procedural FROM passages p JOIN documents d ON d.doc = p.doc "
                        f"WHERE p.id IN ({marks})", ids)
        return {row["id"]: (row_to_passage(row), row_to_info(row), bool(row["procedural"])) for row in rows}

    def document(self, document_id: str) -> sqlite3.Row | None:
        rows = self.sql("SELECT * FROM documents WHERE document_id = ?", (document_id,))
        return rows[0] if rows else None

    def document_passages(self, document_id: str) -> list[Passage]:
        rows = self.sql("SELECT p.*, d.document_id FROM passages p JOIN documents d ON d.doc = p.doc "
                        "WHERE d.document_id = ? ORDER BY p.ordinal", (document_id,))
        return [row_to_passage(row) for row in rows]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def open_index(index_dir: Path) -> Index:
    build = current_build(index_dir)
    if build is None or not build.exists():
        raise IndexMissing(f"no index in {index_dir}; build one with: minutes index")
    return Index(build)


def write_vectors(build_dir: Path, count: int, rows: Callable[[np.ndarray], np.ndarray], dimension: int,
                  window: int = 65_536) -> str:
    """Write the FAISS index of `count` vectors, `rows(ids)` giving them `window` at a time
    (id = passage id); returns its kind."""
    from minutes.storage.sqlite_faiss.vectors import fill_vector_index

    index, kind = fill_vector_index(count, dimension, rows, window=window)
    faiss.write_index(index, str(build_dir / "vectors.faiss"))
    return kind


def distinct_values(index: Index, column: str) -> list[str]:
    """Councils or committees present in the index, for filter menus."""
    if column not in ("council", "committee"):
        raise ValueError(f"no such filter column: {column}")
    rows = index.sql(f"SELECT DISTINCT {column} FROM documents WHERE {column} IS NOT NULL ORDER BY {column}")
    return [row[0] for row in rows]
