"""A recorded ModernGov site on 127.0.0.1 for the importer tests.

Serves tests/fixtures/moderngov/ as a ModernGov install would: the web service
(`mgWebService.asmx/...`), the meeting page (`ieListDocuments.aspx`) and documents
(`documents/s<id>/<title>.pdf`, generated PDFs). Some URLs misbehave on purpose: a 500,
a time-out, malformed XML, a 404. Responses carry an ETag and answer If-None-Match with
304. Every request is logged (path, query, headers) so tests can check politeness.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from tests.pdfmaker import make_pdf

FIXTURES = Path(__file__).parent / "fixtures" / "moderngov"
SLOW = 3.0  # seconds a "timing out" URL takes to answer; clients in tests time out at 0.5 s

REPORT_PAGES = [
    ["Short Breaks Recommissioning", "Report by the Corporate Director of Children, Young People and Education",
     "1. Introduction", "This report sets out the case for recommissioning short breaks."],
    ["2. Overnight respite", "The new framework adds overnight respite capacity in Ashford and Thanet,",
     "reducing the waiting list for families of disabled children from 140 to 60."],
]
DOCUMENTS = {
    "s128747": REPORT_PAGES,
    "s128700": [["Minutes of the meeting held on 9 January 2025", "RESOLVED that the budget be noted."]],
    "s130001": [["KMWLP - County Council Report", "The plan safeguards sharp sand and gravel deposits."],
                ["Appendix: the Inspector found the plan sound subject to main modifications."]],
    "g7101": [["KENT COUNTY COUNCIL", "MINUTES of a meeting of the County Council held on 13 March 2025.",
               *[f"{n}. The Council considered the report on item {n} and agreed the recommendations set out in "
                 "it, after a debate on the budget, the capital programme and the treasury strategy." for n in
                 range(1, 6)]],
              ["Members thanked the Wombatclerk for the printed minutes."]],
    "g7001": [["KENT COUNTY COUNCIL", "CABINET", "MINUTES of a meeting of the Cabinet held on 30 January 2025.",
               "The Cabinet noted the Kookaburraledger of savings."]],
    "g4967": [["MANCHESTER CITY COUNCIL", "MINUTES of the Audit Committee held on 10 February 2025."]],
    "c60860": [["Minutes of the Audit Committee held on 25 November 2024",
                "The Committee reviewed the Numbatledger of outstanding audit actions."]],
    "c60870": [["Internal Audit Progress Report Q3 2024-25", "Fourteen audits are complete."],
               ["Counter fraud: the blue badge investigation closed with two prosecutions."]],
    "s128748": [["Exempt pricing schedule Zanzibarcontract unit rates"]],
    "s128790": [["Zanzibarcontract tender evaluation scores"]],
}


@dataclass
class Logged:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0


@dataclass
class Site:
    url: str
    log: list[Logged] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # path fragments answered with HTTP 500 (a test sets them)

    def requests_to(self, fragment: str) -> list[Logged]:
        return [r for r in self.log if fragment in r.path + "?" + "&".join(f"{k}={v[0]}" for k, v in r.query.items())]


def _route(path: str, query: dict[str, list[str]], host: str) -> tuple[int, bytes, str] | None:
    def fixture(name: str) -> tuple[int, bytes, str]:
        return 200, (FIXTURES / name).read_text().replace("http://HOST", f"http://{host}").encode(), "text/xml"

    arg = {k.lower(): v[0] for k, v in query.items()}
    if path == "/mgWebService.asmx/GetCommittees":
        return fixture("GetCommittees.xml")
    if path == "/mgWebService.asmx/GetMeetings":
        name = f"GetMeetings-{arg.get('lcommitteeid')}.xml"
        if (FIXTURES / name).exists():
            return fixture(name)
        return 200, (b'<?xml version="1.0" encoding="utf-8"?>\n<getmeetings>\n  <meetingscount> 0</meetingscount>\n'
                     b'  <committeescount> 0</committeescount>\n</getmeetings>\n'), "text/xml"
    if path == "/mgWebService.asmx/GetMeeting":
        meeting = arg.get("lmeetingid")
        if meeting == "7101":
            return 500, b"<html><body><h1>Server Error in '/' Application.</h1></body></html>", "text/html"
        if meeting == "7102":
            time.sleep(SLOW)
            return 200, b"<meeting/>", "text/xml"
        return fixture(f"GetMeeting-{meeting}.xml")
    if path == "/ieListDocuments.aspx":
        cid, mid = arg.get("cid"), arg.get("mid")
        if mid == "7102":
            time.sleep(SLOW)
        name = f"ieListDocuments-{cid}-{mid}.html"
        if (FIXTURES / name).exists():
            return 200, (FIXTURES / name).read_bytes(), "text/html; charset=utf-8"
        return 404, b"<h1>Not found</h1>", "text/html"
    if path == "/mgConvert2PDF.aspx" and f"c{arg.get('id')}" in DOCUMENTS:  # a paper converted on request
        return 200, make_pdf(DOCUMENTS[f"c{arg.get('id')}"]), "application/pdf"  # type: ignore[arg-type]
    if path.startswith("/documents/"):
        key = path.split("/")[2]
        if "frontsheet" in path.lower():
            return 200, make_pdf([["Agenda frontsheet", f"Meeting {key[1:]}: items for decision."]]), "application/pdf"
        if key in DOCUMENTS:
            return 200, make_pdf(DOCUMENTS[key]), "application/pdf"  # type: ignore[arg-type]
    return None


@contextmanager
def serve() -> Iterator[Site]:
    site = Site(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            parsed = urlparse(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            entry = Logged(unquote(parsed.path), parse_qs(parsed.query), headers)
            site.log.append(entry)
            broken = any(part in self.path for part in site.broken)
            routed = (500, b"<h1>Server Error</h1>", "text/html") if broken else \
                _route(entry.path, entry.query, self.headers.get("Host", ""))
            status, body, kind = routed or (404, b"<h1>Not found</h1>", "text/html")
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
            entry.status = status
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if status in (200, 304):
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
