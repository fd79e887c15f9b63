"""Milvus for the tests: the real standalone server (2.3, the `milvus` package) on loopback,
started once per session, and Milvus Lite (3.x, BM25) in a file. A test that needs either
fails loudly when it cannot start; it never skips."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from minutes.chunk import CHUNKER_VERSION, chunk_document
from minutes.embed import Embedder
from minutes.records import Document
from minutes.storage.base import BuildHandle, Manifest


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from minutes.storage.milvus.standalone import StandaloneMilvus
    except ImportError as exc:
        pytest.fail(f"the Milvus tests need pymilvus and milvus (pip install -e '.[test]'): {exc}")
    server = StandaloneMilvus(tmp_path_factory.mktemp("milvus-standalone"))
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any failure to start is the test run's failure
        tail = server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""
        server.stop()
        pytest.fail(f"the Milvus standalone server did not start: {exc}\n{tail}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus_lite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"milvus-lite:{tmp_path_factory.mktemp('milvus-lite') / 'minutes.db'}"


def write_build(backend: Any, documents: Iterable[Document], embedder: Embedder,
                hook: Callable[[Any], None] | None = None, incremental: bool = True) -> BuildHandle:
    """One build through the IndexWriter protocol (as minutes.build drives it), not published."""
    writer = backend.writer(embedder.dimension, model=embedder.name, incremental=incremental)
    try:
        for document in documents:
            writer.add(document, chunk_document(document))
        writer.finish_passages()
        ids = list(range(writer.passages))
        vectors = embedder.encode(writer.embedding_texts(ids)) if ids else np.zeros((0, embedder.dimension))
        if hook:
            hook(writer)
        facts = writer.write_vectors(len(ids), lambda rows: vectors[rows])
        manifest = Manifest(model=embedder.name, dimension=embedder.dimension, chunker_version=CHUNKER_VERSION,
                            documents=writer.documents, passages=writer.passages,
                            built_at=datetime.now(UTC).isoformat(timespec="seconds"), build_seconds=0.0,
                            sources=("test",), backend=facts)
        return writer.finish(manifest)
    except BaseException:
        writer.abort()
        raise


def load_corpus(root: Path) -> list[Document]:
    from minutes.build import BuildReport, collect

    return collect([root], BuildReport())
