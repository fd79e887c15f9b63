import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.settings import Settings
from minutes.web.app import create_app

from .conftest import CORPUS

HIT_FIELDS = {"text", "score", "rank", "document_id", "passage_id", "char_start", "char_end", "council",
              "committee", "date", "title", "source_url", "see_also", "context_url"}


def test_search_returns_the_documented_shape(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "short breaks", "k": 5}).json()
    assert set(body) == {"query", "filters", "total", "hits", "message"}
    assert body["query"] == "short breaks" and body["total"] == len(body["hits"]) > 0
    for rank, hit in enumerate(body["hits"], 1):
        assert set(hit) >= HIT_FIELDS
        assert hit["rank"] == rank
    document = client.get(f"/api/documents/{body['hits'][0]['document_id']}").json()
    for hit in body["hits"]:
        if hit["document_id"] == document["document_id"]:
            assert document["text"][hit["char_start"]:hit["char_end"]] == hit["text"]


def test_filters_are_echoed_and_applied(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "budget", "council": "Staffordshire County Council",
                                             "date_from": "2019", "date_to": "2019-12", "k": 10}).json()
    assert body["filters"]["council"] == "Staffordshire County Council"
    assert body["filters"]["date_from"] == "2019-01-01" and body["filters"]["date_to"] == "2019-12-31"
    assert body["hits"] and {h["council"] for h in body["hits"]} == {"Staffordshire County Council"}


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"q": ""}, 422, "the query is empty; type some words to search for"),
    ({"q": "   "}, 422, "the query is empty; type some words to search for"),
    ({}, 422, "q is required"),
    ({"q": "x" * 1001}, 422, "q is too long; the limit is 1000 characters"),
    ({"q": "budget", "k": 0}, 422, "k must be between 1 and 100"),
    ({"q": "budget", "k": 101}, 422, "k must be between 1 and 100"),
    ({"q": "budget", "k": "ten"}, 422, "k: Input should be a valid integer, unable to parse string as an integer"),
    ({"q": "budget", "date_from": "2019-13"}, 422, "'2019-13' is not a real date (month must be in 1..12)"),
    ({"q": "budget", "date_to": "last week"}, 422, "'last week' is not a date; use YYYY-MM-DD, YYYY-MM or YYYY"),
])
def test_bad_input_gets_one_error_shape(client: TestClient, params: dict, status: int, message: str) -> None:
    response = client.get("/api/search", params=params)
    assert response.status_code == status
    assert response.json() == {"ok": False, "error": message, "status": status}


@pytest.mark.parametrize("value", ["", "false", "0"])
def test_empty_or_false_switches_mean_off(client: TestClient, value: str) -> None:
    on = client.get("/api/search", params={"q": "budget", "decisions": "true", "k": 100}).json()
    off = client.get("/api/search", params={"q": "budget", "decisions": value, "k": 100}).json()
    assert off["filters"]["decisions_only"] is False and on["filters"]["decisions_only"] is True
    assert {h["kind"] for h in on["hits"]} <= {"resolution"} and off["total"] > on["total"]


def test_unknown_document_and_path_are_404(client: TestClient) -> None:
    response = client.get("/api/documents/no-such-doc")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error": "no document with id 'no-such-doc'", "status": 404}
    assert client.get("/api/nothing-here").json()["status"] == 404


def test_openapi_declares_the_error_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "ErrorBody" in schema["components"]["schemas"]
    responses = schema["paths"]["/api/search"]["get"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_healthz(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["ok"] is True and body["documents"] == 5 and body["model"] == "hashing"
    assert body["query_runtime"] is None  # the test model has no runtime to report


def test_search_page_escapes_and_highlights(client: TestClient) -> None:
    response = client.get("/", params={"q": "short breaks <script>alert(1)</script>"})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.title and "short breaks" in soup.title.text
    hits = soup.select("li.hit")
    assert hits
    marks = [m.text.lower() for m in soup.select("li.hit mark")]
    assert any(m.startswith("short") for m in marks) and any(m.startswith("break") for m in marks)
    first = hits[0]
    assert first.select_one(".council") and first.select_one("a.context")


def test_source_and_possibly_related_links(client: TestClient) -> None:
    soup = BeautifulSoup(client.get("/", params={"q": "short breaks", "k": 20}).text, "html.parser")
    staffs = soup.select('a.source[href="https://moderngov.staffordshire.gov.uk/mgAi.aspx?ID=84777"]')
    assert staffs
    stockport = [h for h in soup.select("li.hit") if "Stockport" in h.select_one(".council").text]
    assert stockport and not stockport[0].select("a.source") and stockport[0].select("a.see-also")


def test_document_page_marks_the_passage(client: TestClient) -> None:
    response = client.get("/documents/004_67b7388c9a981ec9", params={"passage": 2, "q": "Earned Autonomy"})
    soup = BeautifulSoup(response.text, "html.parser")
    current = soup.select_one(".passage.current")
    assert current is not None and current["id"] == "p2"
    assert soup.select("mark")
    assert "Children and Families System Transformation" in soup.h1.text


def test_html_error_pages(client: TestClient) -> None:
    response = client.get("/documents/<b>nope</b>")
    assert response.status_code == 404 and "text/html" in response.headers["content-type"]
    assert "<b>nope</b>" not in response.text and "&lt;b&gt;nope&lt;/b&gt;" in response.text
    response = client.get("/", params={"q": "budget", "k": 500})
    assert response.status_code == 422 and "k must be between 1 and 100" in response.text


def test_no_index_is_a_clear_503(tmp_path: Path, embedder: HashingEmbedder) -> None:
    with TestClient(create_app(Settings(index_dir=tmp_path, model="hashing"), embedder=embedder)) as client:
        response = client.get("/api/search", params={"q": "budget"})
        assert response.status_code == 503 and "minutes index" in response.json()["error"]


def test_running_server_picks_up_a_new_index(tmp_path: Path, embedder: HashingEmbedder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder)
    with TestClient(create_app(Settings(index_dir=index_dir, model="hashing"), embedder=embedder)) as client:
        assert client.get("/healthz").json()["documents"] == 5
        (corpus / "new.md").write_text('---\ndocument_id: "new-doc"\ncouncil: "Testshire"\n---\n'
                                       "The committee discussed zebra crossings near schools.\n")
        build_index([corpus], index_dir, embedder)
        assert client.get("/healthz").json()["documents"] == 6
        body = client.get("/api/search", params={"q": "zebra crossings", "council": "Testshire"}).json()
        assert body["hits"][0]["document_id"] == "new-doc"


def test_cli_search_json_is_the_api_body(client: TestClient, seed_index_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`minutes search --json` and /api/search print one shape (minutes/web/schemas.py), byte for byte."""
    import json

    from click.testing import CliRunner

    from minutes.cli import cli

    monkeypatch.setenv("MINUTES_MODEL", "hashing")
    result = CliRunner().invoke(cli, ["--index-dir", str(seed_index_dir), "search", "short breaks", "--json",
                                      "--k", "4", "--council", "Stockport Metropolitan Borough Council"])
    assert result.exit_code == 0, result.output
    api = client.get("/api/search", params={"q": "short breaks", "k": 4,
                                            "council": "Stockport Metropolitan Borough Council"})
    assert json.loads(result.stdout) == api.json() and api.json()["hits"]
    assert result.stdout.strip() == json.dumps(api.json(), indent=2, ensure_ascii=False)
