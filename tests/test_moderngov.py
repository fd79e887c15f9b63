"""ModernGov: parsing recorded responses, the polite client, and `minutes import moderngov`
end to end against a recorded site on loopback (tests/moderngov_server.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

import pytest
from click.testing import CliRunner

from minutes.records import Filters
from minutes.sources.moderngov.client import Client, FetchError
from minutes.sources.moderngov.importer import Importer
from minutes.sources.moderngov.pages import (
    AgendaItem,
    Meeting,
    ModernGovFormatError,
    decode_field,
    parse_committees,
    parse_meeting,
    parse_meeting_page,
    parse_meetings,
)
from minutes.storage.sqlite_faiss import SqliteFaissReader
from tests.moderngov_server import FIXTURES, serve

BASE = "https://democracy.example.gov.uk"


def _meeting_7001() -> Meeting:
    stub = parse_meetings((FIXTURES / "GetMeetings-130.xml").read_bytes())[0]
    return parse_meeting((FIXTURES / "GetMeeting-7001.xml").read_text().replace("http://HOST", BASE), BASE, stub)


def test_web_service_lists() -> None:
    committees = parse_committees((FIXTURES / "GetCommittees.xml").read_bytes())
    assert committees[:2] == [("130", "Cabinet"), ("175", "County Council")]
    meetings = parse_meetings((FIXTURES / "GetMeetings-130.xml").read_bytes())
    assert [(m.meeting_id, m.date, m.status, m.committee) for m in meetings] == [
        ("7001", "2025-01-30", "Confirmed", "Cabinet"), ("7002", "2025-02-13", "Cancelled", "Cabinet"),
        ("7003", "2025-02-27", "Confirmed", "Cabinet")]


def test_get_meeting_items_with_double_encoded_text() -> None:
    meeting = _meeting_7001()
    assert meeting.url == f"{BASE}/ieListDocuments.aspx?CId=130&MId=7001"
    items = {i.item_id: i for i in meeting.items}
    short_breaks = items["9004"]
    assert short_breaks.label() == "5. Short Breaks for Disabled Children & Young People"
    assert short_breaks.item_url == f"{BASE}/mgAi.aspx?ID=9004"
    # agendatext was escaped twice; minutes once, with entities inside the HTML
    assert short_breaks.description == ("To consider the recommissioning of short breaks for disabled children. "
                                        "Costs & savings are set out in the report.")
    assert "respite provision. Members asked about the waiting list for children's short breaks & the cost" \
        in short_breaks.minutes
    assert "• The framework would run for four years." in short_breaks.minutes
    assert short_breaks.decision == "RESOLVED that the recommissioning of short breaks services be approved."
    assert [(d.attachment_id, d.restricted) for d in short_breaks.documents] == [("128747", False), ("128748", True)]
    assert "Exempt pricing schedule" not in short_breaks.text()  # a restricted paper's title is not kept either
    assert items["9005"].restricted
    assert {i for i, item in items.items() if item.procedural} == {"9001", "9002", "9003", "9006"}
    for item in meeting.items:
        assert "&amp;" not in item.text() and "<p" not in item.text() and "&lt;" not in item.text()


@pytest.mark.parametrize(("title", "minutes", "procedural"), [
    ("Apologies for Absence", "Apologies were received from Mr A.", True),
    ("Apologies and Substitutes", "", True),
    ("Declarations of Interest by Members in items on the Agenda", "Mr B declared an interest.", True),
    ("Declaration of Disclosable Pecuniary Interests", "", True),
    ("Minutes of the Meeting held on 9th January 2025", "RESOLVED that the minutes be signed.", True),
    ("Minutes of the previous meeting", "", True),
    ("Minutes", "", True),
    ("Urgent Business", "", True),
    ("Any Other Urgent Business", "None.", True),
    ("Urgent Business", "The Leader reported the flood damage at Tonbridge and the £2m repair plan.", False),
    ("Exclusion of the Press and Public", "", True),
    ("Date of next meeting", "", True),
    ("Short Breaks for Disabled Children", "", False),
    ("Minutes of the Corporate Parenting Panel", "", False),
    ("Budget 2025-26", "", False),
])
def test_procedural_items(title: str, minutes: str, procedural: bool) -> None:
    assert AgendaItem(title=title, minutes=minutes).procedural is procedural


def test_meeting_page_fallback_parse() -> None:
    url = f"{BASE}/ieListDocuments.aspx?CId=175&MId=7101"
    meeting = parse_meeting_page((FIXTURES / "ieListDocuments-175-7101.html").read_text(), url)
    assert (meeting.committee, meeting.date, meeting.committee_id, meeting.meeting_id) == \
        ("County Council", "2025-03-13", "175", "7101")
    assert [(i.number, i.item_id, i.restricted, i.procedural) for i in meeting.items] == [
        ("1", "9101", False, True), ("4", "9104", False, False), ("9", "9109", True, False)]
    plan = meeting.items[1]
    assert plan.decision.startswith("RESOLVED that the Kent Minerals")
    assert [(d.title, d.url) for d in plan.documents] == [
        ("KMWLP - County Council Report", f"{BASE}/documents/s130001/KMWLP%20-%20County%20Council%20Report.pdf")]


@pytest.mark.parametrize(("xml", "message"), [
    ((FIXTURES / "GetMeeting-7003.xml").read_bytes(), "malformed XML in GetMeeting"),
    (b"", "malformed XML in GetMeeting"),
    (b"<html><body>Service Unavailable</body></html>", "no <meeting> element"),
])
def test_malformed_meeting_xml(xml: bytes, message: str) -> None:
    with pytest.raises(ModernGovFormatError, match=message):
        parse_meeting(xml, BASE, Meeting("1", "1", "C", None))


def test_decode_field_undoes_both_levels() -> None:
    assert decode_field("&lt;p&gt;Costs &amp;amp; savings&lt;/p&gt;") == "Costs & savings"
    assert decode_field("<p>Costs &amp; savings</p>") == "Costs & savings"
    assert decode_field("  \n ") == ""


def test_client_is_polite_retries_and_caches(tmp_path: Path) -> None:
    with serve() as site:
        client = Client(tmp_path / "cache", delay=0, timeout=0.3, retries=1, backoff=0.01)
        committees = f"{site.url}/mgWebService.asmx/GetCommittees"
        first = client.get(committees)
        second = client.get(committees)
        assert first.body == second.body and second.from_cache and client.stats.not_modified == 1
        logged = site.requests_to("GetCommittees")
        assert "Minutes/" in logged[0].headers["user-agent"]
        assert logged[1].headers.get("if-none-match") and logged[1].status == 304
        with pytest.raises(FetchError, match=r"HTTP 500 after 2 attempts"):
            client.get(f"{site.url}/mgWebService.asmx/GetMeeting?lMeetingId=7101")
        with pytest.raises(FetchError, match=r"timed out after 0.3s"):
            client.get(f"{site.url}/mgWebService.asmx/GetMeeting?lMeetingId=7102")
        with pytest.raises(FetchError, match="HTTP 404$"):
            client.get(f"{site.url}/nothing-here")
        assert len(site.requests_to("nothing-here")) == 1  # a 404 is not retried
        pdf = f"{site.url}/documents/s128747/Report.pdf"
        client.get(pdf)
        client.get(pdf)
        assert len(site.requests_to("s128747")) == 1  # published papers are fetched once
    offline = Client(tmp_path / "cache", offline=True)
    assert offline.get(committees).body == first.body
    with pytest.raises(FetchError, match="not in the local cache"):
        offline.get(f"{site.url}/mgWebService.asmx/GetMeetings?lCommitteeId=1")


def _import(site_url: str, index_dir: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    from minutes.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["--index-dir", str(index_dir), "import", "moderngov", site_url,
                                 "--council", "Testshire County Council", "--from", "2025-01-01", "--to", "2025-03",
                                 "--out", str(out), "--delay", "0", "--timeout", "0.3", "--retries", "1",
                                 "--backoff", "0.01", *extra],
                           env={"MINUTES_MODEL": "hashing"})
    return result.exit_code, result.stdout, result.stderr


def test_import_end_to_end(tmp_path: Path) -> None:
    from minutes.search.hybrid import open_searcher
    from minutes.web.schemas import HitOut

    index_dir, out = tmp_path / "index", tmp_path / "imports"
    with serve() as site:
        code, stdout, stderr = _import(site.url, index_dir, out)
        assert code == 0, stderr
        assert re.search(r"imported 3 meetings \(1 from their HTML page\), 10 items \(6 procedural\), 9 papers; "
                         r"3 restricted", stdout), stdout
        # the 500 fell back to the meeting page; the time-out and the malformed XML + 404 are reported
        assert "GetMeeting?lMeetingId=7102: timed out after 0.3s after 2 attempts; meeting page also failed" in stderr
        assert "GetMeeting?lMeetingId=7003: malformed XML" in stderr and "(HTTP 404); meeting skipped" in stderr
        assert not site.requests_to("s128748") and not site.requests_to("s128790")  # restricted papers not fetched
        assert not site.requests_to("GetMeeting?lMeetingId=7002")  # cancelled meeting

        # restricted items are nowhere: not in the folder, not in the index, not in the raw response cache
        assert list((index_dir / "http-cache").rglob("responses.sqlite"))  # hishel's cache
        for file in [*out.rglob("*"), *index_dir.rglob("*")]:
            if file.is_file():
                assert b"Zanzibarcontract" not in file.read_bytes() and b"Quokkaprivate" not in file.read_bytes()
        searcher = open_searcher(index_dir, "hashing")
        index = cast(SqliteFaissReader, searcher.index)
        rows = index.sql("SELECT count(*) FROM documents WHERE text LIKE '%Zanzibar%' OR text LIKE '%Quokkaprivate%'")
        assert rows[0][0] == 0
        assert not [h for h in searcher.search("Zanzibarcontract", 10, Filters(include_procedural=True)).hits
                    if "zanzibar" in h.passage.text.lower()]

        # an agenda item: council, committee, date, item, links to the item and the meeting
        hits = searcher.search("short breaks disabled children waiting list", 10, Filters()).hits
        item = next(h for h in hits if h.document.item == "5. Short Breaks for Disabled Children & Young People")
        assert (item.document.council, item.document.committee, item.document.date) == \
            ("Testshire County Council", "Cabinet", "2025-01-30")
        assert item.document.source_url == f"{site.url}/mgAi.aspx?ID=9004"
        assert item.document.see_also == (f"{site.url}/ieListDocuments.aspx?CId=130&MId=7001",)

        # its linked report: a PDF with page numbers, linked to the page
        hits = searcher.search("overnight respite waiting list families", 10, Filters(committee="Cabinet")).hits
        paged = [HitOut.from_hit(h).model_dump() for h in hits if h.passage.page == 2]
        assert paged and paged[0]["source_url"].endswith("Short%20Breaks%20Recommissioning%20-%20Report.pdf#page=2")
        assert paged[0]["item"] == "5. Short Breaks for Disabled Children & Young People"

        # a meeting read through the web service also gets its own papers from the meeting page
        hits = searcher.search("Kookaburraledger savings", 5, Filters(committee="Cabinet")).hits
        assert any("Kookaburraledger" in h.passage.text and h.document.date == "2025-01-30" for h in hits)

        # the meeting's own printed minutes, from the meeting page
        hits = searcher.search("Wombatclerk printed minutes", 5, Filters(committee="County Council")).hits
        minutes = next(h for h in hits if "Wombatclerk" in h.passage.text)
        assert minutes.passage.page == 2 and minutes.document.date == "2025-03-13"
        assert HitOut.from_hit(minutes).model_dump()["source_url"].endswith("County%20Council.pdf?T=1#page=2")

        # procedural items are kept but hidden unless asked for
        assert not [h for h in searcher.search("apologies received Mrs Bell", 10, Filters()).hits
                    if "Placeholderword" in h.passage.text]
        shown = searcher.search("apologies received Mrs Bell Placeholderword", 10, Filters(include_procedural=True))
        assert any("Placeholderword" in h.passage.text for h in shown.hits)

        # from the HTML fallback: the decision, with its own item URL
        hits = searcher.search("minerals waste local plan adopted", 5, Filters(committee="County Council")).hits
        assert hits and hits[0].document.source_url == f"{site.url}/mgAi.aspx?ID=9104"

        # re-running the unchanged import writes nothing, embeds nothing, refetches no paper
        papers_before = len(site.requests_to("/documents/"))
        code, stdout, stderr = _import(site.url, index_dir, out)
        assert code == 0, stderr
        assert "0 files written, 0 removed" in stdout
        assert re.search(r"\(0 embedded, \d+ reused\)", stdout), stdout
        assert len(site.requests_to("/documents/")) == papers_before
        assert all(r.headers.get("if-none-match") for r in site.requests_to("GetMeeting?lMeetingId=7001")[1:])

    # and with no network at all, from the local cache of raw responses
    code, stdout, stderr = _import("http://" + site.url.split("//")[1], index_dir, out, "--offline")
    assert code == 0, stderr
    assert "0 files written" in stdout and "(0 embedded" in stdout


def test_importer_removes_items_that_became_restricted(tmp_path: Path) -> None:
    with serve() as site:
        client = Client(tmp_path / "cache", delay=0, timeout=0.3, retries=0)
        importer = Importer(site.url, tmp_path / "out", client)
        meeting = parse_meeting((FIXTURES / "GetMeeting-7001.xml").read_text().replace("http://HOST", site.url),
                                site.url, Meeting("7001", "130", "Cabinet", "2025-01-30"))
        importer.write_meeting(meeting)
        item_file = next((tmp_path / "out").rglob("item-5-9004.md"))
        meeting.items[3].restricted = True  # the council marks it exempt after the first import
        importer.write_meeting(meeting)
        assert not item_file.exists()
        assert not list((tmp_path / "out").rglob("128747-*.pdf"))  # nor its paper
        assert Importer(site.url, tmp_path / "out", client).choose([("1", "Cabinet")], ["Planning"]) == []


def test_everything_failing_exits_non_zero(tmp_path: Path) -> None:
    code, _stdout, stderr = _import("http://127.0.0.1:9", tmp_path / "index", tmp_path / "out", "--retries", "0")
    assert code == 1
    assert "connection failed" in stderr and "Error: nothing could be imported" in stderr


def test_committees_are_chosen_by_id_or_name(tmp_path: Path) -> None:
    importer = Importer(BASE, tmp_path / "out", Client(tmp_path / "cache", offline=True))
    committees = [("130", "Cabinet"), ("175", "County Council"), ("200", "Planning Committee")]
    assert importer.choose(committees, []) == committees
    assert importer.choose(committees, ["175", "cabinet", "Cabinet"]) == [("175", "County Council"), ("130", "Cabinet")]
    assert importer.choose(committees, ["Planning"]) == []
    assert "no committee has this id or name; known: Cabinet (130), County Council (175)" in \
        importer.report.problems[-1].reason
