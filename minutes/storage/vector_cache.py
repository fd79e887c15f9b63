"""Vectors cached by (model, sha256 of the embedded text), and embedding what the cache lacks.

A build keeps per passage only its text's digest and length (`PassageHashes`, 36 bytes a
passage); texts are read back from the new build's SQLite a window at a time when they
must be embedded, and vectors from the cache a window at a time when FAISS takes them, so
a build's memory does not grow with its vectors or texts.
"""

from __future__ import annotations

import hashlib
import sqlite3
from array import array
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from minutes.embed import Embedder
from minutes.storage.sqlite_errors import as_os_error

EMBED_BATCH = 256    # texts per cache commit; the model batches within it
EMBED_WINDOW = 4096  # texts read back and sorted into batches at a time
LOOKUP = 500         # hashes per SQL query


class PassageHashes:
    """For each passage, in id order: the sha256 of its embedding text and the text's length."""

    def __init__(self) -> None:
        self.digests = bytearray()
        self.lengths = array("I")

    def add(self, text: str) -> None:
        self.digests += hashlib.sha256(text.encode("utf-8")).digest()
        self.lengths.append(len(text))

    def __len__(self) -> int:
        return len(self.lengths)

    def digest(self, passage_id: int) -> bytes:
        return bytes(self.digests[32 * passage_id:32 * passage_id + 32])

    def key(self, passage_id: int) -> str:
        """The cache's key for a passage: its digest in hex."""
        return self.digest(passage_id).hex()


class VectorCache:
    @as_os_error
    def __init__(self, path: Path, model: str, dimension: int) -> None:
        self.model, self.dimension = model, dimension
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, "
                          "PRIMARY KEY (model, hash)) WITHOUT ROWID")

    @as_os_error
    def _rows(self, columns: str, keys: list[str]) -> sqlite3.Cursor:
        return self.conn.execute(
            f"SELECT {columns} FROM vectors WHERE model = ? AND length(vector) = ? "
            f"AND hash IN ({','.join('?' * len(keys))})", [self.model, 4 * self.dimension, *keys])

    @as_os_error
    def present(self, keys: list[str]) -> set[str]:
        """Which of `keys` have a vector of this model's size (the vectors are not read)."""
        found: set[str] = set()
        for i in range(0, len(keys), LOOKUP):
            found.update(digest for (digest,) in self._rows("hash", keys[i:i + LOOKUP]))
        return found

    @as_os_error
    def vectors(self, keys: list[str]) -> np.ndarray:
        """One row per key, in order; a key the cache lacks is a RuntimeError."""
        out = np.empty((len(keys), self.dimension), dtype=np.float32)
        rows_of: dict[str, list[int]] = {}
        for row, key in enumerate(keys):
            rows_of.setdefault(key, []).append(row)
        unique, filled = list(rows_of), 0
        for i in range(0, len(unique), LOOKUP):
            for digest, blob in self._rows("hash, vector", unique[i:i + LOOKUP]):
                vector = np.frombuffer(blob, dtype=np.float32)
                for row in rows_of[digest]:
                    out[row] = vector
                    filled += 1
        if filled != len(keys):
            raise RuntimeError(f"{len(keys) - filled} vectors went missing from the vector cache during the build")
        return out

    @as_os_error
    def put(self, items: list[tuple[str, np.ndarray]]) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                  [(self.model, digest, vector.astype(np.float32).tobytes())
                                   for digest, vector in items])

    def reader(self, hashes: PassageHashes) -> Callable[[np.ndarray], np.ndarray]:
        """rows(passage ids) -> their vectors, for vector_index.fill_vector_index."""
        return lambda ids: self.vectors([hashes.key(int(i)) for i in ids])

    def close(self) -> None:
        self.conn.close()


def plan_embedding(hashes: PassageHashes, cache: VectorCache) -> tuple[np.ndarray, int]:
    """Passages to embed, one per text the cache lacks, longest first; and how many passages reuse a vector."""
    if not len(hashes):
        return np.zeros(0, dtype=np.int64), 0
    _, first, counts = np.unique(np.frombuffer(hashes.digests, dtype="V32"), return_index=True, return_counts=True)
    cached = np.zeros(len(first), dtype=bool)
    for start in range(0, len(first), 10 * LOOKUP):
        keys = [hashes.key(int(i)) for i in first[start:start + 10 * LOOKUP]]
        found = cache.present(keys)
        cached[start:start + len(keys)] = [key in found for key in keys]
    todo = np.sort(first[~cached])  # in order of first appearance, then a stable sort by length
    lengths = np.asarray(hashes.lengths)[todo].astype(np.int64)
    return todo[np.argsort(-lengths, kind="stable")], int(counts[cached].sum())


def embed_missing(order: np.ndarray, texts_of: Callable[[list[int]], list[str]], hashes: PassageHashes,
                  embedder: Embedder, cache: VectorCache, batch_size: int = 64) -> None:
    """Embed the passages `order` names, in that order, committing each EMBED_BATCH to the cache.

    `texts_of(ids)` gives their embedding texts; each must hash to the digest taken when
    the passage was chunked, or its vector would be filed under another text.
    """
    # An embedder that is costly to call (RayEmbedder: one Ray Data job a call) takes more texts a call.
    per_call = max(EMBED_BATCH, int(getattr(embedder, "texts_per_call", EMBED_BATCH)))
    read_window = max(EMBED_WINDOW, per_call)
    with tqdm(total=len(order), desc="embedding", unit=" passages", disable=None) as bar:
        for window in range(0, len(order), read_window):
            ids = [int(i) for i in order[window:window + read_window]]
            texts = texts_of(ids)
            for passage_id, text in zip(ids, texts, strict=True):
                if hashlib.sha256(text.encode("utf-8")).digest() != hashes.digest(passage_id):
                    raise RuntimeError(f"passage {passage_id} read back from the new build is not the text "
                                       "that was chunked; nothing was swapped in")
            for start in range(0, len(ids), per_call):
                batch = ids[start:start + per_call]
                vectors = embedder.encode(texts[start:start + per_call], batch_size=batch_size)
                cache.put(list(zip([hashes.key(i) for i in batch], vectors, strict=True)))
                bar.update(len(batch))
