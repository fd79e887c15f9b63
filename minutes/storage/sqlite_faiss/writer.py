"""SqliteFaissWriter: one new build folder, written a document at a time.

`index.sqlite` takes documents and passages in one transaction; the keyword index takes the
passages as they come (`keyword/`, tantivy: see minutes.storage.tantivy_index) and is committed
by `finish_passages`, before the build can be published, so a killed build leaves the previous
one serving (with `keyword="fts5"`, SQLite FTS5 instead: the benchmark's comparison);
`vectors.faiss` is filled from the vector cache a window at a time; `finish` writes the
manifest, syncs and reads the whole build back before it may be published.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Callable
from typing import Any

import faiss
import numpy as np

from minutes.embed import embedding_text
from minutes.records import Document, Passage
from minutes.storage.base import BuildHandle, Manifest
from minutes.storage.builds import BuildFolders
from minutes.storage.sqlite_errors import as_os_error
from minutes.storage.sqlite_faiss.reader import SqliteFaissReader
from minutes.storage.sqlite_faiss.schema import (
    INFO_COLUMNS,
    PASSAGE_COLUMNS,
    SCHEMA,
    document_row,
    insert_sql,
    passage_row,
    row_to_info,
    row_to_passage,
)
from minutes.storage.sqlite_faiss.vectors import fill_vector_index
from minutes.storage.tantivy_index import KEYWORD_DIR, TantivyWriter

KEYWORD_ENGINES = ("tantivy", "fts5")

READ_WINDOW = 8192  # vectors read from the cache per FAISS add (12 MB at 384 dimensions)


class SqliteFaissWriter:
    @as_os_error
    def __init__(self, folders: BuildFolders, dimension: int, vector_kind: str | None = None,
                 keyword: str = "tantivy") -> None:
        if keyword not in KEYWORD_ENGINES:
            raise ValueError(f"unknown keyword engine '{keyword}'; choose one of: {', '.join(KEYWORD_ENGINES)}")
        self.folders, self.dimension, self.vector_kind, self.keyword = folders, dimension, vector_kind, keyword
        self.path = folders.new_temporary()
        self.keyword_writer: TantivyWriter | None = None
        try:
            self.conn = sqlite3.connect(self.path / "index.sqlite")
            self.conn.row_factory = sqlite3.Row
            self.conn.executescript(SCHEMA)
            if keyword == "tantivy":
                self.keyword_writer = TantivyWriter(self.path / KEYWORD_DIR)
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        self.documents = self.passages = 0
        self._facts: dict[str, Any] = {"name": "sqlite_faiss", "keyword": keyword}

    @as_os_error
    def add(self, document: Document, passages: list[Passage]) -> None:
        row = document_row(self.documents, document)
        self.conn.execute(insert_sql("documents", row), row)
        rows = [passage_row(self.passages + i, self.documents, p) for i, p in enumerate(passages)]
        if rows:
            self.conn.executemany(insert_sql("passages", rows[0]), rows)
        if self.keyword_writer is not None:
            self.keyword_writer.add_document(document, passages, first_id=self.passages)
        self.documents += 1
        self.passages += len(rows)

    @as_os_error
    def finish_passages(self) -> None:
        if self.keyword_writer is not None:
            self.keyword_writer.commit()
            self.keyword_writer.close()  # merges finished, unused files gone: the folder is final
        else:
            self.conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('rebuild')")
        self.conn.commit()

    @as_os_error
    def embedding_texts(self, ids: list[int]) -> list[str]:
        """The embedding text of each passage id, rebuilt from the rows written (as `embedding_text`)."""
        text_of: dict[int, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = self.conn.execute(
                f"SELECT {PASSAGE_COLUMNS}, {INFO_COLUMNS} FROM passages p JOIN documents d ON d.doc = p.doc "
                f"WHERE p.id IN ({','.join('?' * len(chunk))})", chunk)
            text_of.update((row["id"], embedding_text(row_to_passage(row), row_to_info(row))) for row in rows)
        return [text_of[i] for i in ids]

    def write_vectors(self, count: int, rows: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
        self.conn.close()  # every row is written: nothing reads it again until the build is opened
        index, kind = fill_vector_index(count, self.dimension, rows, self.vector_kind, window=READ_WINDOW)
        faiss.write_index(index, str(self.path / "vectors.faiss"))
        self._facts = {"name": "sqlite_faiss", "vector_index": kind, "keyword": self.keyword}
        return dict(self._facts)

    def finish(self, manifest: Manifest) -> BuildHandle:
        # This build's own facts win over the caller's: a composite writer (Milvus beside a local
        # keyword index) hands over the manifest of the whole, whose backend facts are not these.
        own = manifest.model_copy(update={"backend": manifest.backend | self._facts})
        (self.path / "manifest.json").write_text(own.to_json())
        final = self.folders.finalise(self.path)
        self.path = final
        SqliteFaissReader(final).close()  # a write the disk silently dropped fails here, not in the server
        return BuildHandle(final.name, str(final))

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        if self.keyword_writer is not None:
            self.keyword_writer.rollback()
            with contextlib.suppress(OSError):
                self.keyword_writer.close()
        if self.path.name.startswith(".tmp-"):
            shutil.rmtree(self.path, ignore_errors=True)

