"""Which FAISS index to build for a corpus, and how to search it with filters.

Vectors are unit length, so inner product is cosine similarity. Small corpora get an
exact flat index; the choice by size lives here alone so benchmarks and builds agree.
"""

from __future__ import annotations

import faiss
import numpy as np


def build_vector_index(vectors: np.ndarray, dimension: int) -> tuple[faiss.Index, str]:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)
    index = faiss.IndexFlatIP(dimension)
    index.add(vectors)
    return index, "flat"


def search_vectors(index: faiss.Index, query: np.ndarray, k: int,
                   allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the k nearest vectors, restricted to `allowed` ids when given.

    The restriction runs inside FAISS, so a filtered search still finds k hits when
    k exist (filtering afterwards returns short pages: txtai #915).
    """
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
    k = min(k, index.ntotal if allowed is None else len(allowed))
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    params = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        params = faiss.SearchParameters(sel=selector)
    scores, ids = index.search(query, k, params=params)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]
