"""Keeps the serving Searcher and swaps in a new build when the backend's `current` changes.

Each request takes the Searcher once and uses it to the end, so a search that started on the
old build finishes on it while new requests get the new one.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from minutes.embed import Embedder, load_embedder
from minutes.errors import IndexMissing, IndexProblem
from minutes.search.hybrid import Searcher, Tuning
from minutes.storage import open_backend
from minutes.storage.base import Backend

log = logging.getLogger("minutes")


class SearcherHolder:
    def __init__(self, index_dir: Path, model: str, threads: int | None = None,
                 tuning: Tuning | None = None, embedder: Embedder | None = None,
                 backend: Backend | None = None, onnx_queries: bool = False) -> None:
        self.backend = backend or open_backend(Path(index_dir))
        self.model, self.threads, self.tuning, self.onnx_queries = model, threads, tuning, onnx_queries
        self._embedder = embedder
        self._searcher: Searcher | None = None
        self._build: str | None = None
        self._refused: str | None = None  # a build that could not be opened: not retried per request
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.model, threads=self.threads, onnx_queries=self.onnx_queries)
        return self._embedder

    def get(self) -> Searcher:
        """The Searcher for the build the backend publishes now (opened on first use)."""
        build = self.backend.current()
        searcher = self._searcher
        if searcher is not None and build in (self._build, self._refused):
            return searcher
        with self._lock:
            if self._searcher is None or build != self._build:
                if build is None:
                    if self._searcher is not None:
                        return self._searcher  # mid-swap or gone: keep serving what we have
                    where = (getattr(self.backend, "index_dir", None) if self.backend.name == "sqlite_faiss"
                             else None) or f"the {self.backend.name} backend"
                    raise IndexMissing(f"no index in {where}; "
                                       "build one with: minutes index")
                try:
                    self._searcher = Searcher(self.backend.open(build), self.embedder, self.tuning)
                except IndexProblem as exc:
                    if self._searcher is None:
                        raise
                    log.error("new build %s cannot be opened; still serving %s (%s)", build, self._build, exc)
                    self._refused = build  # builds are never modified: retry when `current` moves again
                    return self._searcher
                log.info("serving build %s", build)
                self._build = build
            return self._searcher
