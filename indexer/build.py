"""Build an index: read documents, chunk, embed what is new, write a build, swap it in.

Vectors are cached by (model, hash of the embedded text) in `cache.sqlite` beside the
builds and committed batch by batch, so a re-run embeds only new or changed passages and
a killed build resumes where it stopped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec

import numpy as np
from tqdm import tqdm

from .chunk import CHUNKER_VERSION, chunk_document
from .embed import Embedder, embedding_text
from .ingest import IngestOptions, Problem, load_documents
from .records import Document, DocumentInfo, Passage
from .store import SCHEMA, Index, Manifest, current_build, swap_in, write_vectors

EMBED_BATCH = 256  # texts per cache commit; the model batches within it


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


class BuildError(RuntimeError):
    pass


def info_of(document: Document) -> DocumentInfo:
    return DocumentInfo(document.document_id, document.title, document.council, document.committee,
                        document.item, document.date.text if document.date else None, document.source_url,
                        document.see_also, document.attribution)


class VectorCache:
    def __init__(self, path: Path, model: str, dimension: int) -> None:
        self.model, self.dimension = model, dimension
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, "
                          "PRIMARY KEY (model, hash)) WITHOUT ROWID")

    def get(self, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(hashes), 500):
            chunk = hashes[i:i + 500]
            rows = self.conn.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(chunk))})",
                [self.model, *chunk])
            for digest, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.size == self.dimension:
                    found[digest] = vector
        return found

    def put(self, items: list[tuple[str, np.ndarray]]) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                  [(self.model, digest, vector.astype(np.float32).tobytes())
                                   for digest, vector in items])

    def close(self) -> None:
        self.conn.close()


def _write_sqlite(path: Path, documents: list[Document], passages: list[list[Passage]]) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SCHEMA)
        next_id = 0
        for doc_number, (document, chunks) in enumerate(zip(documents, passages, strict=True)):
            span = document.date
            conn.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc_number, document.document_id, document.title, document.council, document.committee,
                 document.item, span.text if span else None, span.start.isoformat() if span else None,
                 span.end.isoformat() if span else None, document.source_url, json.dumps(list(document.see_also)),
                 document.attribution, document.path, int(document.procedural), json.dumps(list(document.page_starts)),
                 document.content_hash, json.dumps(document.extra), document.text))
            rows = [(next_id + i, doc_number, p.ordinal, p.char_start, p.char_end, p.kind, p.heading, p.page, p.text)
                    for i, p in enumerate(chunks)]
            conn.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)", rows)
            next_id += len(rows)
        conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('rebuild')")
        conn.commit()
    finally:
        conn.close()


def collect(paths: Iterable[Path], report: BuildReport, options: IngestOptions | None = None) -> list[Document]:
    """Read every document once; duplicates of an id are reported, the first one kept."""
    documents: dict[str, Document] = {}
    options = options or IngestOptions()
    for item in load_documents(paths, options):  # shows its own progress bar, by file
        if isinstance(item, Problem):
            report.problems.append(item)
        elif item.document_id in documents:
            report.problems.append(Problem(item.path or item.document_id,
                                           f"duplicate document_id '{item.document_id}' (first: "
                                           f"{documents[item.document_id].path}); skipped"))
        else:
            documents[item.document_id] = item
    report.files = options.stats.files
    return list(documents.values())


def embed_all(texts: list[str], embedder: Embedder, cache: VectorCache, report: BuildReport,
              batch_size: int = 64) -> np.ndarray:
    hashes = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
    known = cache.get(list(dict.fromkeys(hashes)))
    missing = list(dict.fromkeys(h for h in hashes if h not in known))
    report.reused = sum(1 for h in hashes if h in known)
    text_of = dict(zip(hashes, texts, strict=True))
    # Longest first so each model batch holds texts of similar length (less padding).
    missing.sort(key=lambda h: len(text_of[h]), reverse=True)
    with tqdm(total=len(missing), desc="embedding", unit=" passages", disable=None) as bar:
        for i in range(0, len(missing), EMBED_BATCH):
            batch = missing[i:i + EMBED_BATCH]
            vectors = embedder.encode([text_of[h] for h in batch], batch_size=batch_size)
            cache.put(list(zip(batch, vectors, strict=True)))
            known.update(zip(batch, vectors, strict=True))
            bar.update(len(batch))
    report.embedded = len(missing)
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([known[h] for h in hashes]).astype(np.float32)


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
    by file hash (see indexer.ingest), as vectors are in `cache.sqlite`.
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
    documents = collect(paths, report, ingest)
    if not documents:
        failed = [p for p in report.problems if p.kind == "failed"]
        raise BuildError("no documents could be read; nothing was indexed"
                         + (f" ({len(failed)} files failed: "
                            + "; ".join(f"{p.source}: {p.reason}" for p in failed[:5])
                            + (" ..." if len(failed) > 5 else "") + ")" if failed else ""))
    chunks = [chunk_document(d) for d in tqdm(documents, desc="chunking", unit=" docs", disable=None)]
    texts = [embedding_text(p, info_of(d)) for d, ps in zip(documents, chunks, strict=True) for p in ps]

    cache = VectorCache(index_dir / "cache.sqlite", embedder.name, embedder.dimension)
    try:
        vectors = embed_all(texts, embedder, cache, report, batch_size)
    finally:
        cache.close()
    if after_embedding:
        after_embedding()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tmp = builds / f".tmp-{stamp}-{os.getpid()}"
    try:
        tmp.mkdir()
        _write_sqlite(tmp / "index.sqlite", documents, chunks)
        kind = write_vectors(tmp, vectors, embedder.dimension)
        report.documents, report.passages = len(documents), len(texts)
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
        final = builds / stamp
        os.rename(tmp, final)
    except (OSError, sqlite3.Error, RuntimeError) as exc:  # RuntimeError: FAISS write errors, IndexCorrupt
        shutil.rmtree(tmp, ignore_errors=True)
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:300]
        raise BuildError(f"could not write the new index in {builds}: {reason}; "
                         "the previous index is still serving") from None
    try:
        swap_in(index_dir, final)
    except OSError:
        if current_build(index_dir) != final.resolve():
            shutil.rmtree(final, ignore_errors=True)  # never served: leave the folder as it was
        raise
    report.build_dir = final
    return report
