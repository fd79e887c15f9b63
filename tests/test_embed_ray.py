"""Embedding on Ray Data actors (`minutes index --ray`) gives the vectors of the plain path.

A real local Ray on 127.0.0.1 (started and stopped here); never skipped: Ray is in the test extra."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from minutes.embed import HashingEmbedder, load_embedder
from minutes.embed_ray import RayEmbedder
from minutes.storage.vector_cache import PassageHashes, VectorCache, embed_missing, plan_embedding

pytestmark = pytest.mark.slow

TEXTS = [f"Item {i}: the committee noted the report on {topic} and agreed the recommendations."
         for i, topic in enumerate(["parking charges", "library closures", "social care budgets", "flood defences",
                                    "school transport", "planning appeals"] * 40)]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def ray_hashing() -> Iterator[RayEmbedder]:
    if importlib.util.find_spec("ray") is None:  # not imported here: RayEmbedder sets Ray up first
        pytest.fail("the Ray tests need ray[data]: pip install -e '.[test]'")
    embedder = RayEmbedder("hashing", actors=2, batch_size=16)  # starts a local Ray on 127.0.0.1
    yield embedder
    embedder.close()
    import ray

    assert not ray.is_initialized()


def test_ray_runs_on_loopback_with_the_actors_asked_for(ray_hashing: RayEmbedder) -> None:
    import ray

    nodes = ray.nodes()
    assert [node["NodeManagerAddress"] for node in nodes] == ["127.0.0.1"]
    assert ray_hashing.actors == 2 and ray_hashing.gpus == 0 and ray_hashing.device == "cpu"
    assert (ray_hashing.name, ray_hashing.dimension) == ("hashing", HashingEmbedder.dimension)


def test_the_build_hands_ray_big_windows_and_caches_every_vector(ray_hashing: RayEmbedder, tmp_path: Path) -> None:
    hashes = PassageHashes()
    for text in TEXTS:
        hashes.add(text)
    calls: list[int] = []
    original = ray_hashing.encode

    def counted(texts: list[str], batch_size: int | None = None) -> np.ndarray:
        calls.append(len(texts))
        return original(texts, batch_size)

    ray_hashing.encode = counted  # type: ignore[method-assign]
    try:
        cache = VectorCache(tmp_path / "cache.sqlite", ray_hashing.name, ray_hashing.dimension)
        order, reused = plan_embedding(hashes, cache)
        embed_missing(order, lambda ids: [TEXTS[i] for i in ids], hashes, ray_hashing, cache)
    finally:
        del ray_hashing.encode
    unique = len(set(TEXTS))
    assert reused == 0 and calls == [unique]  # one Ray job, not one per 256 texts
    stored = cache.reader(hashes)(np.arange(len(TEXTS)))
    np.testing.assert_array_equal(stored, HashingEmbedder().encode(TEXTS))  # the plain path's, row for row
    cache.close()
    assert ray_hashing.encode([]).shape == (0, HashingEmbedder.dimension)


def test_the_real_model_on_ray_actors_matches_the_plain_model(ray_hashing: RayEmbedder) -> None:
    texts = TEXTS[:24]
    on_ray = RayEmbedder("minilm", actors=2, batch_size=8)  # joins the running local Ray
    try:
        vectors = on_ray.encode(texts)
    finally:
        on_ray.close()  # leaves the Ray it did not start running
    plain = load_embedder("minilm").encode(texts, batch_size=8)
    assert _cosines(vectors, plain).min() > 0.99999
