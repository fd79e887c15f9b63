"""Which FAISS index to build for a corpus, and how to search it with filters.

Vectors are unit length, so inner product is cosine similarity. The choice by size lives
here alone so benchmarks and builds agree (figures in docs/benchmarks.md, "Query latency
and index types"):

- `flat` below FLAT_BELOW passages: exact, 1,536 bytes a passage, and fast enough there.
- `ivf-sq8` from FLAT_BELOW up: an inverted file over k-means cells whose vectors are
  stored as 8-bit scalars (384 bytes + 8 for the id map a passage, a quarter of flat).
  A query scans `nprobe` cells; NPROBE_FRACTION was chosen for recall@10 >= 0.95 of exact.
- `hnsw` and `ivf-pq` are built on request only, for the benchmark's comparison.

Every kind can `reconstruct(id)` (search.py scores keyword-only candidates with it); the
IVF kinds keep a direct map for that. Filters run inside FAISS through an IDSelector, and
a small allowed set is searched exactly (an approximate index would probe cells that hold
none of them and come back short: txtai #915).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import faiss
import numpy as np

from minutes.records import Filters

_faiss: Any = faiss  # SearchParameters* take keyword arguments that the type stubs do not know

FLAT_BELOW = 50_000
KINDS = ("flat", "hnsw", "ivf-sq8", "ivf-pq")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
NPROBE_FRACTION = 1 / 64      # cells scanned per query, as a share of nlist (at least MIN_NPROBE)
MIN_NPROBE = 16
TRAIN_PER_CELL = 40           # k-means training sample: this many vectors per cell, at most
TRAIN_ITERATIONS = 10
EXACT_FILTER_MAX = 20_000     # allowed sets up to this size are searched exactly
PQ_BYTES = 48                 # ivf-pq: bytes per vector (a divisor of the dimension)
ADD_WINDOW = 65_536           # vectors handed to FAISS per add call


def choose_kind(count: int) -> str:
    """The index kind a build of `count` passages gets."""
    return "flat" if count < FLAT_BELOW else "ivf-sq8"


def ivf_cells(count: int) -> int:
    """Number of k-means cells for `count` vectors: about 4·sqrt(n), as FAISS's guidelines say."""
    return int(min(65_536, max(16, 4 * math.sqrt(max(count, 1)))))


def default_nprobe(nlist: int) -> int:
    return min(nlist, max(MIN_NPROBE, round(nlist * NPROBE_FRACTION)))


def build_vector_index(vectors: np.ndarray, dimension: int, kind: str | None = None,
                       seed: int = 1234) -> tuple[faiss.Index, str]:
    """A FAISS index holding `vectors` (row i gets id i), and its kind.

    `kind` None picks by size (choose_kind); an IVF kind on too few vectors to train
    falls back to flat.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)

    def rows(ids: np.ndarray) -> np.ndarray:
        if len(ids) and ids[-1] - ids[0] + 1 == len(ids):  # a window of consecutive ids: a view, no copy
            return vectors[ids[0]:ids[-1] + 1]
        return vectors[ids]

    # HNSW gets every vector in one call, as its graph depends on the order of insertion batches.
    window = max(len(vectors), 1) if kind == "hnsw" else ADD_WINDOW
    return fill_vector_index(len(vectors), dimension, rows, kind, seed, window)


def fill_vector_index(count: int, dimension: int, rows: Callable[[np.ndarray], np.ndarray],
                      kind: str | None = None, seed: int = 1234,
                      window: int = ADD_WINDOW) -> tuple[faiss.Index, str]:
    """A FAISS index of `count` vectors that `rows(ids)` hands out (sorted ids; id i = row i).

    The vectors never need to be in memory together: an IVF kind trains on a sample of
    them, then every kind takes them `window` at a time, in id order.
    """
    kind = kind or choose_kind(count)
    if kind not in KINDS:
        raise ValueError(f"unknown index kind '{kind}'; choose one of: {', '.join(KINDS)}")
    if kind.startswith("ivf") and count < 4 * MIN_NPROBE:
        kind = "flat"
    nlist = ivf_cells(count)
    index = faiss.index_factory(dimension, _factory_string(kind, dimension, nlist), faiss.METRIC_INNER_PRODUCT)
    if kind == "hnsw":
        hnsw = _faiss.downcast_index(index).hnsw
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.efSearch = HNSW_EF_SEARCH
    elif kind != "flat":
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.spherical = True  # unit vectors: keep the centroids on the sphere
        ivf.cp.seed = seed
        ivf.cp.niter = TRAIN_ITERATIONS
        nprobe = default_nprobe(nlist)
        sample = np.arange(count)
        if count > TRAIN_PER_CELL * nlist:
            rng = np.random.default_rng(seed)
            sample = np.sort(rng.choice(count, TRAIN_PER_CELL * nlist, replace=False))
        index.train(_float32(rows(sample), dimension))
    for start in range(0, count, window):  # in windows: no second full copy in memory
        index.add(_float32(rows(np.arange(start, min(count, start + window))), dimension))
    if kind.startswith("ivf"):
        ivf = faiss.extract_index_ivf(index)
        ivf.make_direct_map()  # reconstruct(id) for keyword-only candidates
        ivf.nprobe = nprobe
    return index, kind


def _factory_string(kind: str, dimension: int, nlist: int) -> str:
    """The `faiss.index_factory` description of a kind (as txtai's `components`)."""
    if kind == "flat":
        return "Flat"
    if kind == "hnsw":
        return f"HNSW{HNSW_M},Flat"
    if kind == "ivf-sq8":
        return f"IVF{nlist},SQ8"
    m = next(m for m in range(min(PQ_BYTES, dimension), 0, -1) if dimension % m == 0)
    return f"IVF{nlist},PQ{m}x8"


def _float32(vectors: np.ndarray, dimension: int) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)


