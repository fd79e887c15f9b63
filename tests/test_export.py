"""Briefing-note export: Markdown, Word and CSV with full citations; safe file names."""

from __future__ import annotations

import csv
import io
from datetime import date

import docx
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from minutes.features.export import CSV_FIELDS, citation_text, cite, safe_filename, to_csv
from minutes.search.hybrid import Searcher

Q = "short breaks"
TODAY = date.today().isoformat()


def _chosen(client: TestClient, n: int = 3) -> list[dict]:
    return client.get("/api/search", params={"q": Q, "k": n}).json()["hits"]


def _export(client: TestClient, fmt: str, hits: list[dict], path: str = "/export", **params: str):
    response = client.get(path, params={"q": Q, "format": fmt, "passage": [h["passage_id"] for h in hits], **params})
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize(("query", "name"), [
    ("short breaks", f"briefing-short-breaks-{TODAY}.md"),
    ("../../etc/passwd", f"briefing-etc-passwd-{TODAY}.md"),
    ('a\\b/c:"d"\r\n<e>', f"briefing-a-b-c-d-e-{TODAY}.md"),
    ("", f"briefing-passages-{TODAY}.md"),
    ("ééé ∑", f"briefing-passages-{TODAY}.md"),
    ("x" * 300, f"briefing-{'x' * 48}-{TODAY}.md"),
])
def test_safe_filename(query: str, name: str) -> None:
    assert safe_filename(query, "md", date.today()) == name


def test_safe_filename_refuses_unknown_formats() -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        safe_filename("q", "exe", date.today())


def test_csv_round_trip_with_full_citations(client: TestClient) -> None:
    hits = _chosen(client)
    response = _export(client, "csv", hits)
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="briefing-short-breaks-{TODAY}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["passage_id"] for r in rows] == [h["passage_id"] for h in hits]
    for row, hit in zip(rows, hits, strict=True):
        assert row["text"] == hit["text"].replace("\r\n", "\n") or row["text"].lstrip("'") == hit["text"]
        assert (row["council"], row["committee"], row["meeting_date"]) == (hit["council"], hit["committee"],
                                                                           hit["date"])
        assert row["item"] == (hit["item"] or hit["title"]) and row["retrieved"] == TODAY
        assert row["url"] == (hit["source_url"] or row["passage_url"])
        assert row["passage_url"].startswith("http://testserver/documents/")


def test_docx_round_trip_with_full_citations(client: TestClient) -> None:
    hits = _chosen(client)
    response = _export(client, "docx", hits)
    assert response.headers["content-disposition"].endswith('.docx"')
    word = docx.Document(io.BytesIO(response.content))
    paragraphs = [p.text for p in word.paragraphs]
    assert paragraphs[0] == f"Briefing note: {Q}"
    for number, hit in enumerate(hits, 1):
        assert hit["text"] in paragraphs
        citation = next(p for p in paragraphs if p.startswith(f"[{number}] "))
        assert hit["council"] in citation and hit["committee"] in citation and f"meeting of {hit['date']}" in citation
        assert f"(retrieved {TODAY})" in citation and "http" in citation
    assert [p.style.name for p in word.paragraphs if p.text in {h["text"] for h in hits}] == ["Quote"] * len(hits)


def test_markdown_with_citations(client: TestClient) -> None:
    hits = _chosen(client, 2)
    text = _export(client, "md", hits).text
    assert text.startswith(f"# Briefing note: {Q}\n")
    for number, hit in enumerate(hits, 1):
        assert f"## {number}. " in text and f"\n[{number}] " in text
        first_line = hit["text"].splitlines()[0]
        assert f"> {first_line}" in text.replace("\\", "")
    assert f"(retrieved {TODAY})" in text


