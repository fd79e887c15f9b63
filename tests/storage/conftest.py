"""Backends the contract suite runs on. A new backend adds a factory here: it takes an index
folder (for the caches, and the builds of a file backend) and returns a fresh, empty Backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from minutes.storage.base import Backend


def _sqlite_faiss(index_dir: Path) -> Backend:
    from minutes.storage.sqlite_faiss import SqliteFaissBackend

    return SqliteFaissBackend(index_dir)


BACKENDS: dict[str, Callable[[Path], Backend]] = {"sqlite_faiss": _sqlite_faiss}


@pytest.fixture(params=sorted(BACKENDS), scope="module")
def backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def make_backend(backend_name: str) -> Callable[[Path], Backend]:
    return BACKENDS[backend_name]
