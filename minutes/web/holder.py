"""Keeps the serving Searcher and swaps in a new index when `current` changes.

Each request takes the Searcher once and uses it to the end, so a search that started
on the old index finishes on it while new requests get the new one.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from minutes.embed import Embedder, load_embedder
from minutes.search.hybrid import Searcher, Tuning
from minutes.storage.sqlite_faiss.store import Index, IndexError_, current_build

log = logging.getLogger("minutes")


class SearcherHolder:
    def __init__(self, index_dir: Path, model: str, threads: int | None = None,
                 tuning: Tuning | None = None, embedder: Embedder | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.model, self.threads, self.tuning = model, threads, tuning
        self._embedder = embedder
        self._searcher: Searcher | None = None
        self._build: Path | None = None
        self._refused: Path | None = None  # a build that could not be opened: not retried per request
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.model, threads=self.threads)
        return self._embedder

    def get(self) -> Searcher:
        """The Searcher for the build `current` points at now (opened on first use)."""
        build = current_build(self.index_dir)
        searcher = self._searcher
        if searcher is not None and build in (self._build, self._refused):
            return searcher
        with self._lock:
            if self._searcher is None or build != self._build:
                if build is None or not build.exists():
                    if self._searcher is not None:
                        return self._searcher  # the link is mid-swap or gone: keep serving what we have
                    from minutes.storage.sqlite_faiss.store import open_index

                    open_index(self.index_dir)  # raises IndexMissing with the fix
                assert build is not None
                try:
                    self._searcher = Searcher(Index(build), self.embedder, self.tuning)
                except IndexError_:
                    if self._searcher is None:
                        raise
                    log.exception("new index at %s cannot be opened; still serving %s", build, self._build)
                    self._refused = build  # builds are never modified: retry when `current` moves again
                    return self._searcher
                log.info("serving index %s", build)
                self._build = build
            return self._searcher
