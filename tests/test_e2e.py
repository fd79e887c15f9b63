"""End to end on the real packaged model (all-MiniLM-L6-v2) and a real uvicorn process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from minutes.build import build_index
from minutes.embed import load_embedder
from minutes.evaluate import load_questions, run_questions, score
from minutes.records import Filters
from minutes.search.hybrid import Searcher
from minutes.storage import open_index

from .conftest import CORPUS, shared_path
from .support.server import live_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    embedder = load_embedder("minilm", threads=2)
    index_dir = tmp_path_factory.mktemp("real-index")
    build_index([CORPUS], index_dir, embedder)
    return Searcher(open_index(index_dir), embedder)


def test_short_breaks_bullet_in_top_three(real_searcher: Searcher) -> None:
    hits = real_searcher.search("what was said about short breaks", k=10).hits
    top = [h.passage.text for h in hits[:3]]
    assert any("availability of short breaks" in text for text in top), top


def test_respite_finds_short_breaks_in_other_words(real_searcher: Searcher) -> None:
    hits = real_searcher.search("respite for disabled children", k=10).hits
    assert any("short breaks" in h.passage.text for h in hits[:5])


def test_earned_autonomy_returns_staffordshire_with_its_source(real_searcher: Searcher) -> None:
    hits = real_searcher.search("Earned Autonomy funding", k=5).hits
    assert hits[0].document.council == "Staffordshire County Council"
    assert hits[0].document.source_url == "https://moderngov.staffordshire.gov.uk/mgAi.aspx?ID=84777"
    assert any("Earned Autonomy" in h.passage.text for h in hits[:3])


@pytest.mark.parametrize("query", ["spaceship koala", "premier league transfer window gossip"])
def test_off_topic_questions_get_no_results(real_searcher: Searcher, query: str) -> None:
    result = real_searcher.search(query)
    assert result.hits == [] and result.message


def test_filtered_search_keeps_its_count(real_searcher: Searcher) -> None:
    stockport = Filters(council="Stockport Metropolitan Borough Council")
    hits = real_searcher.search("budget savings", k=8, filters=stockport)
    assert len(hits.hits) == 8
    assert {h.document.council for h in hits.hits} == {"Stockport Metropolitan Borough Council"}


def test_seed_eval_stays_strong(real_searcher: Searcher) -> None:
    questions = load_questions([shared_path("eval", "seeds-dev.jsonl")])
    runs = run_questions(questions, lambda q, d: [h.passage.text for h in real_searcher.search(q, 10).hits],
                         scoped=False)
    figures = score(questions, runs)
    # A floor well under the measured figures (docs/benchmarks.md): catches a broken pipeline.
    assert figures.hit >= 0.9 and figures.mrr >= 0.75, figures


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`minutes serve` in its own process, on an empty index folder: it builds, then serves."""
    index_dir = tmp_path_factory.mktemp("served-index")
    with live_server(index_dir, index_dir, {"MINUTES_CORPUS": json.dumps([str(CORPUS)])}, build=True) as base:
        yield base


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_real_server_answers_over_http(served: str) -> None:
    status, body = get_json(served + "/healthz")
    assert (status, body["model"], body["query_runtime"]) == (200, "minilm", "onnx")  # the server's default
    status, body = get_json(served + "/api/search?q=what+was+said+about+short+breaks&k=3")
    assert status == 200
    assert any("availability of short breaks" in h["text"] for h in body["hits"])
    status, body = get_json(served + "/api/search?q=%20")
    assert (status, body) == (422, {"ok": False, "error": "the query is empty; type some words to search for",
                                    "status": 422})
    with urllib.request.urlopen(served + "/?q=Earned+Autonomy+funding", timeout=30) as response:
        page = response.read().decode()
    assert "https://moderngov.staffordshire.gov.uk/mgAi.aspx?ID=84777" in page and "<mark>" in page
