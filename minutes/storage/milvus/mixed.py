"""The mixed set-up: Milvus vectors (and passages) beside the local keyword index.

`--backend 'milvus://HOST:PORT?keyword=local'` is for Milvus servers without BM25 (2.3, 2.4),
and for results that must equal the local index's (FTS5 with porter stems; Milvus' analyzer
differs). Each build writes both: the Milvus collections, and a local SQLite + FTS5 build
under INDEX_DIR/milvus-keywords/ with the same passage ids (both writers number passages in
the order they are given). The Milvus manifest names its local build, so the alias alone
decides which pair serves: publishing the local half first and the alias last keeps the swap
atomic for readers.

The local half is the local backend's own writer, so it also writes a FAISS file that this
set-up never searches (the local reader checks it); at national scale that is disk, not RAM
(it is memory-mapped and never read). Keeping it lets the folder serve alone with
`--backend local --index-dir INDEX_DIR/milvus-keywords` if Milvus is down.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from minutes.errors import IndexCorrupt
from minutes.records import Document, Passage
from minutes.storage.base import BuildHandle, Manifest
from minutes.storage.milvus.writer import MilvusWriter

LOCAL_FOLDER = "milvus-keywords"


class MixedWriter:
    def __init__(self, milvus: MilvusWriter, local: Any) -> None:
        self.milvus, self.local = milvus, local

    @property
    def documents(self) -> int:
        return self.milvus.documents

    @property
    def passages(self) -> int:
        return self.milvus.passages

    def add(self, document: Document, passages: list[Passage]) -> None:
        self.local.add(document, passages)
        self.milvus.add(document, passages)

    def finish_passages(self) -> None:
        self.local.finish_passages()
        self.milvus.finish_passages()

    def embedding_texts(self, ids: list[int]) -> list[str]:
        return self.milvus.embedding_texts(ids)

    def write_vectors(self, count: int, rows: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
        self.local.write_vectors(count, rows)
        return self.milvus.write_vectors(count, rows) | {"keyword": "local"}

    def finish(self, manifest: Manifest) -> BuildHandle:
        local = self.local.finish(manifest)
        facts = dict(manifest.backend) | {"keyword": "local", "local_build": local.build_id}
        return self.milvus.finish(manifest.model_copy(update={"backend": facts}))

    def abort(self) -> None:
        self.local.abort()
        self.milvus.abort()


class LocalKeywords:
    """The local builds of the mixed set-up: opened by the id the Milvus manifest names."""

    def __init__(self, index_dir: Path) -> None:
        from minutes.storage.sqlite_faiss import SqliteFaissBackend

        self.local = SqliteFaissBackend(Path(index_dir) / LOCAL_FOLDER)

    def writer(self, dimension: int) -> Any:
        return self.local.writer(dimension)

    def handle(self, manifest: Manifest) -> BuildHandle:
        build_id = manifest.backend.get("local_build")
        if not build_id:
            raise IndexCorrupt("this Milvus build has no local keyword index (it was built without "
                               "?keyword=local); rebuild with: minutes index --rebuild")
        return BuildHandle(str(build_id), str(self.local.folders.builds / str(build_id)))

    def publish(self, manifest: Manifest) -> None:
        self.local.publish(self.handle(manifest))

    def discard(self, manifest: Manifest) -> None:
        self.local.discard(self.handle(manifest))

    def open(self, manifest: Manifest) -> Any:
        handle = self.handle(manifest)
        if not Path(handle.location).exists():
            raise IndexCorrupt(f"the local keyword index {handle.location} of this Milvus build is missing; "
                               "rebuild with: minutes index --rebuild")
        return self.local.open(handle.build_id)