def test_without_a_selection_the_current_page_is_exported(client: TestClient) -> None:
    response = client.get("/export", params={"q": Q, "format": "csv", "k": 4, "sort": "oldest"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    page = client.get("/api/browse", params={"q": Q, "k": 4, "sort": "oldest"}).json()["hits"]
    assert [r["passage_id"] for r in rows] == [h["passage_id"] for h in page]


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"format": "md"}, 422, "choose some passages, or search first"),
    ({"format": "md", "passage": "nope"}, 422, "'nope' is not a passage id; use document_id:ordinal"),
    ({"format": "md", "passage": "../../etc/passwd:1"}, 404, "no passage with id '../../etc/passwd:1'"),
    ({"format": "md", "passage": "004_67b7388c9a981ec9:9999"}, 404, "no passage with id"),
    ({"format": "exe", "q": "budget"}, 422, "format"),
    ({"format": "md", "passage": [f"a:{i}" for i in range(101)]}, 422, "List should have at most 100 items"),
])
def test_bad_export_requests(client: TestClient, params: dict, status: int, message: str) -> None:
    response = client.get("/api/export", params=params)
    assert response.status_code == status
    body = response.json()
    assert body["ok"] is False and body["status"] == status and message in body["error"]
    page = client.get("/export", params=params)
    assert page.status_code == status and "text/html" in page.headers["content-type"]


def test_hostile_query_cannot_shape_the_file_name(client: TestClient) -> None:
    response = client.get("/export", params={"q": '../../x";\r\nSet-Cookie: a=b', "format": "md"})
    disposition = response.headers.get("content-disposition", "")
    if response.status_code == 200:
        assert disposition == f'attachment; filename="briefing-x-set-cookie-a-b-{TODAY}.md"'
    assert "set-cookie" not in {k.lower() for k in response.headers}


def test_csv_cells_never_start_a_formula(searcher: Searcher) -> None:
    hit = searcher.search(Q, 1).hits[0]
    [cited] = cite([hit], lambda h: f"http://x/{h.passage.passage_id}", date(2026, 1, 2))
    from dataclasses import replace
    rows = list(csv.reader(io.StringIO(to_csv([replace(cited, item="=HYPERLINK(\"http://evil\")")]))))
    assert rows[1][4].startswith("'=")
    assert citation_text(cited).endswith("(retrieved 2026-01-02).")


def test_copy_citation_is_selectable_text_on_each_hit(client: TestClient) -> None:
    soup = BeautifulSoup(client.get("/", params={"q": Q}).text, "html.parser")
    hits = soup.select("li.hit")
    assert hits
    for hit in hits:
        text = hit.select_one("details.cite .citation-text").text
        council = hit.select_one(".council").text
        assert text.startswith(council) and f"(retrieved {TODAY})." in text and "http" in text
        box = hit.select_one('input[type=checkbox][name="passage"]')
        assert box is not None and box.find_parent("form")["action"] == "/export"
    buttons = {b["value"] for b in soup.select('form#briefing button[name="format"]')}
    assert buttons == {"md", "docx", "csv"}


def test_timeline_exports_everything_oldest_first(client: TestClient) -> None:
    soup = BeautifulSoup(client.get("/timeline", params={"q": "budget savings"}).text, "html.parser")
    links = {a.text: a["href"] for a in soup.select(".export-links a")}
    assert set(links) == {"Markdown", "Word", "CSV"}
    response = client.get(links["CSV"])
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    total = client.get("/api/timeline", params={"q": "budget savings"}).json()["total"]
    assert len(rows) == total
    starts = [r["meeting_date"][:7] for r in rows]
    assert starts == sorted(starts)


