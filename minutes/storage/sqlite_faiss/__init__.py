"""The embedded local backend: SQLite (documents, passages), tantivy (keywords) + FAISS (vectors) in build
folders under the index folder, published by the `current` symlink swap (storage/builds.py).

This package is the only place that imports sqlite3 or faiss for the index (the vector and
extraction caches keep their own SQLite files).
"""

from __future__ import annotations

from pathlib import Path

from minutes.errors import IndexMissing
from minutes.storage.base import BuildHandle, Manifest
from minutes.storage.builds import BuildFolders
from minutes.storage.sqlite_faiss.reader import SqliteFaissReader
from minutes.storage.sqlite_faiss.writer import SqliteFaissWriter

__all__ = ["SqliteFaissBackend", "SqliteFaissReader", "SqliteFaissWriter"]


class SqliteFaissBackend:
    name = "sqlite_faiss"

    def __init__(self, index_dir: Path, vector_kind: str | None = None, keyword: str = "tantivy") -> None:
        self.index_dir = Path(index_dir)
        self.folders = BuildFolders(self.index_dir)
        self.vector_kind = vector_kind  # None: by corpus size (vectors.choose_kind)
        self.keyword = keyword  # "tantivy"; "fts5" only for the benchmark's comparison row

    def writer(self, dimension: int, *, model: str = "", incremental: bool = True) -> SqliteFaissWriter:
        """Always a whole new build folder (unchanged passages reuse their cached vectors)."""
        return SqliteFaissWriter(self.folders, dimension, self.vector_kind, self.keyword)

    def publish(self, build: BuildHandle) -> None:
        self.folders.publish(Path(build.location))

    def discard(self, build: BuildHandle) -> None:
        self.folders.discard(Path(build.location))

    def current(self) -> str | None:
        build = self.folders.current()
        return build.name if build is not None and (build / "manifest.json").exists() else None

    def open(self, build_id: str | None = None) -> SqliteFaissReader:
        build = self.folders.builds / build_id if build_id else self.folders.current()
        if build is None or not build.exists():
            raise IndexMissing(f"no index in {self.index_dir}; build one with: minutes index")
        return SqliteFaissReader(build)

    def previous_sources(self) -> list[str]:
        """From the manifest alone: opening the whole build would read its vectors and keyword index."""
        build = self.folders.current()
        if build is None:
            return []
        try:
            return list(Manifest.from_json((build / "manifest.json").read_text()).sources)
        except (OSError, ValueError):  # no readable current build: nothing to add to
            return []


def open_local(index_dir: Path) -> SqliteFaissReader:
    """The local backend's current build, typed as itself (its own tests and benchmarks use SQL)."""
    return SqliteFaissBackend(index_dir).open()
