"""Hostile input: crafted queries, ids, sizes, bytes and dates, and documents that carry HTML
and script. Every request gets a 2xx or a 4xx in the one error shape, never a 5xx or a
traceback; nothing from a query or a document is ever rendered as markup, in pages, JSON,
the answer panel or exports.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.settings import Settings

ERROR_KEYS = {"ok", "error", "status"}
# Every hostile document and query carries this marker, so its raw form is easy to spot.
XSS = '<script>alert("pwned")</script>'
IMG = '<img src=x onerror=alert("pwned")>'
ATTR = '"><svg onload=alert("pwned")>'

HOSTILE_DOC = f"""---
document_id: "hostile-1"
title: '{XSS} Budget title'
council: '{IMG} Hostile Borough Council'
committee: '{ATTR} Scrutiny Committee'
item: "Budget savings {{{{ 7*7 }}}} {{% raw %}}"
date: "2021-03-04"
source_url: "javascript:alert('pwned')"
see_also:
  - "data:text/html,<script>alert('pwned')</script>"
  - "https://example.org/ok?a=1&b=<b>"
attribution: '{XSS}'
---
The committee discussed the budget savings proposals {XSS} for children's services.

RESOLVED: that the budget savings {IMG} be agreed, and {ATTR} noted.

Members asked about short breaks ]]></x><!-- comment --> and the =HYPERLINK("http://evil") formula.
"""

PLAIN_DOC = """---
document_id: "plain-1"
title: "Budget monitoring"
council: "Plain County Council"
committee: "Cabinet"
date: "2020-01-02"
source_url: "https://moderngov.example.gov.uk/mgAi.aspx?ID=1"
---
The cabinet noted the budget monitoring report and the savings made so far.
"""


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory: pytest.TempPathFactory, embedder: HashingEmbedder) -> Iterator[TestClient]:
    from minutes.web.app import create_app

    corpus = tmp_path_factory.mktemp("hostile-corpus")
    (corpus / "hostile.md").write_text(HOSTILE_DOC)
    (corpus / "plain.md").write_text(PLAIN_DOC)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "nested.md").write_text("Budget savings in a nested folder, with no front matter.\n")
    index_dir = tmp_path_factory.mktemp("hostile-index")
    report = build_index([corpus], index_dir, embedder)
    assert report.documents == 3, report.problems
    with TestClient(create_app(Settings(index_dir=index_dir, model="hashing"), embedder=embedder)) as client:
        yield client


def check_answer(response: Any) -> None:
    """2xx, or 4xx in the one error shape; never a 5xx or a traceback; never markup from input."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text
    content_type = response.headers.get("content-type", "")
    if response.status_code >= 400:
        if content_type.startswith("application/json"):
            body = response.json()
            assert set(body) == ERROR_KEYS and body["ok"] is False and body["status"] == response.status_code
        else:
            assert content_type.startswith("text/html")
    if content_type.startswith("text/html"):
        check_html(response.text)
    assert response.headers.get("x-content-type-options") == "nosniff"


def check_html(html: str) -> None:
    assert XSS not in html and IMG not in html and "<svg onload" not in html
    soup = BeautifulSoup(html, "html.parser")
    for script in soup.find_all("script"):
        assert script.get("src", "").startswith("/static/") and not script.string, script
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on"), tag
            if name in ("href", "src", "action", "formaction"):
                assert not str(value).strip().lower().startswith(("javascript:", "data:", "vbscript:")), tag


# Queries: FTS5 syntax, SQL metacharacters, markup, control characters, oddities.
HOSTILE_QUERIES = [
    '"', '""', '"unclosed phrase', "a OR", "OR", "NOT", "AND AND", "NEAR(budget savings, 2)", "budget*", "*",
    "^budget", "text:budget", "passages_fts:budget", "{budget savings}", "(budget", "budget)", "-", "--", "- -budget",
    '-"', "budget -", "col:", "'; DROP TABLE passages; --", "1' OR '1'='1", "\" OR 1=1 --", "%", "_", "\\",
    "budget; SELECT * FROM documents", "' UNION SELECT document_id, text FROM documents --", "\x1a", "\u202e",
    XSS, IMG, ATTR, "{{ 7*7 }}", "{% raw %}", "${7*7}", "budget\u0000savings", "\t\n", "🙂 budget",
    "budget " * 200, "a" * 1000, "é" * 1000, "\ud7ff", "\ufeffbudget", "budget\r\nX-Injected: 1",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES, ids=[repr(q[:30]) for q in HOSTILE_QUERIES])
