"""A hostile council site must not touch the machine (issue 17): `minutes import moderngov`
against crafted sites on loopback (tests/hostile_site.py). Paths stay under --out, clean-up
deletes only what the importer wrote, every response is capped (bytes decoded, whole-request
deadline, redirects), fetches stay on the site's host, one bad meeting or paper is reported and
skipped, restricted means restricted wherever a paper is linked from, and a full disk leaves no
temporary file behind.
"""

from __future__ import annotations

import errno
import gzip
import os
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.hostile_site import (
    by_meeting,
    doc_xml,
    fixed,
    item_xml,
    meeting_page,
    meeting_xml,
    moderngov,
    serve,
)
from tests.pdfmaker import make_pdf


def run_import(site_url: str, tmp: Path, *extra: str, index: bool = False) -> tuple[int, str, str]:
    from minutes.cli import cli

    args = ["--index-dir", str(tmp / "index"), "import", "moderngov", site_url, "--council", "Testshire Council",
            "--from", "2025-01-01", "--to", "2025-02-01", "--out", str(tmp / "imports" / "site"), "--delay", "0",
            "--timeout", "2", "--retries", "0", "--backoff", "0.01", *extra]
    if not index:
        args.append("--no-index")
    result = CliRunner().invoke(cli, args, env={"MINUTES_MODEL": "hashing"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def pdf_route(*lines: str) -> Callable[[BaseHTTPRequestHandler], None]:
    return fixed(make_pdf([list(lines)]), kind="application/pdf")


# ---------------------------------------------------------------- 1, 2: paths stay under --out


def test_a_meeting_id_cannot_reach_outside_out(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    for name in ("keep.txt", ".dotfile", "sub/nested.txt"):
        (victim / name).write_text("the user's own file\n")
    before = files_under(victim)
    hostile = "100/../../../../victim"
    with serve() as site:
        moderngov(site, b"", meeting_ids=(hostile, "200"))
        site.routes["/mgWebService.asmx/GetMeeting"] = by_meeting(
            {hostile: fixed(meeting_xml(hostile)), "200": fixed(meeting_xml("200"))})
        code, stdout, stderr = run_import(site.url, tmp_path)
    assert code == 0, stderr
    assert files_under(victim) == before  # nothing deleted, nothing written
    assert "meeting id '100/../../../../victim' is not a plain id" in stderr and "meeting skipped" in stderr
    assert "imported 1 meetings" in stdout and "0 removed" in stdout
    assert (tmp_path / "imports" / "site" / "cabinet" / "2025-01-10-m200" / "item-4-900.md").is_file()


def test_item_and_attachment_ids_cannot_write_outside_out(tmp_path: Path) -> None:
    items = (item_xml("../../../../escaped-item", title="Traversal item")
             + item_xml("901", docs=doc_xml("documents/s501/Report.pdf", attachment="../../../../escaped-doc")))
    with serve() as site:
        moderngov(site, meeting_xml("100", items))
        site.routes["/documents/s501/Report.pdf"] = pdf_route("Report on library opening hours.")
        code, _stdout, stderr = run_import(site.url, tmp_path)
    assert code == 0, stderr
    outside = [p for p in tmp_path.rglob("*") if "escaped" in p.name]
    assert outside == []
    assert "agenda item id '../../../../escaped-item' is not a plain id" in stderr and "item skipped" in stderr
    meeting = tmp_path / "imports" / "site" / "cabinet" / "2025-01-10-m100"
    assert sorted(files_under(meeting)) == [".minutes-import.json", "documents/metadata.json",
                                            "documents/s501-report.pdf", "item-4-901.md"]


def test_clean_up_deletes_only_files_the_importer_wrote(tmp_path: Path) -> None:
    meeting = tmp_path / "imports" / "site" / "cabinet" / "2025-01-10-m100"
    with serve() as site:
        moderngov(site, meeting_xml("100", item_xml("900") + item_xml("901", title="Parks")))
        assert run_import(site.url, tmp_path)[0] == 0
        assert (meeting / "item-4-901.md").is_file()
        (meeting / "my-notes.md").write_text("the user's notes\n")
        (meeting / ".hidden").write_text("x\n")
        (meeting / "sub").mkdir()
        (meeting / "sub" / "kept.txt").write_text("x\n")
        site.routes["/mgWebService.asmx/GetMeeting"] = fixed(meeting_xml("100", item_xml("900")))  # 901 is gone
        code, stdout, stderr = run_import(site.url, tmp_path)
    assert code == 0, stderr
    assert "1 removed" in stdout
    assert not (meeting / "item-4-901.md").exists()
    assert all((meeting / name).is_file() for name in ("my-notes.md", ".hidden", "sub/kept.txt", "item-4-900.md"))


# ---------------------------------------------------------------- 3: size caps


def test_a_gzip_bomb_stops_at_the_cap_and_is_never_cached(tmp_path: Path) -> None:
    padding = b" " * (24 << 20)  # 24 MiB of XML whitespace gzips to about 25 KB
    bomb = gzip.compress(meeting_xml("100").replace(b"<agendaitems>", b"<agendaitems>" + padding), 6)
    assert len(bomb) < 100_000
    with serve() as site:
        moderngov(site, b"")
        site.routes["/mgWebService.asmx/GetMeeting"] = fixed(bomb, headers={"Content-Encoding": "gzip"})
        code, _stdout, stderr = run_import(site.url, tmp_path, "--max-size", "1")
    assert "GetMeeting?lMeetingId=100: response is over the 1,048,576-byte cap (decoded)" in stderr
    cache = sum(p.stat().st_size for p in (tmp_path / "index" / "http-cache").rglob("*") if p.is_file())
    assert cache < 1 << 20, cache


def _endless(sent: list[int]) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/pdf")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"%PDF-1.4 " + b"0" * 65_527
        for _ in range(400):  # 25 MiB unless the client hangs up first
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent[0] += len(chunk)
        handler.wfile.write(b"0\r\n\r\n")
    return route


def test_an_endless_paper_stops_at_the_cap(tmp_path: Path) -> None:
    sent = [0]
    with serve() as site:
        moderngov(site, meeting_xml("100", item_xml("900", docs=doc_xml("documents/s501/Huge.pdf"))))
        site.routes["/documents/s501/Huge.pdf"] = _endless(sent)
        code, _stdout, stderr = run_import(site.url, tmp_path, "--max-size", "2")
    assert code == 0, stderr
    assert "Huge.pdf: response is over the 2,097,152-byte cap" in stderr and "not imported" in stderr
    assert sent[0] < 20 << 20  # the client hung up
    assert not list((tmp_path / "imports").rglob("*.pdf"))
    assert max(p.stat().st_size for p in (tmp_path / "index").rglob("*") if p.is_file()) < 2 << 20


def test_a_paper_is_stored_once_and_never_fetched_again(tmp_path: Path) -> None:
    with serve() as site:
        moderngov(site, meeting_xml("100", item_xml("900", docs=doc_xml("documents/s501/Report.pdf"))))
        site.routes["/documents/s501/Report.pdf"] = pdf_route("Report text with Oncetoken.")
        assert run_import(site.url, tmp_path)[0] == 0
        code, stdout, stderr = run_import(site.url, tmp_path)
        assert code == 0, stderr
        assert len(site.requested("Report.pdf")) == 1 and "0 files written, 0 removed" in stdout
    holders = [name for name, data in files_under(tmp_path).items() if b"Oncetoken" in data]
    assert holders == ["imports/site/cabinet/2025-01-10-m100/documents/501-report.pdf"]  # not in http-cache
    code, stdout, stderr = run_import(site.url, tmp_path, "--offline")  # the site is gone: the folder answers
    assert code == 0 and "1 papers" in stdout and "0 files written, 0 removed" in stdout, stderr


# ---------------------------------------------------------------- 4: no fetches off the site's host


def test_papers_never_come_from_another_host_or_port(tmp_path: Path) -> None:
    with serve() as other:
        other.routes["/documents/s9/Secret.pdf"] = pdf_route("Internal token Ssrftoken on another port.")
        docs = (doc_xml(f"{other.url}/documents/s9/Secret.pdf", attachment="9")
                + doc_xml("documents/s10/Moved.pdf", attachment="10"))
        with serve() as site:
            moderngov(site, meeting_xml("100", item_xml("900", docs=docs)))
            site.routes["/documents/s10/Moved.pdf"] = fixed(b"", 302, headers={
                "Location": f"{other.url}/documents/s9/Secret.pdf"})
            code, _stdout, stderr = run_import(site.url, tmp_path)
            assert code == 0, stderr
            assert other.log == []  # neither the link nor the redirect reached it
            assert site.requested("/documents/s9/Secret.pdf")  # the link was fetched from the site's own host
            assert f"{other.url.split('//')[1]} is not the site's host" in stderr  # the redirect was refused
            assert not [f for f in files_under(tmp_path).values() if b"Ssrftoken" in f]

            # a council's own document host can be allowed by name
            code, _stdout, stderr = run_import(site.url, tmp_path, "--allow-host", other.url.split("//")[1])
            assert code == 0, stderr
            assert other.requested("/documents/s9/Secret.pdf")


# ---------------------------------------------------------------- 5: one bad response never ends the run


def _drip(body: bytes, pause: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(pause)
    return route


def test_bad_responses_are_reported_and_skipped(tmp_path: Path) -> None:
    deep = "&lt;div&gt;" * 5000 + "Deepword" + "&lt;/div&gt;" * 5000
    answers = {
        "101": fixed(meeting_xml("101", item_xml("911", docs=doc_xml("documents/s1/Loop.pdf", "1")))),
        "102": fixed(meeting_xml("102", item_xml("912", docs=doc_xml("documents/s2/Corrupt.pdf", "2")))),
        "103": fixed(meeting_xml("103", item_xml("913", docs=doc_xml("documents/s3/Bad\x7fname.pdf", "3")))),
        "104\x7f": fixed(meeting_xml("104\x7f")),
        "105": fixed(meeting_xml("105", item_xml("915", minutes=deep))),
        "106": _drip(meeting_xml("106", item_xml("916", title="Dripword")), 0.02),  # ~8 s at a byte per 20 ms
        "200": fixed(meeting_xml("200", item_xml("920", title="Good item"))),
    }
    with serve() as site:
        moderngov(site, b"", meeting_ids=tuple(answers))
        site.routes["/mgWebService.asmx/GetMeeting"] = by_meeting(answers)
        site.routes["/documents/s1/Loop.pdf"] = fixed(b"", 302, headers={"Location": "/documents/s1/Loop.pdf"})
        site.routes["/documents/s2/Corrupt.pdf"] = fixed(b"\x1f\x8b\x08\x00garbage", kind="application/pdf",
                                                         headers={"Content-Encoding": "gzip"})
        code, stdout, stderr = run_import(site.url, tmp_path, "--timeout", "1")
    assert code == 0, stderr
    assert "Loop.pdf: more than 5 redirects (a redirect loop?)" in stderr
    assert "Corrupt.pdf: the body could not be decoded" in stderr
    assert "not a valid URL" in stderr and "Bad\x7fname.pdf" not in stdout
    assert "meeting id '104\\x7f' is not a plain id" in stderr
    assert "RecursionError" in stderr and "meeting skipped" in stderr
    assert "GetMeeting?lMeetingId=106: timed out after 1s" in stderr
    meetings = {p.name for p in (tmp_path / "imports" / "site" / "cabinet").iterdir()}
    assert "2025-01-10-m200" in meetings and "2025-01-10-m101" in meetings  # the rest went on


# ---------------------------------------------------------------- 7: restricted wherever linked


def test_restricted_papers_stay_out_wherever_they_are_linked(tmp_path: Path) -> None:
    docs = (doc_xml("documents/g100/Exempt%20appendix.pdf", "71", "Exempt appendix", restricted="True")
            + doc_xml("documents/s72/Odd.pdf", "72", "Odd flag", restricted="Restricted")
            + doc_xml("documents/s73/Public.pdf", "73", "Public report"))
    page = meeting_page("<a href='documents/g100/Exempt%20appendix.pdf'>Exempt appendix</a>"
                        "<a href='/documents/g100/Printed%20minutes.pdf'>Printed minutes</a>")
    with serve() as site:
        moderngov(site, meeting_xml("100", item_xml("900", docs=docs)), page=page)
        site.routes["/documents/g100/Exempt appendix.pdf"] = pdf_route("Exempt Quokkasecret pricing.")
        site.routes["/documents/s72/Odd.pdf"] = pdf_route("Odd Quokkasecret flag.")
        site.routes["/documents/s73/Public.pdf"] = pdf_route("Public report on libraries.")
        site.routes["/documents/g100/Printed minutes.pdf"] = pdf_route("Printed minutes of the meeting.")
        code, stdout, stderr = run_import(site.url, tmp_path)
        assert code == 0, stderr
        assert not site.requested("Exempt") and not site.requested("Odd.pdf")
        assert site.requested("Public.pdf") and site.requested("Printed%20minutes.pdf")
    assert "3 restricted" in stdout  # two papers in GetMeeting and the same one again on the meeting page
    assert not [f for f in files_under(tmp_path).values() if b"Quokkasecret" in f]


# ---------------------------------------------------------------- 7: a paper's front matter is not trusted


def test_a_downloaded_text_paper_cannot_take_another_documents_identity(tmp_path: Path) -> None:
    from minutes.records import Filters
    from minutes.search.hybrid import open_searcher

    with serve() as site:
        item_id = "moderngov/testshire-council/100/900"  # items are keyed by council and ModernGov ids
        paper = (f"---\ndocument_id: {item_id}\ncouncil: Evil Council\nsource_url: http://evil.example/\n"
                 "title: Official minutes\n---\nThe hostile paper mentions Evilword.\n").encode()
        moderngov(site, meeting_xml("100", item_xml("900", docs=doc_xml("documents/s77/Notes.txt", "77"))))
        site.routes["/documents/s77/Notes.txt"] = fixed(paper, kind="text/plain")
        code, _stdout, stderr = run_import(site.url, tmp_path, index=True)
        assert code == 0, stderr
    searcher = open_searcher(tmp_path / "index", "hashing")
    hits = searcher.search("Evilword hostile paper", 5, Filters(include_procedural=True)).hits
    paper_hit = next(h for h in hits if "Evilword" in h.passage.text)
    assert paper_hit.document.document_id != item_id and paper_hit.document.document_id.endswith("77-notes")
    assert paper_hit.document.council == "Testshire Council"
    assert paper_hit.document.source_url == f"{site.url}/documents/s77/Notes.txt"
    item = searcher.search("library opening hours agreed", 5, Filters(include_procedural=True)).hits
    assert any(h.document.document_id == item_id and "opening hours" in h.passage.text for h in item)


# ---------------------------------------------------------------- 8: a full disk leaves nothing half-written


def test_a_full_disk_leaves_no_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:  # type: ignore[override]
        if self.name.endswith(".pdf.tmp"):
            real_write(self, data[: len(data) // 2])  # half of it, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    with serve() as site:
        moderngov(site, meeting_xml("100", item_xml("900", docs=doc_xml("documents/s501/Report.pdf"))))
        site.routes["/documents/s501/Report.pdf"] = pdf_route("Report on library opening hours.")
        code, _stdout, stderr = run_import(site.url, tmp_path)
    assert code == 0, stderr
    assert "cannot write 501-report.pdf (No space left on device)" in stderr
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert (tmp_path / "imports" / "site" / "cabinet" / "2025-01-10-m100" / "item-4-900.md").is_file()



# ---------------------------------------------------------------- retries (tenacity): backoff and Retry-After


def test_retries_back_off_and_honour_retry_after(tmp_path: Path) -> None:
    from minutes.sources.moderngov.client import Client, FetchError

    answers = iter([fixed(b"busy", 503, "text/plain", {"Retry-After": "7"}), fixed(b"busy", 500, "text/plain"),
                    fixed(b"<ok/>")])
    with serve() as site:
        site.routes["/flaky"] = lambda handler: next(answers)(handler)
        site.routes["/down"] = fixed(b"down", 503, "text/plain")
        site.routes["/gone"] = fixed(b"gone", 404, "text/plain")
        client = Client(tmp_path / "cache", delay=0, retries=3, backoff=0.25)
        waits: list[float] = []
        client.sleep = waits.append
        assert client.get(f"{site.url}/flaky").body == b"<ok/>"
        assert waits == [7.0, 0.5] and client.stats.retries == 2  # Retry-After, then 0.25 * 2 ** 1
        waits.clear()
        with pytest.raises(FetchError, match="HTTP 503 after 4 attempts"):
            client.get(f"{site.url}/down")
        assert waits == [0.25, 0.5, 1.0]
        with pytest.raises(FetchError, match="HTTP 404$"):
            client.get(f"{site.url}/gone")
        assert len(site.requested("/gone")) == 1
