"""The mixed set-up: Milvus vectors (and passages) beside the local keyword index.

`--backend 'milvus://HOST:PORT?keyword=local'` is for Milvus servers without BM25 (2.3, 2.4),
and for results that must equal the local index's (FTS5 with porter stems; Milvus' analyzer
differs). Each build writes both: the Milvus rows, and a local SQLite + tantivy build under
INDEX_DIR/milvus-keywords/. Milvus ids are content keys; the local build numbers passages
0..n-1 in the order given, and keeps each one's Milvus key (KEYS_FILE, int64 in local id
order), through which `KeyedKeywords` hands out Milvus ids. The Milvus manifest of each
generation names its local build, so publishing the local half first and the Milvus
generation last keeps the swap atomic for readers. An incremental build changes only the
changed rows in Milvus; its local half is a whole new local build (tantivy writes ~100k
passages a minute here), as the local backend's builds are.

The local half is the local backend's own writer, so it also writes a FAISS file that this
set-up never searches (the local reader checks it); at national scale that is disk, not RAM
(it is memory-mapped and never read). Keeping it lets the folder serve alone with
`--backend local --index-dir INDEX_DIR/milvus-keywords` if Milvus is down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minutes.errors import IndexCorrupt
from minutes.records import Document, Filters, Passage
from minutes.storage.base import BuildHandle, KeywordHits, KeywordIndex, Manifest
from minutes.storage.milvus.writer import MilvusWriter
from minutes.text.query import KeywordQuery

LOCAL_FOLDER = "milvus-keywords"
KEYS_FILE = "milvus-keys.npy"


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
        np.save(self.local.path / KEYS_FILE, np.array(self.milvus.keys(), dtype=np.int64))
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
        return self.local.writer(dimension)  # the local half is always a whole build

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

    def open(self, manifest: Manifest) -> tuple[Any, KeyedKeywords]:
        """The local reader (to close with the Milvus one) and its keyword index in Milvus ids."""
        handle = self.handle(manifest)
        keys_path = Path(handle.location) / KEYS_FILE
        if not keys_path.exists():
            raise IndexCorrupt(f"the local keyword index {handle.location} of this Milvus build is missing "
                               "(or was made before content keys); rebuild with: minutes index --rebuild")
        reader = self.local.open(handle.build_id)
        return reader, KeyedKeywords(reader.keyword, np.load(keys_path))


class KeyedKeywords:
    """A local keyword index whose ids (0..n-1) are handed out, and taken, as Milvus content keys."""

    def __init__(self, local: KeywordIndex, keys: np.ndarray) -> None:
        self.local, self.keys = local, keys
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]

    def _local_ids(self, keys: Iterable[int]) -> list[int]:
        wanted = np.fromiter((int(k) for k in keys), dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted, wanted), len(self._sorted) - 1)
        found = (self._sorted[at] == wanted) if len(self._sorted) else np.zeros(len(wanted), dtype=bool)
        return self._order[at[found]].tolist()  # a key not in this build holds no word of it

    def _keys(self, ids: Iterable[int]) -> list[int]:
        return [int(self.keys[i]) for i in ids]

    def search(self, query: KeywordQuery, filters: Filters, limit: int, *,
               score_also: Sequence[int] = ()) -> KeywordHits:
        hits = self.local.search(query, filters, limit, score_also=self._local_ids(score_also))
        return KeywordHits([(int(self.keys[i]), score) for i, score in hits.ranked],
                           {int(self.keys[i]): score for i, score in hits.also.items()})

    def select(self, query: KeywordQuery, filters: Filters) -> set[int]:
        return set(self._keys(self.local.select(query, filters)))

    def excluded(self, query: KeywordQuery) -> set[int]:
        return set(self._keys(self.local.excluded(query)))

    def holds_all_words(self, words: Sequence[str], among: Sequence[int]) -> bool:
        return self.local.holds_all_words(words, self._local_ids(among))
