"""A hostile ModernGov "site" on 127.0.0.1 for the importer hardening tests (issue 17).

Each test gives the XML of its one meeting and a table of extra paths; a path maps to a
handler that writes whatever it likes to the socket (a gzip bomb, a slow drip, a redirect
loop, a body that never ends). Every request is logged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse
from xml.sax.saxutils import escape

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Site:
    url: str
    routes: dict[str, Handler]
    log: list[str] = field(default_factory=list)

    def requested(self, fragment: str) -> list[str]:
        return [path for path in self.log if fragment in path]


def send(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200, kind: str = "text/xml",
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if "Content-Length" not in (headers or {}):
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def fixed(body: bytes, status: int = 200, kind: str = "text/xml", headers: dict[str, str] | None = None) -> Handler:
    return lambda handler: send(handler, body, status, kind, headers)


def committees_xml() -> bytes:
    return (b'<?xml version="1.0" encoding="utf-8"?><committees><committee><committeeid>1</committeeid>'
            b"<committeetitle>Cabinet</committeetitle><committeedeleted>False</committeedeleted></committee>"
            b"</committees>")


def meetings_xml(*meeting_ids: str) -> bytes:
    meetings = "".join(f"<meeting><meetingid>{escape(m)}</meetingid><meetingdate>10/01/2025</meetingdate>"
                       "<meetingstatus>Confirmed</meetingstatus></meeting>" for m in meeting_ids)
    return (f'<?xml version="1.0" encoding="utf-8"?><getmeetings><committee><committeeid>1</committeeid>'
            f"<committeetitle>Cabinet</committeetitle><committeemeetings>{meetings}</committeemeetings>"
            f"</committee></getmeetings>").encode()


def doc_xml(url: str, attachment: str = "501", title: str = "Report", restricted: str = "False") -> str:
    return (f"<linkeddoc><attachmentid>{escape(attachment)}</attachmentid><title>{escape(title)}</title>"
            f"<url>{escape(url)}</url><isrestricted>{escape(restricted)}</isrestricted></linkeddoc>")


def item_xml(item_id: str = "900", docs: str = "", minutes: str = "", title: str = "Library opening hours",
             restricted: str = "False") -> str:
    minutes = minutes or "&lt;p&gt;The committee agreed the new library opening hours.&lt;/p&gt;"
    return (f"<agendaitem><agendaitemid>{escape(item_id)}</agendaitemid>"
            f"<agendaitemtitle>{escape(title)}</agendaitemtitle><fulldisplaynumberformat>4.</fulldisplaynumberformat>"
            f"<minutesnonemptyhtmlbody>{minutes}</minutesnonemptyhtmlbody>"
            f"<isrestricted>{escape(restricted)}</isrestricted><linkeddocuments>{docs}</linkeddocuments></agendaitem>")


def meeting_xml(meeting_id: str = "100", items: str | None = None) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><meeting><meetingid>{escape(meeting_id)}</meetingid>'
            f"<meetingdate>10/01/2025</meetingdate><agendaitems>{item_xml() if items is None else items}"
            f"</agendaitems></meeting>").encode()


def meeting_page(links: str = "") -> bytes:
    return (f"<html><body><h2 class='mgSubTitleTxt'>Cabinet - Friday, 10th January, 2025 10.00 am</h2>{links}"
            "<table id='mgItemTable'></table></body></html>").encode()


@contextmanager
def serve(routes: dict[str, Handler] | None = None) -> Iterator[Site]:
    """A site on a free loopback port; `routes` maps a path (and query) to its handler."""
    site = Site(url="", routes=dict(routes or {}))

    class Handle(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            site.log.append(self.path)
            parsed = urlparse(self.path)
            route = site.routes.get(self.path) or site.routes.get(parsed.path)
            if route is None:
                route = fixed(b"<h1>Not found</h1>", 404, "text/html")
            with suppress(BrokenPipeError, ConnectionResetError):
                route(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    server.daemon_threads = True
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def moderngov(site: Site, meeting: bytes, meeting_ids: tuple[str, ...] = ("100",), page: bytes | None = None) -> None:
    """The web service routes of a one-committee site whose meetings all answer `meeting`."""
    site.routes["/mgWebService.asmx/GetCommittees"] = fixed(committees_xml())
    site.routes["/mgWebService.asmx/GetMeetings"] = fixed(meetings_xml(*meeting_ids))
    site.routes["/mgWebService.asmx/GetMeeting"] = fixed(meeting)
    site.routes["/ieListDocuments.aspx"] = fixed(page or meeting_page(), kind="text/html")


def by_meeting(answers: dict[str, Handler]) -> Handler:
    """GetMeeting answered per `lMeetingId`."""
    from urllib.parse import parse_qs

    def route(handler: BaseHTTPRequestHandler) -> None:
        meeting = parse_qs(urlparse(handler.path).query).get("lMeetingId", [""])[0]
        (answers.get(meeting) or fixed(b"<h1>Not found</h1>", 404, "text/html"))(handler)

    return route