@pytest.mark.parametrize("path", ["/api/search", "/", "/timeline"])  # "/" holds the answer panel
def test_hostile_query_is_answered_safely(hostile_client: TestClient, path: str, query: str) -> None:
    response = hostile_client.get(path, params={"q": query})
    check_answer(response)
    if path.startswith("/api/") and response.status_code == 200:
        assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("query", ["budget savings", XSS, IMG, "pwned", "short breaks HYPERLINK"])
def test_markup_in_documents_is_escaped_everywhere(hostile_client: TestClient, query: str) -> None:
    page = hostile_client.get("/", params={"q": query})
    check_answer(page)
    assert page.status_code == 200
    if "pwned" in query or "budget" in query:
        assert "&lt;script&gt;" in page.text  # the text is shown, as text
    timeline = hostile_client.get("/timeline", params={"q": query})
    check_answer(timeline)
    api = hostile_client.get("/api/search", params={"q": query, "k": 50})
    check_answer(api)
    assert api.headers["content-type"] == "application/json"  # JSON is data, never sniffed as HTML


def test_hostile_document_page_is_escaped(hostile_client: TestClient) -> None:
    response = hostile_client.get("/documents/hostile-1", params={"q": XSS, "passage": 0})
    check_answer(response)
    assert response.status_code == 200 and "&lt;script&gt;" in response.text


def test_unsafe_link_schemes_from_documents_are_never_links(hostile_client: TestClient) -> None:
    """`javascript:` and `data:` URLs in front matter must not become clickable links."""
    for path in ("/?q=budget+savings", "/documents/hostile-1", "/timeline?q=budget+savings"):
        check_html(hostile_client.get(path).text)
    hits = hostile_client.get("/api/search", params={"q": "budget savings", "k": 50}).json()["hits"]
    hostile = [h for h in hits if h["document_id"] == "hostile-1"]
    assert hostile
    for hit in hostile:
        assert hit["source_url"] is None or hit["source_url"].startswith(("http://", "https://"))
        assert all(url.startswith(("http://", "https://")) for url in hit["see_also"])


def export_text(response: Any) -> str:
    if response.headers["content-type"].startswith("application/vnd.openxmlformats"):
        with zipfile.ZipFile(io.BytesIO(response.content)) as docx:
            return docx.read("word/document.xml").decode()
    return response.content.decode("utf-8-sig")


@pytest.mark.parametrize("fmt", ["md", "csv", "docx"])
def test_exports_of_hostile_documents_carry_no_live_markup_or_formulas(hostile_client: TestClient, fmt: str) -> None:
    response = hostile_client.get("/api/export", params={"q": "budget savings", "format": fmt, "k": 50})
    check_answer(response)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="briefing-budget-savings-') and "/" not in disposition
    text = export_text(response)
    if fmt == "md":
        # Markdown passes raw HTML through; every `<` of a tag must be backslash-escaped.
        assert not re.search(r"(?<!\\)<(script|img|svg|/script)", text, flags=re.IGNORECASE), text
    if fmt == "csv":
        import csv

        for row in csv.reader(io.StringIO(text)):
            assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row), row
    if fmt == "docx":
        assert "<script>" not in text  # Word XML escapes it as &lt;script&gt;


EXPORT_NAMES = ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "a\x00b", "x\r\nSet-Cookie: a=b",
                '"; filename="evil.sh', "%2e%2e%2f", "CON", "budget/../../x"]