def test_public_url_setting_makes_citation_links(settings, embedder) -> None:
    from fastapi.testclient import TestClient

    from minutes.web.app import create_app
    from minutes.web.settings import WebSettings

    public = WebSettings.of(settings, public_url="https://minutes.example.gov.uk")
    with TestClient(create_app(public, embedder=embedder)) as client:
        response = client.get("/api/export", params={"q": "short breaks", "format": "md"},
                              headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert "https://minutes.example.gov.uk/documents/" in response.text and "evil.example" not in response.text


HOSTILE_TEXT = ("See [the report](https://evil.example/x) and ![pixel](https://evil.example/p.png), "
                "<https://evil.example/auto>, https://evil.example/bare, www.evil.example, bob@evil.example,\n"
                "- a list? 1. a number? <img src=x onerror=alert(1)> &lt;tag&gt; *bold* `code` | pipe |\n"
                "[ref]: https://evil.example/ref")


def _hostile_citation(searcher: Searcher, **changes: object):
    from dataclasses import replace

    hit = searcher.search(Q, 1).hits[0]
    [cited] = cite([hit], lambda h: "https://minutes.example/documents/x?passage=1#p1", date(2026, 1, 2))
    return replace(cited, **changes)


def _render(markdown: str) -> BeautifulSoup:
    """The Markdown as a GFM-like renderer shows it: tables, strikethrough and bare-URL links on."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("gfm-like", {"linkify": True}).enable(["linkify", "table", "strikethrough"]).render(markdown)
    return BeautifulSoup(html, "html.parser")


def test_markdown_export_renders_passage_text_as_text(searcher: Searcher) -> None:
    from minutes.features.export import to_markdown

    cited = _hostile_citation(searcher, text=HOSTILE_TEXT, item="[item](https://evil.example/i) ![i](x.png)")
    soup = _render(to_markdown("q [x](https://evil.example/q)", [cited], scope="<b>scope</b>"))
    assert [a["href"] for a in soup.find_all("a")] == ["https://minutes.example/documents/x?passage=1#p1"]
    assert not soup.find_all(["img", "b", "em", "strong", "code", "table", "ul", "ol", "li", "h3"]) or \
        [t.name for t in soup.find_all(["strong"])] == ["strong"]  # only the export's own **Item:** label
    quote = soup.find("blockquote").get_text()
    assert quote.strip() == HOSTILE_TEXT.strip()   # exact, character for character, once rendered
    assert "[item](https://evil.example/i) ![i](x.png)" in soup.get_text()


@pytest.mark.parametrize("source", ["https://evil.example/a> [x](https://evil.example/b)",
                                    "https://evil.example/a\n\n# Heading\n[x](https://evil.example/b)",
                                    "https://evil.example/a b>c"])
def test_a_source_url_cannot_break_out_of_its_markdown_link(searcher: Searcher, source: str) -> None:
    from minutes.features.export import to_markdown

    markdown = to_markdown("q", [_hostile_citation(searcher, source_url=source, text="plain words")])
    soup = _render(markdown)
    links = [a["href"] for a in soup.find_all("a")]
    assert len(links) == 1 and links[0].startswith("https://evil.example/a")
    assert not soup.find_all(["h1", "h2"], string=lambda s: s and "Heading" in s)
    citation_line = next(line for line in markdown.splitlines() if line.startswith("[1] "))
    assert citation_line.endswith("(retrieved 2026-01-02).")


def test_csv_cells_cut_at_a_semicolon_start_no_formula(searcher: Searcher) -> None:
    """Excel in many locales splits a .csv on `;`, quoted or not: no piece may start a formula."""
    item, text = "Budget;=cmd|' /C calc'!A0", "first;@SUM(1+1);-2; +3"
    out = to_csv([_hostile_citation(searcher, item=item, text=text)])
    for pieces in csv.reader(io.StringIO(out), delimiter=";"):
        assert not [cell for cell in pieces if cell[:1] in ("=", "+", "-", "@")], pieces
    [row] = list(csv.DictReader(io.StringIO(out)))   # read as written (commas): guarded like a cell start
    assert row["item"] == "Budget;'=cmd|' /C calc'!A0" and row["text"] == "first;'@SUM(1+1);'-2; +3"
    assert out.splitlines()[1].startswith('"1","') and out.count('","') == 2 * (len(CSV_FIELDS) - 1)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "|", "%", "\uff1d"])
def test_csv_formula_guard_covers_every_formula_start(searcher: Searcher, start: str) -> None:
    [row] = list(csv.DictReader(io.StringIO(to_csv([_hostile_citation(searcher, item=f"{start}1+1")]))))
    assert row["item"] == f"'{start}1+1"
