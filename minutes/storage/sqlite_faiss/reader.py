"""SqliteFaissReader: one finished build folder opened read-only (safe to share between threads).

    index.sqlite   documents, passages (and passages_fts, filled only by `keyword="fts5"` builds)
    keyword/       the tantivy keyword index (minutes.storage.tantivy_index), CRC-checked on open
    vectors.faiss  unit vectors, inner product; FAISS id = passage id
    manifest.json  model, dimension, chunker version, counts, build time, backend facts
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss

from minutes.chunk import CHUNKER_VERSION
from minutes.errors import IndexCorrupt, IndexMismatch
from minutes.storage.base import FORMAT_VERSION, Manifest
from minutes.storage.sqlite_faiss.fts import Fts5KeywordIndex, Fts5Tuning
from minutes.storage.sqlite_faiss.passages import REBUILD, Database, SqlitePassageStore
from minutes.storage.sqlite_faiss.vectors import FaissVectorIndex
from minutes.storage.tantivy_index import KEYWORD_DIR, TantivyKeywordIndex, open_keyword_index


class SqliteFaissReader:
    def __init__(self, build_dir: Path) -> None:
        self.path = Path(build_dir)
        self.build_id = self.path.name
        manifest_path = self.path / "manifest.json"
        try:
            self.manifest = Manifest.from_json(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"cannot read {manifest_path} ({str(exc).splitlines()[0]}); {REBUILD}") from None
        vectors_path = self.path / "vectors.faiss"
        try:
            # Memory-map large indexes so start-up does not read them whole.
            flags = faiss.IO_FLAG_MMAP if vectors_path.stat().st_size > 256 * 2**20 else 0
            vectors = faiss.read_index(str(vectors_path), flags)
        except (OSError, RuntimeError) as exc:
            raise IndexCorrupt(f"cannot read {vectors_path} ({str(exc).splitlines()[0] if str(exc) else exc}); "
                               f"{REBUILD}") from None
        if vectors.ntotal != self.manifest.passages:
            raise IndexCorrupt(f"{vectors_path} holds {vectors.ntotal} vectors but the manifest says "
                               f"{self.manifest.passages}; {REBUILD}")
        self.database = Database(self.path / "index.sqlite")
        self.sql("SELECT count(*) FROM passages")  # fail now, not on the first search
        self.passages = SqlitePassageStore(self.database)
        self.keyword: TantivyKeywordIndex | Fts5KeywordIndex
        if self.manifest.backend.get("keyword", "fts5") == "tantivy":
            self.keyword = open_keyword_index(self.path / KEYWORD_DIR)
            if self.keyword.passages != self.manifest.passages:
                raise IndexCorrupt(f"{self.path / KEYWORD_DIR} holds {self.keyword.passages} passages but the "
                                   f"manifest says {self.manifest.passages}; {REBUILD}")
        else:  # built before tantivy, or for the benchmark's FTS5 row
            self.keyword = Fts5KeywordIndex(self.database, self.passages, self.manifest.passages)
        self.vectors = FaissVectorIndex(vectors, self.passages.allowed_ids)

    def with_vectors(self, index: faiss.Index) -> SqliteFaissReader:
        """The same build searched through another FAISS index of its vectors (the benchmarks'
        exact flat index, for recall against the approximate one)."""
        other = copy.copy(self)
        other.vectors = FaissVectorIndex(index, self.passages.allowed_ids)
        return other

    def with_keyword_tuning(self, tuning: Fts5Tuning) -> SqliteFaissReader:
        """The same build with other FTS5 weights or pruning (benchmarks; FTS5 builds only)."""
        if not isinstance(self.keyword, Fts5KeywordIndex):
            raise ValueError(f"{self.path} serves keywords from tantivy: FTS5 tuning does not apply")
        other = copy.copy(self)
        other.keyword = self.keyword.with_tuning(tuning)
        return other

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        """Raw SQL on the build (this backend's own tests and benchmarks only)."""
        return self.database.sql(query, params)

    def check_compatible(self, model: str, dimension: int) -> None:
        m = self.manifest
        if m.model != model or m.dimension != dimension:
            raise IndexMismatch(f"the index at {self.path} was built with model '{m.model}' "
                                f"({m.dimension} dimensions) but the query model is '{model}' ({dimension}); "
                                f"{REBUILD}")
        if m.chunker_version != CHUNKER_VERSION or m.format != FORMAT_VERSION:
            raise IndexMismatch(f"the index at {self.path} was built by an older version of Minutes "
                                f"(chunker {m.chunker_version}, format {m.format}); {REBUILD}")

    def close(self) -> None:
        self.database.close()
        if isinstance(self.keyword, TantivyKeywordIndex):
            self.keyword.close()
