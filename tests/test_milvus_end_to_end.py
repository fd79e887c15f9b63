"""`minutes index` and `minutes serve` on a Milvus server on loopback give the local index's results.

The real CLI builds the seed corpus into the 2.3 standalone server with the local keyword index
beside it (`?keyword=local`: 2.3 has no BM25) and into a local index; every seeds-dev question
must then have the same top 10 on both (within ties), in-process and through the served API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from minutes.embed import HashingEmbedder
from minutes.records import Hit
from minutes.search.hybrid import Searcher
from minutes.storage import open_backend

from .conftest import CORPUS, ROOT, shared_path
from .support.server import live_server

pytestmark = [pytest.mark.slow, pytest.mark.milvus]


def _index(index_dir: Path, backend: str) -> str:
    env = os.environ | {"MINUTES_MODEL": "hashing", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "minutes", "index", "--backend", backend, "--index-dir",
                           str(index_dir), str(CORPUS)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _same_within_ties(local: list[tuple[str, float]], other: list[tuple[str, float]]) -> None:
    """Same passages in the same order, except that passages whose scores tie may swap places."""
    assert len(local) == len(other)
    for (a, score_a), (b, score_b) in zip(local, other, strict=True):
        assert abs(score_a - score_b) < 1e-4, (local, other)
        if a != b:  # a tie: both passages must hold that score on both sides
            assert any(x == b and abs(s - score_a) < 1e-4 for x, s in local), (local, other)


def _ranked(hits: list[Hit]) -> list[tuple[str, float]]:
    return [(h.passage.passage_id, h.score) for h in hits]


@pytest.fixture(scope="module")
def two_indexes(tmp_path_factory: pytest.TempPathFactory, milvus_server: Any) -> tuple[Path, Path, str]:
    local_dir, milvus_dir = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("milvus")
    url = f"{milvus_server.url}/e2e?keyword=local"
    _index(local_dir, "local")
    out = _index(milvus_dir, url)
    assert "indexed" in out and "minutes_" not in out.split("→")[0]
    return local_dir, milvus_dir, url


def test_index_and_search_give_the_local_results_for_every_seed_question(two_indexes: tuple[Path, Path, str]) -> None:
    local_dir, milvus_dir, url = two_indexes
    lines = shared_path("eval", "seeds-dev.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    local = Searcher(open_backend(local_dir).open(), HashingEmbedder())
    on_milvus = Searcher(open_backend(milvus_dir, url).open(), HashingEmbedder())
    assert on_milvus.index.manifest.backend["name"] == "milvus"
    assert len(questions) == 20
    for question in questions:
        expected, found = local.search(question, 10), on_milvus.search(question, 10)
        assert expected.hits, question
        _same_within_ties(_ranked(expected.hits), _ranked(found.hits))
        assert {h.document for h in expected.hits} == {h.document for h in found.hits}


def test_serve_answers_from_milvus(two_indexes: tuple[Path, Path, str], tmp_path: Path) -> None:
    local_dir, milvus_dir, url = two_indexes
    local = Searcher(open_backend(local_dir).open(), HashingEmbedder())
    with live_server(milvus_dir, tmp_path, {"MINUTES_MODEL": "hashing", "MINUTES_BACKEND": url}) as base:
        for question in ("what was said about short breaks", '"short breaks" -agency', "care placements"):
            query = urllib.parse.urlencode({"q": question, "k": 10})
            with urllib.request.urlopen(f"{base}/api/search?{query}", timeout=60) as response:
                body = json.loads(response.read())
            served = [(h["passage_id"], h["score"]) for h in body["hits"]]
            _same_within_ties(_ranked(local.search(question, 10).hits), served)
        with urllib.request.urlopen(f"{base}/healthz", timeout=30) as response:
            assert response.status == 200
