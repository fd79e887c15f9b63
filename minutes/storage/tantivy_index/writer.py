"""Write a build's tantivy index: add, update or delete passages by id, then commit.

Nothing is visible to readers until `commit()`, and a commit is atomic: tantivy writes the new
segments, fsyncs them, then replaces `meta.json` in one rename, so a writer killed at any point
leaves the last committed index readable (tests/storage/test_tantivy.py kills one mid-commit).
A full disk or any other write failure is a `KeywordWriteError`, an OSError (as every storage
writer raises: the build turns it into a BuildError saying the previous index still serves) whose
errno is ENOSPC for a full disk and whose message names the folder and the cause.
"""

from __future__ import annotations

import contextlib
import errno
import os
from datetime import date
from pathlib import Path

import tantivy

from minutes.records import Document, Passage
from minutes.storage.tantivy_index.schema import ANALYZER, ANALYZER_NAME, build_schema

# What tantivy raises: ValueError for its own errors, OSError, RuntimeError for a consumed writer.
_TANTIVY_ERRORS = (OSError, ValueError, RuntimeError)
HEAP_BYTES = 64_000_000  # tantivy's indexing buffer, shared by its threads (at least 15 MB each)


class KeywordWriteError(OSError):
    """Writing the tantivy index failed (disk full, read-only folder, a writer already gone)."""


class TantivyWriter:
    """The keyword index of one build, in `path` (created if absent, reopened if present)."""

    def __init__(self, path: Path, threads: int | None = None, heap_bytes: int = HEAP_BYTES) -> None:
        self.path = Path(path)
        threads = threads or min(2, os.cpu_count() or 1)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.index = tantivy.Index(build_schema(), path=str(self.path), reuse=True)
            self.index.register_tokenizer(ANALYZER_NAME, ANALYZER)
            self._writer = self.index.writer(heap_size=max(heap_bytes, 15_000_001 * threads), num_threads=threads)
        except _TANTIVY_ERRORS as exc:
            raise self._error(exc) from None
        self._schema = self.index.schema
        self._open = True

    def add(self, passage_id: int, text: str, heading: str, council: str | None, committee: str | None,
            document_id: str, date_start: date | None, date_end: date | None, procedural: bool, kind: str) -> None:
        doc = tantivy.Document()
        doc.add_unsigned("passage_id", passage_id)
        doc.add_text("text", text)
        if heading:
            doc.add_text("heading", heading)
        if council:
            doc.add_text("council", council.lower())
        if committee:
            doc.add_text("committee", committee.lower())
        doc.add_text("document_id", document_id)
        doc.add_text("kind", kind)
        if date_start is not None and date_end is not None:
            doc.add_integer("date_start", date_start.toordinal())
            doc.add_integer("date_end", date_end.toordinal())
            doc.add_integer("year", date_start.year)
        doc.add_boolean("procedural", procedural)
        try:
            self._writer.add_document(doc)
        except _TANTIVY_ERRORS as exc:
            raise self._error(exc) from None

    def add_document(self, document: Document, passages: list[Passage], first_id: int) -> None:
        """Every passage of `document`, with ids `first_id`, `first_id + 1`, ... in order."""
        span = document.date
        for offset, passage in enumerate(passages):
            self.add(first_id + offset, passage.text, passage.heading, document.council, document.committee,
                     document.document_id, span.start if span else None, span.end if span else None,
                     document.procedural, passage.kind)

    def delete(self, passage_id: int) -> None:
        """Remove the passage (at the next commit); adding it again after this updates it."""
        try:
            self._writer.delete_documents_by_query(
                tantivy.Query.term_query(self._schema, "passage_id", int(passage_id)))
        except _TANTIVY_ERRORS as exc:
            raise self._error(exc) from None

    def update(self, passage_id: int, **fields: object) -> None:
        """Replace the passage with id `passage_id` (fields as for `add`)."""
        self.delete(passage_id)
        self.add(passage_id, **fields)  # type: ignore[arg-type]

    def commit(self) -> None:
        """Make everything added and deleted so far durable and visible, atomically."""
        try:
            self._writer.commit()
        except _TANTIVY_ERRORS as exc:
            self._rollback()
            raise self._error(exc) from None

    def rollback(self) -> None:
        """Forget everything since the last commit."""
        self._rollback()

    def close(self) -> None:
        """Let tantivy finish merging segments and delete the files merges left unused."""
        if self._open:
            self._open = False
            try:
                self._writer.wait_merging_threads()
            except _TANTIVY_ERRORS as exc:
                raise self._error(exc) from None

    def _rollback(self) -> None:
        if not self._open:
            return  # closed: nothing is pending, the last commit stands
        with contextlib.suppress(*_TANTIVY_ERRORS):  # a writer already gone: the last commit stands
            self._writer.rollback()

    def _error(self, exc: BaseException) -> KeywordWriteError:
        text = str(exc)
        reason = text.splitlines()[0][:300] if text.strip() else type(exc).__name__
        if "No space left" in text or "os error 28" in text or getattr(exc, "errno", None) == errno.ENOSPC:
            return KeywordWriteError(errno.ENOSPC, f"the disk is full (writing the keyword index in {self.path})")
        return KeywordWriteError(getattr(exc, "errno", None) or errno.EIO,
                                 f"could not write the keyword index in {self.path}: {reason}")

    def __enter__(self) -> TantivyWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
