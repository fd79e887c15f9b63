"""The server's ONNX Runtime query model gives the torch model's vectors, and falls back to torch."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from minutes import embed_onnx
from minutes.embed import Embedder, SentenceTransformerEmbedder, load_embedder, query_encoder

pytestmark = pytest.mark.slow

QUESTIONS = [
    "what was said about short breaks",
    "   respite care for disabled children  ",          # stripped before tokenising, as torch's path does
    "Café licensing — £2.5m? «Section 106» agreements",  # accents, symbols, quotes outside ASCII
    "budget " * 400,                                      # past the 256 word pieces: cut as torch cuts it
    "x",
]


def runtime(embedder: Embedder) -> str:
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder.query_runtime


@pytest.fixture(scope="module")
def on_onnx() -> SentenceTransformerEmbedder:
    embedder = load_embedder("minilm", threads=1, onnx_queries=True)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


def test_onnx_queries_are_the_torch_models_vectors(on_onnx: SentenceTransformerEmbedder) -> None:
    assert on_onnx.query_runtime == "onnx"
    torch_vectors = on_onnx.encode(QUESTIONS)
    one_batch = query_encoder(on_onnx)(QUESTIONS)             # padded to the longest of the batch
    one_by_one = np.vstack([query_encoder(on_onnx)([q]) for q in QUESTIONS])
    for vectors in (one_batch, one_by_one):
        assert vectors.dtype == np.float32 and vectors.shape == (len(QUESTIONS), 384)
        assert np.abs(vectors - torch_vectors).max() < 1e-4
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert query_encoder(on_onnx)([]).shape == (0, 384)


def test_adapted_model_puts_onnx_vectors_through_its_adapter(on_onnx: SentenceTransformerEmbedder) -> None:
    from minutes.embed import AdaptedEmbedder, QueryAdapter

    swap = np.eye(384, dtype=np.float32)[::-1]  # a permutation: easy to check by hand
    adapted = AdaptedEmbedder(on_onnx, QueryAdapter(swap), "swapped")
    expected = on_onnx.encode(QUESTIONS[:2])[:, ::-1]
    assert np.abs(adapted.encode_query(QUESTIONS[:2]) - expected).max() < 1e-4


def test_without_onnx_runtime_queries_stay_on_torch(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with caplog.at_level(logging.WARNING, logger="minutes"):
        embedder = load_embedder("minilm", threads=1, onnx_queries=True)
    assert runtime(embedder) == "torch"
    assert "ONNX Runtime is not installed" in caplog.text
    assert np.array_equal(query_encoder(embedder)(QUESTIONS[:1]), embedder.encode(QUESTIONS[:1]))


def test_an_onnx_model_that_disagrees_with_torch_is_not_used(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(embed_onnx, "MOST_DIFFERENT", -1.0)  # every difference is now too large
    with caplog.at_level(logging.WARNING, logger="minutes"):
        embedder = load_embedder("minilm", threads=1, onnx_queries=True)
    assert runtime(embedder) == "torch"
    assert "differs from the torch model" in caplog.text


def test_one_off_commands_and_int8_keep_torch() -> None:
    assert runtime(load_embedder("minilm", threads=1)) == "torch"
    assert runtime(load_embedder("minilm-int8", threads=1, onnx_queries=True)) == "torch"
