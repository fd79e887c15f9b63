"""Shared fixtures. The fast suite uses the deterministic `hashing` embedder; tests marked
`slow` use the real model, a real server process or a browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.search.hybrid import Searcher
from minutes.settings import Settings
from minutes.sources.moderngov import saved_pages
from minutes.storage import open_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
saved_pages.register()  # as the CLI does at start-up: saved ModernGov pages are read as such
pytest_plugins = ["tests.milvus_fixtures"]  # the Milvus servers (started only by tests that use them)


def shared_path(*parts: str) -> Path:
    """A path in ../shared; fails loudly (never skips) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared beside the repository")
    return path


@pytest.fixture(scope="session")
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: HashingEmbedder) -> Path:
    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index([CORPUS], index_dir, embedder)
    return index_dir


@pytest.fixture(scope="session")
def searcher(seed_index_dir: Path, embedder: HashingEmbedder) -> Searcher:
    return Searcher(open_index(seed_index_dir), embedder)


@pytest.fixture
def fresh_index_dir(tmp_path: Path, seed_index_dir: Path) -> Path:
    """A private copy of the seed index that a test may rebuild or damage."""
    target = tmp_path / "index"
    shutil.copytree(seed_index_dir, target, symlinks=True)
    return target


@pytest.fixture
def settings(seed_index_dir: Path) -> Settings:
    return Settings(index_dir=seed_index_dir, model="hashing")


@pytest.fixture
def client(settings: Settings, embedder: HashingEmbedder) -> Iterator[TestClient]:
    from minutes.web.app import create_app

    with TestClient(create_app(settings, embedder=embedder)) as test_client:
        yield test_client
