"""Build an index: read documents, chunk, embed what is new, write a build, swap it in.

The build streams: each document is written to the new build's SQLite as soon as it is
read and chunked, and dropped; per passage only the hash and length of its embedding text
stay in memory (minutes.storage.vector_cache). Vectors are cached by (model, hash of the embedded
text) in `cache.sqlite` beside the builds and committed batch by batch, so a re-run embeds
only new or changed passages and a killed build resumes where it stopped; FAISS then takes
them from the cache a window at a time. Peak memory in docs/benchmarks.md ("Memory").
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec

from minutes.chunk import CHUNKER_VERSION, chunk_document
from minutes.embed import Embedder, embedding_text
from minutes.errors import BuildError
from minutes.ingest import IngestOptions, Problem, load_documents
from minutes.records import Document, DocumentInfo, Passage
from minutes.storage.sqlite_faiss.store import (
    INFO_COLUMNS,
    SCHEMA,
    Index,
    Manifest,
    current_build,
    row_to_info,
    row_to_passage,
    swap_in,
    write_vectors,
)
from minutes.storage.vector_cache import PassageHashes, VectorCache, embed_missing, plan_embedding

READ_WINDOW = 8192  # vectors read from the cache per FAISS add (12 MB at 384 dimensions)


@dataclass
class BuildReport:
    documents: int = 0
    passages: int = 0
    files: int = 0  # files read, duplicates and failures included
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    build_dir: Path | None = None




def info_of(document: Document) -> DocumentInfo:
    return DocumentInfo(document.document_id, document.title, document.council, document.committee,
                        document.item, document.date.text if document.date else None, document.source_url,
                        document.see_also, document.attribution)


class BuildDatabase:
    """The new build's index.sqlite, written a document at a time (one transaction until `finish`)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.row_factory = sqlite3.Row
        self.conn.executescript(SCHEMA)
        self.documents = self.passages = 0

    def add(self, document: Document, chunks: list[Passage]) -> None:
        span = document.date
        self.conn.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (self.documents, document.document_id, document.title, document.council, document.committee,
             document.item, span.text if span else None, span.start.isoformat() if span else None,
             span.end.isoformat() if span else None, document.source_url, json.dumps(list(document.see_also)),
             document.attribution, document.path, int(document.procedural), json.dumps(list(document.page_starts)),
             document.content_hash, json.dumps(document.extra), document.text))
        rows = [(self.passages + i, self.documents, p.ordinal, p.char_start, p.char_end, p.kind, p.heading, p.page,
                 p.text) for i, p in enumerate(chunks)]
        self.conn.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)", rows)
        self.documents += 1
        self.passages += len(rows)

    def finish(self) -> None:
        self.conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('rebuild')")
        self.conn.commit()

    def embedding_texts(self, ids: list[int]) -> list[str]:
        """The embedding text of each passage id, rebuilt from the rows written (as `embedding_text`)."""
        text_of: dict[int, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = self.conn.execute(
                f"SELECT p.id, p.ordinal, p.char_start, p.char_end, p.kind, p.heading, p.page, p.text, "
                f"{INFO_COLUMNS} FROM passages p JOIN documents d ON d.doc = p.doc "
                f"WHERE p.id IN ({','.join('?' * len(chunk))})", chunk)
            text_of.update((row["id"], embedding_text(row_to_passage(row), row_to_info(row))) for row in rows)
        return [text_of[i] for i in ids]

    def close(self) -> None:
        self.conn.close()


def unique_documents(paths: Iterable[Path], report: BuildReport,
                     options: IngestOptions | None = None) -> Iterator[Document]:
    """Every document, read once; duplicates of an id are reported, the first one kept."""
    first_path: dict[str, str | None] = {}
    options = options or IngestOptions()
    for item in load_documents(paths, options):  # shows its own progress bar, by file
        if isinstance(item, Problem):
            report.problems.append(item)
        elif item.document_id in first_path:
            report.problems.append(Problem(item.path or item.document_id,
                                           f"duplicate document_id '{item.document_id}' (first: "
                                           f"{first_path[item.document_id]}); skipped"))
        else:
            first_path[item.document_id] = item.path
            yield item
    report.files = options.stats.files


def collect(paths: Iterable[Path], report: BuildReport, options: IngestOptions | None = None) -> list[Document]:
    """Every document in memory at once (benchmarks); a build streams them instead."""
    return list(unique_documents(paths, report, options))


@contextmanager
def _writing(builds: Path) -> Iterator[None]:
    """Errors writing the new build become a BuildError that says the previous index still serves."""
    try:
        yield
    except BuildError:
        raise
    except (OSError, sqlite3.Error, RuntimeError) as exc:  # RuntimeError: FAISS write errors, IndexCorrupt
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:300]
        raise BuildError(f"could not write the new index in {builds}: {reason}; "
                         "the previous index is still serving") from None


