"""Security headers, request size limits, the optional rate limit and HEAD (minutes/web/security.py, asgi.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from minutes.embed import HashingEmbedder
from minutes.web.errors import install_error_handlers
from minutes.web.security import ClientLimiter, RequestLimits, client_key
from minutes.web.settings import WebSettings

from .conftest import ROOT

ERROR_KEYS = {"ok", "error", "status"}


def make_client(index_dir: Path, embedder: HashingEmbedder, **settings: object) -> TestClient:
    from minutes.web.app import create_app

    return TestClient(create_app(WebSettings(index_dir=index_dir, model="hashing", **settings),  # type: ignore[arg-type]
                                 embedder=embedder))


@pytest.mark.parametrize("path", ["/", "/?q=short+breaks", "/documents/no-such-doc", "/api/search?q=budget",
                                  "/healthz", "/no/such/page", "/static/style.css"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src and "'unsafe-inline'" not in script_src.group(1) and "'unsafe-eval'" not in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_api_docs_page_keeps_working_under_its_own_policy(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "https://cdn.jsdelivr.net" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


TEMPLATE_FILES = sorted((ROOT / "minutes" / "web" / "templates").rglob("*.html"))


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=lambda p: p.name)
def test_templates_have_no_inline_script(template: Path) -> None:
    """The CSP forbids inline script, so templates must not rely on it."""
    html = template.read_text()
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE):
        assert re.search(r"\bsrc\s*=", tag), f"{template.name}: inline <script> {tag}"
    handlers = re.findall(r"<[^>]*\son[a-z]+\s*=", html, flags=re.IGNORECASE)
    assert not handlers, f"{template.name}: inline event handler {handlers[:1]}"
    assert "javascript:" not in html.lower(), f"{template.name}: javascript: URL"


@pytest.mark.parametrize("path", ["/api/search?q=", "/?q="])
def test_overlong_address_answers_414_in_the_one_shape(client: TestClient, path: str) -> None:
    response = client.get(path + "a" * 33000)
    assert response.status_code == 414
    if path.startswith("/api/"):
        assert response.json() == {"ok": False, "status": 414,
                                   "error": f"the address is {len(path) + 33000} bytes long; the limit is 32768"}
    else:
        assert "text/html" in response.headers["content-type"] and "the limit is 32768" in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_export_of_100_long_passage_ids_fits_under_the_address_limit(client: TestClient) -> None:
    ids = [f"cabinet/2025-01-30-m7001/documents/128747-24-00096-short-breaks-recommissioning-report:{n}"
           for n in range(100)]
    response = client.get("/api/export", params={"passage": ids, "format": "md"})
    assert response.status_code == 404  # unknown here, but not refused for its length


def test_large_body_answers_413_by_content_length(client: TestClient) -> None:
    response = client.post("/api/search?q=budget", content=b"x" * (1_048_576 + 1))
    assert response.status_code == 413
    assert response.json() == {"ok": False, "status": 413,
                               "error": "the request body is larger than the limit of 1048576 bytes"}


def test_streamed_body_over_the_limit_answers_413() -> None:
    """A chunked body (no Content-Length) is counted as it arrives and refused past the limit."""
    app = FastAPI()  # a route that reads its body, with the app's own error handlers

    @app.post("/api/echo")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    install_error_handlers(app, None)
    app.add_middleware(RequestLimits, max_url_bytes=8192, max_body_bytes=4096)  # type: ignore[arg-type]

    def chunks(count: int) -> Iterator[bytes]:
        for _ in range(count):
            yield b"y" * 1000

    with TestClient(app) as small:
        assert small.post("/api/echo", content=chunks(4)).text == "4000"
        response = small.post("/api/echo", content=chunks(10))
    assert response.status_code == 413
    assert response.json() == {"ok": False, "status": 413,
                               "error": "the request body is larger than the limit of 4096 bytes"}


def test_rate_limit_is_off_by_default(client: TestClient) -> None:
    assert WebSettings.model_fields["rate_limit"].default == 0
    assert all(client.get("/api/search?q=budget").status_code == 200 for _ in range(30))


def test_rate_limit_answers_429_with_retry_after(seed_index_dir: Path, embedder: HashingEmbedder) -> None:
    with make_client(seed_index_dir, embedder, rate_limit=5) as limited:
        statuses = [limited.get("/api/search?q=budget").status_code for _ in range(5)]
        assert statuses == [200] * 5
        refused = limited.get("/api/search?q=budget")
        assert refused.status_code == 429
        # A sliding window: the next request may go once enough of the minute has passed.
        retry = int(refused.headers["retry-after"])
        assert 1 <= retry <= 120
        assert refused.json() == {"ok": False, "status": 429,
                                  "error": f"too many requests: the limit is 5 a minute; try again in {retry} s"}
        page = limited.get("/?q=budget")
        assert page.status_code == 429 and "text/html" in page.headers["content-type"]
        # Health checks and static files are never refused.
        assert limited.get("/healthz").status_code == 200
        assert limited.get("/static/style.css").status_code == 200


def test_the_window_moves_and_keeps_clients_apart() -> None:
    import time

    from limits import RateLimitItemPerSecond

    clients = ClientLimiter(RateLimitItemPerSecond(2, 1))
    assert [clients.wait("a"), clients.wait("a")] == [0.0, 0.0]
    wait = clients.wait("a")
    assert 0 < wait <= 1.0
    assert clients.wait("b") == 0.0  # another client has its own window
    time.sleep(wait + 0.05)
    assert clients.wait("a") == 0.0


def _line_events(call: object) -> int:
    """How many lines of Python one call runs (in this thread): work, counted without a clock."""
    import sys

    count = 0

    def tracer(frame: object, event: str, arg: object) -> object:
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        call()  # type: ignore[operator]
    finally:
        sys.settrace(None)
    return count


def test_a_flood_of_clients_does_not_slow_each_request() -> None:
    """The work of one request does not grow with the number of clients remembered."""
    from limits import RateLimitItemPerMinute

    clients = ClientLimiter(RateLimitItemPerMinute(5))
    for i in range(1_000):
        clients.wait(f"10.0.{i // 256}.{i % 256}")
    few = _line_events(lambda: clients.wait("192.0.2.1"))
    for i in range(1_000, 60_000):
        clients.wait(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    many = _line_events(lambda: clients.wait("192.0.2.2"))
    assert clients.keys() > 50_000   # all remembered (one counter each, in this window)
    assert many <= few + 5, (few, many)


def test_clients_are_forgotten_once_their_window_has_passed() -> None:
    import time

    from limits import RateLimitItemPerSecond

    clients = ClientLimiter(RateLimitItemPerSecond(1, 1))
    for i in range(2_000):
        clients.wait(f"10.0.{i // 256}.{i % 256}")
    assert clients.keys() == 2_000
    time.sleep(2.2)   # the counters of this window and the next have expired
    clients.wait("192.0.2.1")  # any request starts the clean-up of expired windows
    deadline = time.monotonic() + 5
    while clients.keys() > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert clients.keys() <= 2


@pytest.mark.parametrize(("host", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),   # the same /64: one machine, one budget
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("testclient", "testclient"),
])
def test_client_key(host: str, key: str) -> None:
    assert client_key({"type": "http", "client": (host, 1234)}) == key


def test_forwarded_headers_are_not_believed_by_default(seed_index_dir: Path, embedder: HashingEmbedder) -> None:
    """A client cannot pick its own rate-limit bucket by sending X-Forwarded-For."""
    with make_client(seed_index_dir, embedder, rate_limit=2) as limited:
        statuses = [limited.get("/api/search?q=budget", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                    for n in range(3)]
    assert statuses == [200, 200, 429]


def test_forwarded_headers_of_a_trusted_proxy_name_the_client(seed_index_dir: Path,
                                                               embedder: HashingEmbedder) -> None:
    from minutes.web.app import create_app

    app = create_app(WebSettings(index_dir=seed_index_dir, model="hashing", rate_limit=2,
                                 trusted_proxies=["127.0.0.0/8"]), embedder=embedder)
    with TestClient(app, client=("127.0.0.1", 50000)) as proxied:   # a proxy on this machine
        spread = [proxied.get("/api/search?q=budget", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                  for n in range(3)]
        same = [proxied.get("/api/search?q=budget", headers={"X-Forwarded-For": "198.51.100.9"}).status_code
                for _ in range(3)]
    assert spread == [200, 200, 200] and same == [200, 200, 429]


@pytest.mark.parametrize("path", ["/", "/?q=budget", "/timeline?q=budget", "/documents/004_67b7388c9a981ec9",
                                  "/api/search?q=budget", "/api/browse?q=budget", "/api/answer?q=budget",
                                  "/api/timeline?q=budget", "/api/documents/004_67b7388c9a981ec9", "/healthz",
                                  "/api/export?q=budget&format=csv", "/export?q=budget&format=md",
                                  "/static/style.css", "/openapi.json", "/docs"])
def test_head_is_answered_on_every_get_route(client: TestClient, path: str) -> None:
    get, head = client.get(path), client.head(path)
    assert get.status_code == 200 and head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-security-policy", "x-content-type-options"):
        assert head.headers.get(name) == get.headers.get(name), name
    if "content-length" in get.headers and not path.startswith(("/api/export", "/export")):
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_of_a_missing_page_is_a_404_not_a_405(client: TestClient) -> None:
    assert client.head("/no/such/page").status_code == 404
    assert client.head("/api/documents/no-such-doc").status_code == 404


@pytest.mark.parametrize("path", ["/", "/?q=short+breaks", "/?q=budget+savings&sort=newest&page=2",
                                  "/timeline?q=budget", "/documents/004_67b7388c9a981ec9?passage=1&q=funding",
                                  "/no/such/page"])
def test_rendered_pages_need_nothing_the_policy_forbids(client: TestClient, path: str) -> None:
    """Inline style and script would be blocked by the CSP, silently: pages must not need them."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(client.get(path).text, "html.parser")
    assert not soup.find_all("style")
    assert not [tag.name for tag in soup.find_all(True) if tag.has_attr("style")]
    for script in soup.find_all("script"):
        assert script.get("src", "").startswith("/static/") and not (script.string or "").strip()
    assert not [tag.name for tag in soup.find_all(True) if any(a.lower().startswith("on") for a in tag.attrs)]


@pytest.mark.parametrize("path", ["/api/boom", "/boom"])
def test_an_unexpected_500_carries_the_headers_and_the_one_shape(seed_index_dir: Path, embedder: HashingEmbedder,
                                                                   path: str) -> None:
    from minutes.web.app import build_app
    from minutes.web.asgi import wrap

    settings = WebSettings(index_dir=seed_index_dir, model="hashing")
    app = build_app(settings, embedder=embedder)

    @app.get(path)
    def boom() -> None:
        raise ZeroDivisionError("a bug")

    with TestClient(wrap(app, settings), raise_server_exceptions=False) as broken:
        response = broken.get(path)
    assert response.status_code == 500
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-frame-options"] == "DENY"
    assert "a bug" not in response.text and "Traceback" not in response.text
    if path.startswith("/api/"):
        assert response.json() == {"ok": False, "status": 500,
                                   "error": "internal error; the server log has the details"}