def index_kind(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVFScalarQuantizer):
        return "ivf-sq8"
    if isinstance(index, faiss.IndexIVF):
        return "ivf-pq"
    return "flat"


def _exact_among(index: faiss.Index, query: np.ndarray, k: int,
                 allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.ascontiguousarray(allowed, dtype=np.int64)
    stored = index.reconstruct_batch(ids)
    scores = stored @ query[0]
    order = np.argsort(-scores, kind="stable")[:k]
    return scores[order].astype(np.float32), ids[order]


def search_vectors(index: faiss.Index, query: np.ndarray, k: int,
                   allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the k nearest vectors, restricted to `allowed` ids when given.

    The restriction runs inside FAISS, so a filtered search still finds k hits when
    k exist (filtering afterwards returns short pages: txtai #915). On an approximate
    index a small allowed set is scored exactly, and a larger one scans more cells.
    """
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
    k = min(k, index.ntotal if allowed is None else len(allowed))
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    kind = index_kind(index)
    params: Any = None
    if allowed is not None:
        if kind != "flat" and len(allowed) <= EXACT_FILTER_MAX:
            return _exact_among(index, query, k, allowed)
        selector = _faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        share = len(allowed) / max(index.ntotal, 1)
        if kind == "hnsw":
            ef = _faiss.downcast_index(index).hnsw.efSearch
            params = _faiss.SearchParametersHNSW(sel=selector, efSearch=int(min(4096, max(ef, k) / max(share, 1e-3))))
        elif kind != "flat":
            ivf = faiss.extract_index_ivf(index)
            nprobe = int(min(ivf.nlist, math.ceil(ivf.nprobe / max(share, 1e-6))))
            params = _faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        else:
            params = _faiss.SearchParameters(sel=selector)
    scores, ids = index.search(query, k, params=params)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


class FaissVectorIndex:
    """The `VectorIndex` of a build: its FAISS index, filtered by ids its passage store allows."""

    def __init__(self, index: faiss.Index, allowed_ids: Callable[[Filters], np.ndarray | None]) -> None:
        self.faiss = index
        self.dimension = index.d
        self._allowed_ids = allowed_ids

    def search(self, vector: np.ndarray, k: int, filters: Filters,
               restrict: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        allowed = self._allowed_ids(filters)
        if restrict is not None:
            allowed = restrict if allowed is None else np.intersect1d(allowed, restrict)
        return search_vectors(self.faiss, vector, k, allowed)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.faiss.reconstruct_batch(np.ascontiguousarray(list(ids), dtype=np.int64))

    def count(self) -> int:
        return int(self.faiss.ntotal)