@pytest.mark.parametrize("name", EXPORT_NAMES, ids=repr)
def test_export_file_names_cannot_carry_paths_or_headers(hostile_client: TestClient, name: str) -> None:
    response = hostile_client.get("/api/export", params={"q": name + " budget", "format": "md"})
    check_answer(response)
    if response.status_code == 200:
        disposition = response.headers["content-disposition"]
        filename = disposition.split('filename="', 1)[1].rstrip('"')
        assert all(ch.isalnum() or ch in "-." for ch in filename) and ".." not in filename, disposition
        assert "set-cookie" not in {k.lower() for k in response.headers}


# Path traversal and odd ids, in pages and the API (raw paths, sent as they are).
TRAVERSAL = [
    "/documents/..%2F..%2Fetc%2Fpasswd", "/api/documents/..%2F..%2Fetc%2Fpasswd", "/documents/../../etc/passwd",
    "/api/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/documents/%2e%2e", "/api/documents/..",
    "/api/documents/%00", "/documents/%00", "/api/documents/%ff%fe", "/documents/%ff%fe",
    "/api/documents/..%5C..%5Cwindows%5Cwin.ini", "/static/..%2F..%2Fserver%2Fsecurity.py",
    "/static/../server/security.py", "/static/%2e%2e/%2e%2e/etc/passwd", "/api/documents/" + "a" * 5000,
    "/api/documents/hostile-1%00", "/api/documents/hostile-1%0d%0aX-Injected:%201", "/documents/%3Cscript%3E",
    "/api/export?passage=..%2F..%2Fetc%2Fpasswd:0", "/api/export?passage=hostile-1:999999",
    "/api/export?passage=%00:1", "/api/export?passage=" + "a" * 400 + ":1", "/export?passage=../x:1",
]


@pytest.mark.parametrize("path", TRAVERSAL, ids=lambda p: p[:60])
def test_path_traversal_and_odd_ids_are_refused_safely(hostile_client: TestClient, path: str) -> None:
    response = hostile_client.get(path)
    check_answer(response)
    assert response.status_code in (400, 404, 414, 422), (response.status_code, response.text[:200])
    assert "root:" not in response.text and "install_security" not in response.text


def test_documents_in_subfolders_open_from_their_hits(hostile_client: TestClient) -> None:
    """A document id with a slash (a file in a subfolder) links to a page that opens."""
    hits = hostile_client.get("/api/search", params={"q": "nested folder budget", "k": 50}).json()["hits"]
    nested = [h for h in hits if h["document_id"] == "sub/nested"]
    assert nested, [h["document_id"] for h in hits]
    for url in (nested[0]["context_url"], "/api/documents/sub%2Fnested"):
        response = hostile_client.get(url)
        check_answer(response)
        assert response.status_code == 200, (url, response.status_code)


# Sizes, pagination, bytes and dates.
PARAMS: list[dict[str, str]] = [
    {"q": "budget", "k": "100000"}, {"q": "budget", "k": "-1"}, {"q": "budget", "k": "0"},
    {"q": "budget", "k": "1e309"}, {"q": "budget", "k": "NaN"}, {"q": "budget", "k": "9" * 400},
    {"q": "budget", "page": "99999999"}, {"q": "budget", "page": "1000"}, {"q": "budget", "page": "-5"},
    {"q": "budget", "page": "1000", "k": "100"}, {"q": "the", "page": "1001", "k": "100"},
    {"q": "budget", "page": "0"}, {"q": "budget", "per_page": "100000"},
    {"q": "a" * 1001}, {"q": "a" * 7000}, {"q": ""}, {"q": " "},
    {"q": "budget", "date_from": "2019-02-30"}, {"q": "budget", "date_from": "2019-13"},
    {"q": "budget", "date_from": "0000-00-00"}, {"q": "budget", "date_from": "9999-12-31"},
    {"q": "budget", "date_from": "-2019"}, {"q": "budget", "date_from": "2019-1-1"},
    {"q": "budget", "date_from": "20190101"}, {"q": "budget", "date_from": "yesterday"},
    {"q": "budget", "date_from": "2019-01-01T00:00:00Z"}, {"q": "budget", "date_from": "2021", "date_to": "2019"},
    {"q": "budget", "date_to": "2019-02-29"}, {"q": "budget", "date_to": "2020-02-29"},
    {"q": "budget", "date_from": "٢٠١٩"}, {"q": "budget", "date_from": "2019\x00"},
    {"q": "budget", "date_from": "x" * 30},
    {"q": "budget", "council": "x" * 301}, {"q": "budget", "council": "' OR 1=1 --"}, {"q": "budget", "document": "%"},
    {"q": "budget", "sort": "'; DROP TABLE documents"}, {"q": "budget", "decisions": "maybe"},
    {"q": "budget", "format": "exe"}, {"q": "budget", "passage": "x"},
]


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: repr(p)[:70])
@pytest.mark.parametrize("path", ["/api/search", "/", "/api/export"])
def test_odd_sizes_pages_and_dates_are_refused_or_answered(hostile_client: TestClient, path: str,
                                                            params: dict[str, str]) -> None:
    check_answer(hostile_client.get(path, params=params))


