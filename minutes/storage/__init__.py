"""Where an index lives. `open_backend` picks the backend; everything above storage talks to
it through the protocols of storage/base.py only."""

from __future__ import annotations

from pathlib import Path

from minutes.errors import MinutesError
from minutes.storage.base import Backend, IndexReader
from minutes.storage.builds import BuildFolders


def open_backend(index_dir: Path, url: str | None = None) -> Backend:
    """The backend at `url` (None or "local": the embedded SQLite + FAISS index in `index_dir`).

    `index_dir` also holds the caches (vectors by text hash, extracted text by file hash)
    whatever the backend.
    """
    if url in (None, "", "local"):
        from minutes.storage.sqlite_faiss import SqliteFaissBackend

        return SqliteFaissBackend(index_dir)
    if url.startswith(("milvus://", "milvus-lite:")):
        try:
            from minutes.storage.milvus.backend import MilvusBackend
        except ImportError as exc:
            raise MinutesError(f"the Milvus backend needs pymilvus: pip install 'minutes[milvus]' ({exc})") from None
        try:
            return MilvusBackend(url, index_dir=index_dir)
        except ValueError as exc:
            raise MinutesError(str(exc)) from None
    raise MinutesError(f"unknown backend '{url}'; use 'local', 'milvus://HOST:PORT' or 'milvus-lite:PATH'")


def open_index(index_dir: Path, url: str | None = None) -> IndexReader:
    """The build that serves now."""
    return open_backend(index_dir, url).open()


def current_build(index_dir: Path) -> Path | None:
    """The local backend's serving build folder (None when there is none)."""
    return BuildFolders(index_dir).current()
