"""Stand-in embedders for tests and benchmarks, where the real model is not what is measured.

The fast suite's deterministic model is the library's own `minutes.embed.HashingEmbedder`;
these wrap or impersonate a model for particular jobs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from minutes.embed import Embedder


class CachedOnly:
    """The minilm model's identity for a build whose every vector is already in the vector cache.

    Any text the cache lacks is an error: the build must not fall back on embedding.
    """

    name, dimension, floor = "minilm", 384, 0.30

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise RuntimeError(f"{len(texts)} texts were not in the cache")


class Filler:
    """The minilm model's identity, giving each text a fixed random unit vector (seeded by its hash).

    For builds that must run every stage when the cache lacks some texts, without loading a model.
    """

    name, dimension, floor = "minilm", 384, 0.30

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self.dimension)
            out[row] = vector / np.linalg.norm(vector)
        return out


class CachedEmbedder:
    """A real model with a memo of vectors, so each text (a question) is embedded once per run."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dimension, self.floor = inner, inner.name, inner.dimension, inner.floor
        self.memo: dict[str, np.ndarray] = {}

    def warm(self, texts: Sequence[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        for text, vector in zip(todo, self.inner.encode(todo, batch_size=64), strict=True):
            self.memo[text] = vector

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.warm(texts)
        return np.stack([self.memo[t] for t in texts])


class CountingEmbedder:
    """Another embedder, counting the texts it is asked to encode (e.g. a page embeds its query once)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dimension, self.floor = inner, inner.name, inner.dimension, inner.floor
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode(texts, batch_size=batch_size)

    def count(self, text: str) -> int:
        """How many times `text` was encoded."""
        return sum(batch.count(text) for batch in self.calls)
