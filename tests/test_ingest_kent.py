"""Real Kent County Council papers from ../shared/data/kent-cc, read in place (never copied)."""

from __future__ import annotations

from pathlib import Path

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.ingest import IngestOptions, Problem, load_documents
from minutes.ingest.folder import Folders
from minutes.records import Document, Filters
from minutes.search.hybrid import Searcher
from minutes.storage.sqlite_faiss import open_local
from minutes.web.schemas import HitOut
from tests.conftest import shared_path

KENT = {"council": "Kent County Council", "committee_names": {"full_council": "County Council", "cabinet": "Cabinet"}}


def test_a_kent_meeting_is_indexed_with_its_metadata_and_pages(tmp_path: Path) -> None:
    meeting = shared_path("data", "kent-cc", "documents", "full_council", "2025-01-09")
    options = IngestOptions(**KENT)  # type: ignore[arg-type]
    report = build_index([meeting], tmp_path / "index", HashingEmbedder(), ingest=options)
    assert report.files == 6 and report.documents == 6
    assert not [p for p in report.problems if p.kind == "failed"]
    gaps = {(Path(p.source).name, p.reason) for p in report.problems if p.kind == "gap"}
    # The supplement pack is in no metadata.json: indexed, reported, its URL not guessed.
    assert gaps == {("Item 3 Supplement - English Devolution White Paper report 09th-Jan-2025 10.00 "
                     "County Council.pdf", "not listed in metadata.json")}

    index = open_local(tmp_path / "index")
    rows = {r["title"]: r for r in index.sql("SELECT * FROM documents")}
    minutes = rows["Printed minutes 09th-Jan-2025 10.00 County Council"]
    assert (minutes["council"], minutes["committee"], minutes["date_text"]) == \
        ("Kent County Council", "County Council", "2025-01-09")
    assert minutes["source_url"].startswith("https://democracy.kent.gov.uk/documents/g")
    assert '"category": "minutes"' in minutes["extra"]
    pack = rows["Item 3 Supplement - English Devolution White Paper report 09th-Jan-2025 10.00 County Council"]
    assert pack["source_url"] is None and pack["committee"] == "County Council" and pack["date_text"] == "2025-01-09"

    searcher = Searcher(index, HashingEmbedder())
    result = searcher.search("devolution framework mayoral strategic authority", 10,
                             Filters(council="Kent County Council"))
    paged = [HitOut.from_hit(h).model_dump() for h in result.hits
             if h.passage.page and h.passage.page > 1 and h.document.source_url]
    assert paged, "expected hits beyond page 1 of a paper with a source URL"
    hit = paged[0]
    assert hit["source_url"] == f"{rows[hit['title']]['source_url']}#page={hit['page']}"


def test_duplicates_are_indexed_once() -> None:
    packs = shared_path("data", "kent-cc", "documents", "full_council", "2025-02-13", "public_packs")
    items = list(load_documents([packs], IngestOptions(**KENT)))  # type: ignore[arg-type]
    documents = [i for i in items if isinstance(i, Document)]
    duplicates = [i for i in items if isinstance(i, Problem) and i.kind == "duplicate"]
    assert len(documents) == 1 and len(duplicates) == 1
    assert "%20" in duplicates[0].source and "same content as" in duplicates[0].reason


def test_entries_naming_missing_files_are_reported() -> None:
    documents = shared_path("data", "kent-cc", "documents")
    missing = dict(Folders().missing_files(documents))
    assert "cabinet/2025-03-04/originals/APPENDIX B - ADOPTION of KMWLP 2024-39.pdf" in missing
    assert "full_council/2025-03-13/originals/Appendix 3 - Statutory Scrutiny Guidance.pdf" in missing
    assert len(missing) == 4


def test_committee_codes_without_a_name_are_gaps_not_guesses(tmp_path: Path) -> None:
    meeting = shared_path("data", "kent-cc", "documents", "cabinet", "2025-03-13")
    facts = Folders().facts(meeting / "originals" / "Agenda frontsheet 13th-Mar-2025 15.00 Cabinet.pdf", meeting)
    assert facts.committee == "cabinet" and facts.council is None
    assert any("committee code 'cabinet' has no name" in gap for gap in facts.gaps)
    assert facts.source_url and facts.source_url.startswith("https://democracy.kent.gov.uk/")
    (tmp_path / "minutes.yaml").write_text("council: Kent County Council\ncommittees:\n  cabinet: Cabinet\n")
    # A minutes.yaml above the indexed folder does not count: only folders from the root down.
    assert Folders().facts(meeting / "originals" / "x.pdf", meeting).council is None