# Raw, percent-encoded query strings: invalid UTF-8, NUL and other control characters.
RAW = [
    "q=%ff%fe", "q=%ff", "q=budget%ffsavings", "q=%c0%af", "q=%ed%a0%80", "q=%00", "q=budget%00", "q=%1b%5b31m",
    "q=%0d%0aSet-Cookie:%20a=b", "q=%e2%80%ae", "q=%", "q=%zz", "q=%%%", "q=budget&q=savings", "q[]=budget",
    "q=budget&k=%ff", "q=budget&date_from=%ff%fe", "q=budget&council=%00", "q=budget&k=1&k=2", "=&&=&q=budget",
    "q=" + "%ff" * 300, "q=budget&" + "&".join(f"x{i}=1" for i in range(500)),
]


@pytest.mark.parametrize("query_string", RAW, ids=lambda s: s[:50])
@pytest.mark.parametrize("path", ["/api/search", "/"])
def test_invalid_utf8_and_control_characters(hostile_client: TestClient, path: str, query_string: str) -> None:
    check_answer(hostile_client.get(f"{path}?{query_string}"))


@pytest.mark.parametrize("path", ["/api/search?q=budget", "/", "/api/documents/plain-1"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_other_methods_are_refused_in_the_one_shape(hostile_client: TestClient, method: str, path: str) -> None:
    response = hostile_client.request(method, path, content=b"<x/>")
    check_answer(response)
    assert response.status_code in (404, 405)
    if response.status_code == 405:
        assert response.headers["allow"] == "GET"  # RFC 9110: a 405 says which methods are allowed


@pytest.mark.parametrize("headers", [
    {"Host": "evil.example"}, {"Accept": "text/html"}, {"Accept-Encoding": "gzip;q=1, *;q=0"},
    {"Content-Type": "application/json"}, {"Cookie": "a=" + "b" * 4000}, {"X-Forwarded-For": "1.2.3.4, <script>"},
    {"Range": "bytes=0-1,2-3"}, {"If-None-Match": '"x"'},
], ids=lambda h: next(iter(h)))
def test_odd_headers_do_not_break_answers(hostile_client: TestClient, headers: dict[str, str]) -> None:
    check_answer(hostile_client.get("/api/search", params={"q": "budget"}, headers=headers))
    check_answer(hostile_client.get("/", params={"q": "budget"}, headers=headers))


def test_export_links_in_the_page_are_relative_to_this_host(hostile_client: TestClient) -> None:
    """A forged Host header must not turn citations into links to another site in pages."""
    page = hostile_client.get("/", params={"q": "budget savings"}, headers={"Host": "evil.example"})
    check_answer(page)
    soup = BeautifulSoup(page.text, "html.parser")
    assert not [a["href"] for a in soup.find_all("a", href=True) if "evil.example" in a["href"]]


def test_huge_corpus_free_text_is_bounded(hostile_client: TestClient, tmp_path: Path) -> None:
    """k is capped, so a single request cannot ask for the whole index."""
    response = hostile_client.get("/api/search", params={"q": "budget", "k": 101})
    check_answer(response)
    assert response.status_code == 422 and response.json()["error"] == "k must be between 1 and 100"


def test_answer_panel_quotes_hostile_text_as_text(hostile_client: TestClient) -> None:
    """The answer panel really quotes the hostile passage here, so the check is not vacuous."""
    query = "budget savings proposals for children's services"
    page = hostile_client.get("/", params={"q": query})
    check_answer(page)
    panel = BeautifulSoup(page.text, "html.parser").find("section", class_="answer")
    assert panel is not None and panel.find("q") is not None, "no answer panel"
    assert 'alert("pwned")' in panel.get_text()  # shown as text...
    assert "&lt;script&gt;" in str(panel) and not panel.find_all(["script", "img", "svg"])  # ...never as markup
    answer = hostile_client.get("/api/answer", params={"q": query})
    check_answer(answer)
    assert answer.headers["content-type"] == "application/json" and answer.json()["answered"]


# The HTML pages are not in the OpenAPI schema, so schemathesis does not reach them: a
# Hypothesis strategy of page requests does (bench/fuzz.py runs it at length).
PAGE_PATHS = ["/", "/timeline", "/export", "/documents/hostile-1", "/documents/plain-1", "/documents/sub/nested"]
PAGE_KEYS = ["q", "k", "page", "sort", "council", "committee", "date_from", "date_to", "document", "decisions",
             "procedural", "passage", "format"]


def page_requests() -> Any:
    from hypothesis import strategies as st

    good = st.sampled_from(["budget savings", "short breaks", "10", "1", "newest", "oldest", "2021", "2019-11",
                            "2021-03-04", "md", "csv", "docx", "hostile-1:0", "plain-1:0", "1", "true",
                            "Plain County Council", "Cabinet", XSS, IMG, ATTR])
    value = st.one_of(good, st.text(max_size=40), st.integers(-10**6, 10**12).map(str))
    params = st.dictionaries(st.sampled_from(PAGE_KEYS), value, max_size=6)
    return st.tuples(st.sampled_from(PAGE_PATHS), params)


def fuzz_pages(client: TestClient, examples: int, derandomize: bool = True) -> int:
    """Send `examples` generated page requests; each must pass check_answer. Returns the count."""
    from hypothesis import HealthCheck, given, settings

    sent = 0

    @given(request=page_requests())
    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=list(HealthCheck))
    def run(request: tuple[str, dict[str, str]]) -> None:
        nonlocal sent
        path, params = request
        response = client.get(path, params=params)
        sent += 1
        check_answer(response)

    run()
    return sent


def test_generated_page_requests_are_answered_safely(hostile_client: TestClient) -> None:
    assert fuzz_pages(hostile_client, 60) >= 60


@pytest.mark.slow
def test_hostile_queries_on_the_real_model(tmp_path: Path) -> None:
    """The fast suite's embedder is a fake; the real model's tokenizer meets the same queries here."""
    from minutes.embed import load_embedder
    from minutes.web.app import create_app

    embedder = load_embedder("minilm", threads=1)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "hostile.md").write_text(HOSTILE_DOC)
    (tmp_path / "corpus" / "plain.md").write_text(PLAIN_DOC)
    build_index([tmp_path / "corpus"], tmp_path / "index", embedder)
    extra = ["\x00" * 10 + "budget", "\U0010ffff" * 500, "ﷺ" * 1000, "\u200b" * 1000, "a" * 999 + "é"]
    settings = Settings(index_dir=tmp_path / "index", model="minilm")
    with TestClient(create_app(settings, embedder=embedder)) as client:
        for query in HOSTILE_QUERIES + extra:
            for path in ("/api/search", "/", "/api/answer", "/timeline"):
                check_answer(client.get(path, params={"q": query}))
        for query_string in RAW:
            check_answer(client.get(f"/api/search?{query_string}"))
