"""The build streams (issue 7): documents go to SQLite as they are read, texts are embedded
and vectors handed to FAISS a window at a time, and the build is the one that holding
everything in memory would give: same passages, same vectors in passage-id order, same
FAISS index, longest texts embedded first."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from minutes.build import BuildReport, build_index, collect, info_of
from minutes.chunk import chunk_document
from minutes.embed import HashingEmbedder, embedding_text
from minutes.errors import BuildError
from minutes.records import Filters
from minutes.search.hybrid import Searcher
from minutes.storage import current_build, vector_cache
from minutes.storage.sqlite_errors import SqliteWriteError
from minutes.storage.sqlite_faiss import open_local
from minutes.storage.sqlite_faiss import vectors as vector_index
from minutes.storage.sqlite_faiss import writer as sqlite_writer
from minutes.storage.sqlite_faiss.writer import SqliteFaissWriter

from .conftest import CORPUS

WORDS = ["council", "budget", "children", "transport", "libraries", "highways", "social", "care", "school",
         "reserves", "savings", "consultation", "housing", "planning", "waste", "recycling", "parking", "adult"]


def _papers(folder: Path, documents: int = 12) -> Path:
    """Papers of paragraphs of varied length, and a copy of one under another id (one vector for both)."""
    rng = random.Random(11)
    folder.mkdir()
    for number in range(documents):
        paragraphs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 150))) + "." for _ in range(30)]
        (folder / f"paper-{number:02}.md").write_text(f"---\ntitle: Paper {number}\ncouncil: Testshire\n"
                                                      f"committee: Cabinet\n---\n" + "\n\n".join(paragraphs))
    copy = (folder / "paper-03.md").read_text().replace("---\n", "---\ndocument_id: paper-03-again\n", 1)
    (folder / "paper-03-again.md").write_text(copy)
    return folder


def _small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_cache, "EMBED_WINDOW", 7)
    monkeypatch.setattr(vector_cache, "EMBED_BATCH", 3)
    monkeypatch.setattr(sqlite_writer, "READ_WINDOW", 11)


def _expected_texts(corpus: Path) -> list[str]:
    """The embedding texts in passage-id order, as a build that held every document in memory made them."""
    return [embedding_text(p, info_of(d)) for d in collect([corpus], BuildReport()) for p in chunk_document(d)]


class Recording(HashingEmbedder):
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.calls.append(list(texts))
        return super().encode(texts, batch_size)


def test_windowed_build_gives_the_vectors_of_each_passage_in_id_order(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _papers(tmp_path / "papers")
    reference = build_index([corpus], tmp_path / "whole", HashingEmbedder())
    _small_windows(monkeypatch)
    seen: dict[str, list[int]] = {"texts": [], "vectors": []}
    real_texts, real_vectors = SqliteFaissWriter.embedding_texts, vector_cache.VectorCache.vectors

    def embedding_texts(self: Any, ids: list[int]) -> list[str]:
        seen["texts"].append(len(ids))
        return real_texts(self, ids)

    def vectors(self: Any, keys: list[str]) -> np.ndarray:
        seen["vectors"].append(len(keys))
        return real_vectors(self, keys)

    monkeypatch.setattr(SqliteFaissWriter, "embedding_texts", embedding_texts)
    monkeypatch.setattr(vector_cache.VectorCache, "vectors", vectors)
    embedder = Recording()
    report = build_index([corpus], tmp_path / "index", embedder)

    texts = _expected_texts(corpus)
    assert report.passages == reference.passages == len(texts) > 100
    assert report.embedded == reference.embedded == len(set(texts)) < len(texts)  # a repeated text: embedded once
    assert report.reused == 0
    # Windows: texts read back 7 at a time, the model given 3 at a time, vectors read 11 at a time.
    assert max(seen["texts"]) == 7 and max(seen["vectors"]) == 11 and len(seen["vectors"]) > 10
    assert max(len(call) for call in embedder.calls) == 3
    # Longest first across windows (length buckets), every new text once.
    order = [text for call in embedder.calls for text in call]
    assert sorted(order) == sorted(set(texts))
    assert [len(t) for t in order] == sorted((len(t) for t in order), reverse=True)

    index = open_local(tmp_path / "index")
    stored = index.vectors.vectors(range(index.vectors.count()))
    np.testing.assert_array_equal(stored, HashingEmbedder().encode(texts))
    rows = index.sql("SELECT p.*, d.document_id FROM passages p JOIN documents d ON d.doc = p.doc ORDER BY p.id")
    whole = open_local(tmp_path / "whole")
    assert [tuple(r) for r in rows] == [tuple(r) for r in whole.sql(
        "SELECT p.*, d.document_id FROM passages p JOIN documents d ON d.doc = p.doc ORDER BY p.id")]
    assert (current_build(tmp_path / "index") / "vectors.faiss").read_bytes() == \
        (current_build(tmp_path / "whole") / "vectors.faiss").read_bytes()
    for query in ("school transport", "recycling and waste budget"):
        got = Searcher(index, HashingEmbedder()).search(query, 10, Filters()).hits
        want = Searcher(whole, HashingEmbedder()).search(query, 10, Filters()).hits
        assert [h.passage for h in got] == [h.passage for h in want] and got


def test_ivf_build_trains_on_a_sample_from_the_cache_and_matches_the_in_memory_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _papers(tmp_path / "papers")
    monkeypatch.setattr(vector_index, "FLAT_BELOW", 100)
    monkeypatch.setattr(vector_index, "TRAIN_PER_CELL", 2)  # so the sample is a true sample of the vectors
    _small_windows(monkeypatch)
    report = build_index([corpus], tmp_path / "index", HashingEmbedder())
    index = open_local(tmp_path / "index")
    assert index.manifest.backend["vector_index"] == "ivf-sq8" and index.vectors.count() == report.passages
    nlist = vector_index.ivf_cells(report.passages)
    assert 2 * nlist < report.passages  # trained on a sample, not on every vector

    # The index an in-memory build of the same vectors gives, byte for byte.
    expected, kind = vector_index.build_vector_index(HashingEmbedder().encode(_expected_texts(corpus)),
                                                     HashingEmbedder.dimension)
    assert kind == "ivf-sq8"
    assert bytes(faiss.serialize_index(expected)) == \
        (current_build(tmp_path / "index") / "vectors.faiss").read_bytes()
    ivf = faiss.extract_index_ivf(index.vectors.faiss)
    assert ivf.nlist == nlist and ivf.nprobe == vector_index.default_nprobe(nlist)
    assert index.vectors.vectors([5])[0].shape == (HashingEmbedder.dimension,)  # direct map kept

    # A rebuild takes every vector from the cache and gives the same index again.
    again = build_index([corpus], tmp_path / "index", HashingEmbedder())
    assert again.embedded == 0 and again.reused == again.passages
    assert (current_build(tmp_path / "index") / "vectors.faiss").read_bytes() == bytes(
        faiss.serialize_index(expected))


def test_a_failed_streaming_build_leaves_no_temporary_build(fresh_index_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = current_build(fresh_index_dir)

    def full(*_args: Any, **_kwargs: Any) -> Any:
        raise SqliteWriteError("database or disk is full")

    (fresh_index_dir / "cache.sqlite").unlink()  # so the build has to embed, and the cache write fails
    monkeypatch.setattr(vector_cache.VectorCache, "put", full)
    with pytest.raises(BuildError, match="disk is full"):
        build_index([CORPUS], fresh_index_dir, HashingEmbedder())
    assert current_build(fresh_index_dir) == before
    assert [p.name for p in (fresh_index_dir / "builds").iterdir()] == [before.name]
