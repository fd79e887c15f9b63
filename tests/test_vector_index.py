"""The FAISS index factory: each kind finds the right neighbours, filters, reconstructs, survives a round trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from minutes.storage.sqlite_faiss import vectors as vector_index
from minutes.storage.sqlite_faiss.vectors import KINDS, build_vector_index, choose_kind, index_kind, search_vectors

DIM = 32


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    # Clustered, as embeddings of text are (uniform noise is the worst case for IVF).
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((40, DIM))
    data = (centres[rng.integers(0, 40, 3000)] + 0.35 * rng.standard_normal((3000, DIM))).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def built(vectors: np.ndarray) -> Iterator[dict[str, faiss.Index]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vector_index, "PQ_BYTES", 8)  # 8 sub-quantisers train in a second; 48 take ten
        yield {kind: build_vector_index(vectors, DIM, kind)[0] for kind in KINDS}


def exact(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    ids = np.arange(len(vectors)) if allowed is None else np.asarray(allowed)
    scores = vectors[ids] @ query
    return [int(i) for i in ids[np.argsort(-scores)[:k]]]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_finds_a_stored_vector_first(built: dict[str, faiss.Index], vectors: np.ndarray, kind: str) -> None:
    index = built[kind]
    assert index_kind(index) == kind and index.ntotal == len(vectors)
    for target in (0, 1234, 2999):
        scores, ids = search_vectors(index, vectors[target], 5)
        assert ids[0] == target and len(ids) == 5
        assert scores[0] == pytest.approx(1.0, abs=0.05)
        assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_agrees_with_exact_search(built: dict[str, faiss.Index], vectors: np.ndarray, kind: str) -> None:
    rng = np.random.default_rng(1)
    queries = vectors[rng.choice(len(vectors), 20, replace=False)] + 0.1 * rng.standard_normal((20, DIM))
    found = [len(set(search_vectors(built[kind], q, 10)[1]) & set(exact(vectors, q, 10))) for q in queries]
    floor = {"flat": 10, "hnsw": 9, "ivf-sq8": 8, "ivf-pq": 5}[kind]  # recall@10 of approximate kinds
    assert np.mean(found) >= floor


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("allowed_step", [1000, 7, 2])  # 3 ids (scored exactly), ~430, 1,500 (selector)
def test_filters_return_only_allowed_ids_and_a_full_page(built: dict[str, faiss.Index], vectors: np.ndarray,
                                                          kind: str, allowed_step: int,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_index, "EXACT_FILTER_MAX", 100)  # so the selector path runs on small data
    allowed = np.arange(5, len(vectors), allowed_step)
    query = vectors[11]
    scores, ids = search_vectors(built[kind], query, 10, allowed)
    assert set(ids) <= set(allowed.tolist())
    assert len(ids) == min(10, len(allowed))
    best = exact(vectors, query, 1, allowed)[0]
    assert ids[0] == best or kind == "ivf-pq"


@pytest.mark.parametrize("kind", KINDS)
def test_reconstruct_returns_the_stored_vector(built: dict[str, faiss.Index], vectors: np.ndarray, kind: str) -> None:
    stored = built[kind].reconstruct(42)
    tolerance = 0.5 if kind == "ivf-pq" else 0.02
    assert float(stored @ vectors[42]) == pytest.approx(1.0, abs=tolerance)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_through_a_file_memory_mapped(built: dict[str, faiss.Index], vectors: np.ndarray, kind: str,
                                                 tmp_path: Path) -> None:
    path = tmp_path / "vectors.faiss"
    faiss.write_index(built[kind], str(path))
    reopened = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
    assert index_kind(reopened) == kind
    assert list(search_vectors(reopened, vectors[99], 5)[1]) == list(search_vectors(built[kind], vectors[99], 5)[1])
    reopened.reconstruct(7)


def test_the_kind_is_chosen_by_corpus_size() -> None:
    assert choose_kind(0) == choose_kind(49_999) == "flat"
    assert choose_kind(50_000) == choose_kind(1_000_000) == "ivf-sq8"
    assert vector_index.ivf_cells(1_000_000) == 4000
    assert vector_index.default_nprobe(4000) >= vector_index.MIN_NPROBE


def test_default_build_is_flat_for_small_corpora_and_ivf_above(vectors: np.ndarray,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_vector_index(vectors, DIM)[1] == "flat"
    monkeypatch.setattr(vector_index, "FLAT_BELOW", 1000)
    index, kind = build_vector_index(vectors, DIM)
    assert kind == "ivf-sq8" and index_kind(index) == "ivf-sq8"


def test_tiny_corpora_never_get_an_untrainable_ivf(vectors: np.ndarray) -> None:
    assert build_vector_index(vectors[:10], DIM, "ivf-sq8")[1] == "flat"


def test_empty_and_oversized_requests() -> None:
    index, _ = build_vector_index(np.zeros((0, DIM), dtype=np.float32), DIM)
    assert search_vectors(index, np.ones(DIM), 10)[1].size == 0
    with pytest.raises(ValueError, match="unknown index kind 'lsh'"):
        build_vector_index(np.zeros((1, DIM), dtype=np.float32), DIM, "lsh")
