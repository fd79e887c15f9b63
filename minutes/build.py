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
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec

from minutes.chunk import CHUNKER_VERSION, chunk_document
from minutes.embed import Embedder, embedding_text, load_embedder
from minutes.errors import BuildError
from minutes.ingest import IngestOptions, Problem, load_documents
from minutes.ingest.limits import Limits
from minutes.records import Document, DocumentInfo
from minutes.settings import Settings
from minutes.storage import open_backend
from minutes.storage.base import Backend, IndexWriter, Manifest
from minutes.storage.vector_cache import PassageHashes, VectorCache, embed_missing, plan_embedding


@dataclass
class BuildReport:
    documents: int = 0
    passages: int = 0
    files: int = 0  # files read, duplicates and failures included
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    build_id: str | None = None
    build_dir: Path | None = None  # the local backend's build folder
    written: dict[str, int] = field(default_factory=dict)  # rows the backend wrote, by kind (Milvus)


def info_of(document: Document) -> DocumentInfo:
    return DocumentInfo(document.document_id, document.title, document.council, document.committee,
                        document.item, document.date.text if document.date else None, document.source_url,
                        document.see_also, document.attribution)


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
    except (OSError, RuntimeError) as exc:  # RuntimeError: FAISS write errors, IndexCorrupt
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
        except OSError as exc:
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
                ingest: IngestOptions | None = None, backend: Backend | None = None,
                incremental: bool = True) -> BuildReport:
    """Build a new index of `paths` and publish it; returns what happened.

    `incremental`: a backend that can (Milvus) writes only the rows that changed since the
    serving build, when that one has the same model, dimension and chunker; else a whole build.

    `index_dir` holds the caches: text extracted from PDF, Word and HTML files by file hash
    (`extracted.sqlite`, see minutes.ingest) and vectors by text hash (`cache.sqlite`), and
    the builds themselves unless `backend` keeps them elsewhere.
    """
    started = time.perf_counter()
    report = BuildReport()
    index_dir = Path(index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create the index folder {index_dir}: {exc.strerror or exc}") from None
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise BuildError(f"no such file or folder: {', '.join(missing)}")
    backend = backend or open_backend(index_dir)
    ingest = ingest or IngestOptions()
    if ingest.cache_path is None:
        ingest.cache_path = index_dir / "extracted.sqlite"
    with _writing(index_dir):
        writer = backend.writer(embedder.dimension, model=embedder.name, incremental=incremental)
    try:
        hashes = _write_documents(paths, ingest, writer, report, index_dir)
        with closing(VectorCache(index_dir / "cache.sqlite", embedder.name, embedder.dimension)) as cache:
            order, report.reused = plan_embedding(hashes, cache)
            embed_missing(order, writer.embedding_texts, hashes, embedder, cache, batch_size)
            report.embedded = len(order)
            if after_embedding:
                after_embedding()
            with _writing(index_dir):
                facts = writer.write_vectors(len(hashes), cache.reader(hashes))
                report.written = dict(facts.get("written", {}))
                report.seconds = round(time.perf_counter() - started, 2)
                handle = writer.finish(_manifest(embedder, report, paths, facts))
    except BaseException:  # failed or interrupted: no half-written build is left behind
        writer.abort()
        raise
    try:
        backend.publish(handle)
    except OSError:
        backend.discard(handle)  # never served: leave the index as it was
        raise
    report.build_id = handle.build_id
    report.build_dir = Path(handle.location)
    return report


def _write_documents(paths: list[Path], ingest: IngestOptions, writer: IndexWriter, report: BuildReport,
                     index_dir: Path) -> PassageHashes:
    """Read, chunk and write every document to the new build; the hash of each passage's embedding text."""
    hashes = PassageHashes()
    for document in unique_documents(paths, report, ingest):
        chunks = chunk_document(document)
        info = info_of(document)
        for passage in chunks:
            hashes.add(embedding_text(passage, info))
        with _writing(index_dir):
            writer.add(document, chunks)
    if not writer.documents:
        failed = [p for p in report.problems if p.kind == "failed"]
        raise BuildError("no documents could be read; nothing was indexed"
                         + (f" ({len(failed)} files failed: "
                            + "; ".join(f"{p.source}: {p.reason}" for p in failed[:5])
                            + (" ..." if len(failed) > 5 else "") + ")" if failed else ""))
    with _writing(index_dir):
        writer.finish_passages()
    report.documents, report.passages = writer.documents, writer.passages
    return hashes


def _manifest(embedder: Embedder, report: BuildReport, paths: list[Path], backend: dict[str, Any]) -> Manifest:
    return Manifest(model=embedder.name, dimension=embedder.dimension, chunker_version=CHUNKER_VERSION,
                    documents=report.documents, passages=report.passages,
                    built_at=datetime.now(UTC).isoformat(timespec="seconds"), build_seconds=report.seconds,
                    sources=tuple(str(Path(p).resolve()) for p in paths), backend=backend)


def build_from_settings(settings: Settings, paths: list[Path], *, rebuild: bool = False,
                        ingest: IngestOptions | None = None) -> BuildReport:
    """The build use case behind `minutes index`, `serve` and `import`: the model and device
    the settings name; `rebuild` forgets every cached vector and extracted text first, and
    writes a whole new build (never in place)."""
    if settings.model != "hashing":  # the test model needs no torch (whose import takes seconds)
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    if rebuild:
        for cache in ("cache.sqlite", "extracted.sqlite"):
            (Path(settings.index_dir) / cache).unlink(missing_ok=True)
    backend = open_backend(settings.index_dir, settings.backend)
    ingest = ingest or IngestOptions()
    ingest.limits = Limits.from_settings(settings)  # these settings' caps, not only the environment's
    if settings.ray is None:
        embedder = load_embedder(settings.model, device=settings.device)
        return build_index(paths, settings.index_dir, embedder, batch_size=settings.batch_size, ingest=ingest,
                           backend=backend, incremental=not rebuild)
    from minutes.embed_ray import RayEmbedder

    on_ray = RayEmbedder(settings.model, None if settings.ray == "local" else settings.ray, device=settings.device,
                         batch_size=settings.batch_size)
    try:
        return build_index(paths, settings.index_dir, on_ray, batch_size=settings.batch_size, ingest=ingest,
                           backend=backend, incremental=not rebuild)
    finally:
        on_ray.close()


def index_is_ready(settings: Settings) -> bool:
    """Whether a published build exists (serve builds one first when not)."""
    return open_backend(settings.index_dir, settings.backend).current() is not None
