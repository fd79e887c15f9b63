"""HTML (saved ModernGov pages and plain pages) and Word .docx readers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from minutes.ingest import Problem, load_documents
from minutes.ingest.htmltext import html_to_text
from minutes.records import Document

FIXTURES = Path(__file__).parent / "fixtures" / "moderngov"


def _read(folder: Path) -> tuple[list[Document], list[Problem]]:
    items = list(load_documents([folder]))
    return [i for i in items if isinstance(i, Document)], [i for i in items if isinstance(i, Problem)]


def test_saved_meeting_page_gives_one_document_per_public_item(tmp_path: Path) -> None:
    page = (FIXTURES / "ieListDocuments-175-7101.html").read_text()
    saved = "<!-- saved from url=(0080)https://democracy.example.gov.uk/ieListDocuments.aspx?CId=175&amp;MId=7101 -->\n"
    (tmp_path / "meeting.html").write_text(saved + page)
    docs, _ = _read(tmp_path)
    by_item = {d.item: d for d in docs}
    assert set(by_item) == {"1. Apologies and Substitutes", "4. Kent Minerals and Waste Local Plan 2024-39"}
    plan = by_item["4. Kent Minerals and Waste Local Plan 2024-39"]
    assert (plan.committee, plan.date.text if plan.date else None) == ("County Council", "2025-03-13")
    assert plan.source_url == "https://democracy.example.gov.uk/mgAi.aspx?ID=9104"
    assert "RESOLVED that the Kent Minerals and Waste Local Plan 2024-39 be adopted" in plan.text
    assert "quarries & the sharp sand" in plan.text and "Planning Inspector's report" in plan.text
    assert not plan.procedural and by_item["1. Apologies and Substitutes"].procedural
    assert all("Quokkaprivate" not in d.text for d in docs)  # the exempt item is never kept


def test_saved_item_page(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "mgAi-9004.html", tmp_path / "item.htm")
    [doc], problems = _read(tmp_path)
    assert doc.source_url == "https://democracy.example.gov.uk/mgAi.aspx?ID=9004"
    assert doc.see_also == ("https://democracy.example.gov.uk/ieListDocuments.aspx?CId=130&MId=7001",)
    assert (doc.committee, doc.item, doc.date.text if doc.date else None) == \
        ("Cabinet", "5. Short Breaks for Disabled Children & Young People", "2025-01-30")
    assert doc.text.startswith("Short Breaks for Disabled Children & Young People")
    assert "Decision:\nRESOLVED that the recommissioning" in doc.text
    assert "Supporting documents:\n• 24-00096 - Report" in doc.text
    assert [(p.kind, p.reason) for p in problems] == [("gap", "council not known; add council: to a minutes.yaml "
                                                        "or pass --council")]


def test_plain_html_page_drops_scripts_and_chrome(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Budget consultation</title><script>var x = 'tracking';</script></head>"
        "<body><nav>Home | About</nav><main><h1>Budget consultation</h1><p>Residents&nbsp;said &amp; wrote:</p>"
        "<ul><li>keep libraries open</li><li>fix potholes</li></ul>"
        "<table><tr><th>Service</th><th>£m</th></tr><tr><td>Libraries</td><td>4.2</td></tr></table></main></body></html>")
    [doc], _ = _read(tmp_path)
    assert doc.title == "Budget consultation"
    assert doc.text.split("\n") == ["Budget consultation", "Residents said & wrote:", "• keep libraries open",
                                    "• fix potholes", "Service\t£m", "Libraries\t4.2"]
    assert "tracking" not in doc.text and "Home | About" not in doc.text


def test_html_to_text_keeps_blocks_apart() -> None:
    assert html_to_text("<p>one<br>two</p><div>three <b>four</b></div>") == "one\ntwo\nthree four"


def test_word_document(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Report to Cabinet: Family Hubs", level=1)
    document.add_paragraph("The Family Hubs model brings services together in each district.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "District", "Hubs"
    table.cell(1, 0).text, table.cell(1, 1).text = "Thanet", "3"
    document.add_paragraph("RESOLVED that the model be adopted.")
    document.save(str(tmp_path / "Family Hubs Report.docx"))
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    docs, problems = _read(tmp_path)
    [doc] = docs
    assert doc.title == "Family Hubs Report"
    assert doc.text.split("\n") == ["Report to Cabinet: Family Hubs",
                                    "The Family Hubs model brings services together in each district.", "",
                                    "District\tHubs", "Thanet\t3", "", "RESOLVED that the model be adopted."]
    failed = [p for p in problems if p.kind == "failed"]
    assert len(failed) == 1 and failed[0].source.endswith("broken.docx")
    assert "not a readable Word .docx file" in failed[0].reason
