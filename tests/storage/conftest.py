"""Backends the contract suite runs on. A new backend adds a factory here: it takes an index
folder (for the caches, and the builds of a file backend) and returns a fresh, empty Backend."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from minutes.storage.base import Backend


def _sqlite_faiss(index_dir: Path) -> Backend:
    from minutes.storage.sqlite_faiss import SqliteFaissBackend

    return SqliteFaissBackend(index_dir)


def _milvus(url: str) -> Callable[[Path], Backend]:
    """Each index folder gets its own collection prefix on the one server: a fresh, empty backend."""
    def make(index_dir: Path) -> Backend:
        from minutes.storage.milvus.backend import MilvusBackend

        prefix = "c" + hashlib.sha1(str(index_dir).encode()).hexdigest()[:12]
        return MilvusBackend(url.format(prefix=prefix), index_dir=index_dir)
    return make


BACKENDS: dict[str, Callable[[Path], Backend]] = {"sqlite_faiss": _sqlite_faiss}
# Milvus (tests/milvus_fixtures.py starts the servers): Milvus Lite 3 with its own BM25, and the
# 2.3 standalone server, which has no BM25, with the local keyword index beside it.
MILVUS = {"milvus_lite": "{lite}?prefix={{prefix}}", "milvus_standalone_mixed": "{standalone}/{{prefix}}?keyword=local"}


# Marked at collection (not at set-up), so that `-m "not slow"` deselects them and never starts a server.
SLOW_MILVUS = [pytest.mark.slow, pytest.mark.milvus]
PARAMS = sorted(BACKENDS) + [pytest.param(name, marks=SLOW_MILVUS) for name in sorted(MILVUS)]


@pytest.fixture(params=PARAMS, scope="module")
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def make_backend(request: pytest.FixtureRequest, backend_name: str) -> Callable[[Path], Backend]:
    if backend_name == "milvus_lite":
        return _milvus(MILVUS[backend_name].format(lite=request.getfixturevalue("milvus_lite_url")))
    if backend_name == "milvus_standalone_mixed":
        return _milvus(MILVUS[backend_name].format(standalone=request.getfixturevalue("milvus_server").url))
    return BACKENDS[backend_name]
