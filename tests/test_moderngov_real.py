"""ModernGov as real councils' sites send it (issue 15), on the recorded loopback site.

The Audit Committee fixtures (GetMeeting-4967.xml, ieListDocuments-144-4967.html) follow a
real GetMeeting response and meeting page (Manchester's Audit Committee as DemocracyClub's
LGSF records it): an item titled "Minutes", minute numbers like "12/25", a section heading
numbered 0, a title escaped twice, paper titles with doubled spaces and papers served by
mgConvert2PDF.aspx, `span.mgHide` and "Share this item" in the page. The decision pages
follow LGSF's recorded Kirklees `ieDecisionDetails.aspx` and `mgDelegatedDecisions.aspx`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from minutes.chunk import chunk_document
from minutes.ingest import Problem, load_documents
from minutes.records import Document, Filters
from minutes.search.hybrid import open_searcher
from minutes.sources.moderngov.pages import _date_from_heading, parse_committees, parse_meeting_page
from tests.moderngov_server import FIXTURES, serve
from tests.test_moderngov import _import

BASE = "https://democracy.example.gov.uk"


def _front_matter(path: Path) -> dict[str, object]:
    return yaml.safe_load(path.read_text().split("---\n")[1])


def test_expired_committees_are_skipped() -> None:
    committees = parse_committees((FIXTURES / "GetCommittees.xml").read_bytes())
    assert ("312", "Appointment Sub Committee for Director of Adult Social Services") not in committees
    assert [c for c, _ in committees] == ["130", "175", "144"]


def test_meeting_headings_as_sites_write_them() -> None:
    assert _date_from_heading("Cabinet - Wednesday, 21st October, 2020 9.30 am") == ("Cabinet", "2020-10-21", "9.30 am")
    assert _date_from_heading("County Council - Thursday, 13th March, 2025 10.00 am")[1] == "2025-03-13"


def test_meeting_page_as_a_real_site_writes_it() -> None:
    url = f"{BASE}/ieListDocuments.aspx?CId=144&MId=4967"
    meeting = parse_meeting_page((FIXTURES / "ieListDocuments-144-4967.html").read_text(), url)
    assert (meeting.committee, meeting.date, meeting.time, meeting.venue) == \
        ("Audit Committee", "2025-02-10", "10.00 am", "Council Antechamber, Level 2, Town Hall Extension")
    # the section heading row is not an item; minute numbers are kept as the site writes them
    assert [(i.number, i.item_id, i.label()) for i in meeting.items] == [
        ("12/25", "18831", "12/25 Minutes"),
        ("13/25", "18832", "13/25 Internal Audit Progress Report & Counter Fraud Update"),
        ("14/25", "18833", "14/25 Work Programme")]
    both = meeting.items[1]
    assert both.decision.startswith("RESOLVED that the progress report") and "Bilbyfraud" in both.minutes
    assert [d.title for d in both.documents] == ["Internal Audit Progress Report Q3 2024-25"]
    for item in meeting.items:  # hidden text and action links are not the item's text
        assert "for item" not in item.text() and "Share this item" not in item.text()
        assert "View the decision" not in item.text()


def test_import_of_a_real_format_meeting(tmp_path: Path) -> None:
    index_dir, out = tmp_path / "index", tmp_path / "imports"
    with serve() as site:
        code, stdout, stderr = _import(site.url, index_dir, out)
        assert code == 0, stderr
        assert not site.requests_to("lCommitteeId=312")  # an expired committee costs no request
        folder = out / "audit-committee" / "2025-02-10-m4967"
        items = sorted(p.name for p in folder.glob("item-*.md"))
        assert items == ["item-12-25-18831.md", "item-13-25-18832.md", "item-14-25-18833.md"]  # no heading item
        meta = _front_matter(folder / "item-12-25-18831.md")
        # keyed by council and ModernGov ids: not by the host name or port the site was reached by
        assert meta["document_id"] == "moderngov/testshire-county-council/4967/18831"
        assert (meta["item"], meta["meeting_time"], meta["venue"]) == \
            ("12/25 Minutes", "10.00 am", "Council Antechamber, Level 2, Town Hall Extension")
        assert _front_matter(folder / "item-13-25-18832.md")["title"] == \
            "Internal Audit Progress Report & Counter Fraud Update"
        papers = json.loads((folder / "documents" / "metadata.json").read_text())
        by_title = {p["title"]: p["filename"] for p in papers}
        # titles with their doubled spaces closed; file names never cut inside a date
        assert by_title["6 - CHAIR APPROVED Minutes Audit Committee 25 Nov 2024"] == \
            "60860-6-chair-approved-minutes-audit-committee-25-nov-2024.pdf"
        assert by_title["Internal Audit Progress Report Q3 2024-25"] == \
            "60870-internal-audit-progress-report-q3-2024-25.pdf"

        searcher = open_searcher(index_dir, "hashing")
        # item 1: an item titled "Minutes" keeps its title and description apart from its minute
        [item] = [d for d in load_documents([folder / "item-12-25-18831.md"]) if isinstance(d, Document)]
        passages = {p.kind: p for p in chunk_document(item)}
        assert set(passages) == {"description", "resolution", "bullet"}  # not the title read as "Minutes:"
        assert passages["description"].text.startswith("Minutes\n\nTo approve as a correct record")
        assert passages["resolution"].text.startswith("RESOLVED that the minutes")
        assert passages["description"].heading == "12/25 Minutes"
        # "Decisions only" returns the resolution, not the agenda text
        decisions = searcher.search("progress report counter fraud update", 5,
                                    Filters(committee="Audit Committee", decisions_only=True)).hits
        assert decisions and decisions[0].passage.text.startswith("RESOLVED that the progress report")
        assert all(h.passage.kind == "resolution" for h in decisions)

        # the same council reached by another host name: nothing is indexed twice
        other = "http://localhost:" + site.url.rsplit(":", 1)[1]
        code, stdout, stderr = _import(other, index_dir, tmp_path / "imports-again")
        assert code == 0, stderr
        assert "duplicate document_id 'moderngov/testshire-county-council/4967/18833'" in stderr
        searcher = open_searcher(index_dir, "hashing")
        hits = searcher.search("Work Programme Governance and Scrutiny Support Unit", 20,
                               Filters(committee="Audit Committee")).hits
        assert {h.document.document_id for h in hits if h.document.item == "14/25 Work Programme"} == \
            {"moderngov/testshire-county-council/4967/18833"}


def test_a_meeting_whose_papers_all_fail_is_an_error_and_listed(tmp_path: Path) -> None:
    with serve() as site:
        site.broken = {"mgConvert2PDF", "documents/g4967"}
        code, stdout, stderr = _import(site.url, tmp_path / "index", tmp_path / "imports", "--committee", "144")
    assert code == 1
    assert "3 papers (3 failed)" not in stdout and "0 papers (3 failed)" in stdout
    assert "3 papers could not be downloaded" in stderr
    assert re.search(r"Audit Committee 2025-02-10 \(meeting 4967\), item 13/25 Internal Audit Progress Report & "
                     r"Counter Fraud Update: 'Internal Audit Progress Report Q3 2024-25' \(HTTP 500", stderr)
    assert "Error: no paper of 1 meeting(s) could be downloaded: Audit Committee 2025-02-10 (meeting 4967)" in stderr
    assert "indexed 3 documents" in stdout  # what could be imported is indexed all the same


def test_an_items_minute_is_not_hidden_behind_its_agenda_blurb(tmp_path: Path) -> None:
    with serve() as site:
        code, _stdout, stderr = _import(site.url, tmp_path / "index", tmp_path / "imports", "--committee", "144",
                                        "--no-documents")
        assert code == 0, stderr
    searcher = open_searcher(tmp_path / "index", "hashing")
    hits = searcher.search("report of the Governance and Scrutiny Support Unit work programme", 10,
                           Filters(committee="Audit Committee")).hits
    kinds = [h.passage.kind for h in hits if h.document.item == "14/25 Work Programme"]
    assert sorted(kinds) == ["description", "minutes"]


def test_saved_decision_page_is_a_decision(tmp_path: Path) -> None:
    (tmp_path / "decision.html").write_text((FIXTURES / "ieDecisionDetails-5403.html").read_text())
    [doc] = [d for d in load_documents([tmp_path]) if isinstance(d, Document)]
    assert doc.title == "Award of the Household Waste Recycling Centres Contract"
    assert (doc.committee, doc.date and doc.date.text) == ("Cabinet", "2025-01-20")
    assert doc.source_url == f"{BASE}/ieDecisionDetails.aspx?ID=5403"
    assert doc.see_also == (f"{BASE}/ieListDocuments.aspx?CId=130&MID=7001",
                            f"{BASE}/documents/s128760/HWRC Contract Award - Report.pdf")
    assert doc.extra["decision_status"] == "Recommendations Approved" and doc.extra["key_decision"] == "True"
    assert "• HWRC Contract Award - Report" in doc.text and "PDF 311 KB" not in doc.text
    assert "Find out more about this issue" not in doc.text

    resolutions = [p.text for p in chunk_document(doc) if p.kind == "resolution"]
    assert resolutions and resolutions[0].startswith("That the contract for the operation")
    assert all("Decision status" not in r and "Date of decision" not in r for r in resolutions)
    assert not any("best value" in r for r in resolutions)  # the reasons are not the decision


def test_saved_decisions_list_is_one_document_per_decision(tmp_path: Path) -> None:
    (tmp_path / "decisions.html").write_text((FIXTURES / "mgDelegatedDecisions.html").read_text())
    items = list(load_documents([tmp_path]))
    docs = [d for d in items if isinstance(d, Document)]
    assert not [p for p in items if isinstance(p, Problem) and p.kind == "failed"]
    assert [(d.document_id, d.title, d.date and d.date.text) for d in docs] == [
        ("decisions/decision-5403", "Award of the Household Waste Recycling Centres Contract", "2025-01-22"),
        ("decisions/decision-5410", "Traffic Regulation Order - A20 Harrietsham", "2025-03-03")]
    assert docs[0].source_url == f"{BASE}/ieDecisionDetails.aspx?ID=5403"
    assert "ref:" not in docs[0].text and "Effective from: 30/01/2025" in docs[0].text


def test_hidden_text_and_navigation_are_not_page_text(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><body><nav><a href='/'>Home</a></nav><div role='navigation'>Skip to menu</div>"
        "<main><p>The library opens on Sundays.<span style='display: none'>Tracking pixel</span></p>"
        "<p hidden>Draft text</p><p aria-hidden='true'>Icon</p></main></body></html>")
    [doc] = [d for d in load_documents([tmp_path]) if isinstance(d, Document)]
    assert doc.text == "The library opens on Sundays."


def test_a_folder_of_files_it_cannot_read_names_them_and_the_formats(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from minutes.cli import cli

    for name in ("GetMeeting-7001.xml", "GetCommittees.xml"):
        (tmp_path / "papers").mkdir(exist_ok=True)
        (tmp_path / "papers" / name).write_bytes((FIXTURES / name).read_bytes())
    result = CliRunner().invoke(cli, ["--index-dir", str(tmp_path / "index"), "index", str(tmp_path / "papers")],
                                env={"MINUTES_MODEL": "hashing"})
    assert result.exit_code != 0
    message = result.stderr + result.stdout
    assert "GetMeeting-7001.xml" in message and "GetCommittees.xml" in message
    assert ".pdf" in message and ".docx" in message and ".doc," in message
    assert "minutes import moderngov" in message  # what to do with a ModernGov site's XML