P = ParamSpec("P")


def _clear_build_errors(func: Callable[P, BuildReport]) -> Callable[P, BuildReport]:
    """A full disk or a read-only index folder, at any stage, is a BuildError that says so."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> BuildReport:
        try:
            return func(*args, **kwargs)
        except (OSError, sqlite3.Error) as exc:
            index_dir = kwargs.get("index_dir", args[1] if len(args) > 1 else "the index folder")
            reason = getattr(exc, "strerror", None) or str(exc)
            filename = getattr(exc, "filename", None)
            where = f" ({filename})" if filename else ""
            raise BuildError(f"the build in {index_dir} failed: {reason}{where}; is the disk full or the folder "
                             "read-only? Nothing was swapped in: the previous index is still serving") from None
    return wrapper


@_clear_build_errors
def build_index(paths: list[Path], index_dir: Path, embedder: Embedder, *,
                batch_size: int = 64, after_embedding: Callable[[], None] | None = None,
                ingest: IngestOptions | None = None) -> BuildReport:
    """Build a new index of `paths` into `index_dir` and swap it in; returns what happened.

    Text extracted from PDF, Word and HTML files is cached in `index_dir/extracted.sqlite`
    by file hash (see minutes.ingest), as vectors are in `cache.sqlite`.
    """
    started = time.perf_counter()
    report = BuildReport()
    index_dir = Path(index_dir)
    builds = index_dir / "builds"
    try:
        builds.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create the index folder {builds}: {exc.strerror or exc}") from None
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise BuildError(f"no such file or folder: {', '.join(missing)}")

    ingest = ingest or IngestOptions()
    if ingest.cache_path is None:
        ingest.cache_path = index_dir / "extracted.sqlite"
    tmp = builds / f".tmp-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{os.getpid()}"
    try:
        with _writing(builds):
            tmp.mkdir()
            database = BuildDatabase(tmp / "index.sqlite")
        with closing(database):
            hashes = _write_documents(paths, ingest, database, report, builds)
            with closing(VectorCache(index_dir / "cache.sqlite", embedder.name, embedder.dimension)) as cache:
                order, report.reused = plan_embedding(hashes, cache)
                embed_missing(order, database.embedding_texts, hashes, embedder, cache, batch_size)
                report.embedded = len(order)
                database.close()  # before the files are synced and read back
                if after_embedding:
                    after_embedding()
                with _writing(builds):
                    final = _finish(tmp, builds, paths, embedder, report, hashes, cache, started)
    except BaseException:  # failed or interrupted: no half-written build is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        swap_in(index_dir, final)
    except OSError:
        if current_build(index_dir) != final.resolve():
            shutil.rmtree(final, ignore_errors=True)  # never served: leave the folder as it was
        raise
    report.build_dir = final
    return report


def _write_documents(paths: list[Path], ingest: IngestOptions, database: BuildDatabase, report: BuildReport,
                     builds: Path) -> PassageHashes:
    """Read, chunk and write every document to the new build; the hash of each passage's embedding text."""
    hashes = PassageHashes()
    for document in unique_documents(paths, report, ingest):
        chunks = chunk_document(document)
        info = info_of(document)
        for passage in chunks:
            hashes.add(embedding_text(passage, info))
        with _writing(builds):
            database.add(document, chunks)
    if not database.documents:
        failed = [p for p in report.problems if p.kind == "failed"]
        raise BuildError("no documents could be read; nothing was indexed"
                         + (f" ({len(failed)} files failed: "
                            + "; ".join(f"{p.source}: {p.reason}" for p in failed[:5])
                            + (" ..." if len(failed) > 5 else "") + ")" if failed else ""))
    with _writing(builds):
        database.finish()
    report.documents, report.passages = database.documents, database.passages
    return hashes


def _finish(tmp: Path, builds: Path, paths: list[Path], embedder: Embedder, report: BuildReport,
            hashes: PassageHashes, cache: VectorCache, started: float) -> Path:
    """Write the vectors and the manifest, make it durable, read it back, rename it into place."""
    kind = write_vectors(tmp, len(hashes), cache.reader(hashes), embedder.dimension, READ_WINDOW)
    report.seconds = round(time.perf_counter() - started, 2)
    manifest = Manifest(model=embedder.name, dimension=embedder.dimension, chunker_version=CHUNKER_VERSION,
                        documents=report.documents, passages=report.passages,
                        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                        build_seconds=report.seconds, sources=tuple(str(Path(p).resolve()) for p in paths),
                        faiss_index=kind)
    (tmp / "manifest.json").write_text(manifest.to_json())
    for file in tmp.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    Index(tmp).close()  # read it back: a write the disk silently dropped fails here, not in the server
    final = builds / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    os.rename(tmp, final)
    return final
