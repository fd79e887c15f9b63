"""Restricted (exempt, Part 2) content, end to end: a ModernGov site marks an item and two
papers restricted; after `minutes import moderngov` and a build, their words are nowhere:
not in the imported files, not in any file of the index folder (documents, passages, FTS,
vector and extraction caches), not searchable or openable through the API or the pages
(answer panel and timeline included), and never exported.

The recorded site is tests/moderngov_server.py; the importer's own tests (test_moderngov.py)
check the import counts and politeness. Here only "never stored, never shown" is checked,
from the outside.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from minutes.embed import HashingEmbedder
from minutes.settings import Settings

# Words that appear only in the restricted item (9005) and the restricted papers (s128748, s128790).
SECRETS = ("Zanzibarcontract", "Quokkaprivate")
RESTRICTED_ITEM = "9005"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    from minutes.cli import cli
    from tests.moderngov_server import serve

    root = tmp_path_factory.mktemp("restricted")
    index_dir, out = root / "index", root / "imports"
    with serve() as site:
        result = CliRunner().invoke(
            cli, ["--index-dir", str(index_dir), "import", "moderngov", site.url,
                  "--council", "Testshire County Council", "--from", "2025-01-01", "--to", "2025-03",
                  "--out", str(out), "--delay", "0", "--timeout", "0.3", "--retries", "0", "--backoff", "0.01"],
            env={"MINUTES_MODEL": "hashing"})
        assert result.exit_code == 0, result.stderr
        assert re.search(r"\b3 restricted\b", result.stdout), result.stdout
        assert not site.requests_to("s128748") and not site.requests_to("s128790")  # never even downloaded
    yield index_dir, out


@pytest.fixture(scope="module")
def client(imported: tuple[Path, Path], embedder: HashingEmbedder) -> Iterator[TestClient]:
    from minutes.web.app import create_app

    index_dir, _ = imported
    with TestClient(create_app(Settings(index_dir=index_dir, model="hashing"), embedder=embedder)) as test_client:
        yield test_client


def without_query(text: str, query: str) -> str:
    """The response with the query's own echoes (as typed, in links, in file names) taken out."""
    lowered = text.lower()
    for form in (query, quote_plus(query), quote(query), html.escape(query), query.replace(" ", "-")):
        lowered = lowered.replace(form.lower(), "")
    return lowered


def assert_no_secret(data: bytes | str, where: str) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), f"{secret} found in {where}"


def test_restricted_content_is_never_stored(imported: tuple[Path, Path]) -> None:
    """No file of the import folder or the index folder holds it: documents, passages, FTS, the
    vector and extraction caches, and the importer's raw HTTP response cache."""
    index_dir, out = imported
    files = [f for folder in (out, index_dir) for f in folder.rglob("*") if f.is_file()]
    assert any(f.name == "index.sqlite" for f in files) and any(f.name == "cache.sqlite" for f in files)
    assert any("http-cache" in f.parts for f in files)
    for file in files:
        assert_no_secret(file.read_bytes(), str(file))
    assert not [f for f in out.rglob(f"*{RESTRICTED_ITEM}*")]


PROBES = ["Zanzibarcontract pricing transport tender", "exempt pricing schedule unit rates",
          "Quokkaprivate private session bids"]


@pytest.mark.parametrize("query", PROBES)
def test_restricted_content_is_never_searchable(client: TestClient, query: str) -> None:
    for params in ({"q": query, "k": 100, "procedural": "true"},):  # procedural included: the widest search
        for path in ("/api/search", "/api/browse", "/api/answer", "/api/timeline", "/", "/timeline"):
            response = client.get(path, params=params)
            assert response.status_code == 200, (path, response.text[:300])
            assert_no_secret(without_query(response.text, query), f"{path}?q={query}")


def test_public_items_of_the_same_meeting_are_served(client: TestClient) -> None:
    """The check above is not vacuous: the meeting that held the restricted item is searchable."""
    hits = client.get("/api/search", params={"q": "short breaks disabled children waiting list"}).json()["hits"]
    assert any("/7001/" in h["document_id"] for h in hits)


def restricted_item_id(client: TestClient) -> str:
    """The id the restricted item would have had: its meeting's items are `moderngov/HOST/7001/<item>`."""
    hits = client.get("/api/search", params={"q": "short breaks disabled children waiting list", "k": 100,
                                             "procedural": "true"}).json()["hits"]
    public = next(h["document_id"] for h in hits if re.fullmatch(r"moderngov/.+/7001/\d+", h["document_id"]))
    return public.rsplit("/", 1)[0] + "/" + RESTRICTED_ITEM


def test_restricted_item_cannot_be_opened_by_id(client: TestClient) -> None:
    guess = restricted_item_id(client)
    for url in (f"/api/documents/{guess}", f"/documents/{guess}", f"/api/documents/{quote(guess, safe='')}",
                f"/documents/{quote(guess, safe='')}?passage=0", f"/?q=budget&document={quote(guess, safe='')}"):
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        assert_no_secret(response.text, url)
        if "?q=" not in url:
            assert response.status_code == 404, url


@pytest.mark.parametrize("fmt", ["md", "csv", "docx"])
def test_restricted_content_is_never_exported(client: TestClient, fmt: str) -> None:
    # By search: whatever the query, the note holds no restricted words.
    for query in PROBES:
        response = client.get("/api/export", params={"q": query, "format": fmt, "k": 100, "procedural": "true"})
        assert response.status_code in (200, 404)
        assert_no_secret(without_query(export_text(response), query), f"export {fmt} of {query}")
    # By a guessed passage id of the restricted item: not found, and nothing leaks.
    response = client.get("/api/export", params={"passage": f"{restricted_item_id(client)}:0", "format": fmt})
    assert response.status_code == 404
    assert_no_secret(response.text, "export by id")


def export_text(response: object) -> str:
    content: bytes = response.content  # type: ignore[attr-defined]
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as docx:
            return docx.read("word/document.xml").decode()
    return content.decode("utf-8-sig", "replace")
