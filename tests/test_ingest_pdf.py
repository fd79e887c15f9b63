"""PDF reader: page-aware text, clear reasons for files that cannot be read, the extraction cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from minutes.build import build_index
from minutes.chunk import chunk_document
from minutes.embed import HashingEmbedder
from minutes.ingest import IngestOptions, Problem, load_documents
from minutes.ingest.pdf import PdfError, extract_pages, read_pdf, tidy_page
from minutes.records import Document
from tests.pdfmaker import make_encrypted_pdf, make_pdf

PAGES = [
    ["Children's Services Budget Report", "1. Summary", "The short breaks budget rises by 4 per cent."],
    ["2. Home to school transport", "Transport costs for pupils with SEND grew faster than forecast."],
    ["3. Recommendations", "RESOLVED that the budget be approved."],
]


def test_pages_are_known_and_passages_carry_their_page(tmp_path: Path) -> None:
    path = tmp_path / "papers" / "Budget Report.pdf"
    make_pdf(PAGES, path)  # type: ignore[arg-type]
    [doc] = read_pdf(path, tmp_path / "papers")
    assert doc.document_id == "Budget Report" and doc.title == "Budget Report"
    assert len(doc.page_starts) == 3 and doc.page_starts[0] == 0
    for number, start in enumerate(doc.page_starts, 1):
        assert doc.page_at(start) == number
    page_two = doc.text.index("Transport costs")
    assert doc.page_at(page_two) == 2
    by_text = {p.text: p.page for p in chunk_document(doc)}
    assert any(page == 2 and "Transport costs" in text for text, page in by_text.items())
    assert any(page == 3 and "RESOLVED" in text for text, page in by_text.items())


def test_wrapped_lines_are_joined_and_list_items_kept() -> None:
    raw = "MINUTES of a meeting held in the Council Chamber, Sessions \r\nHouse, Maidstone.\r\n" \
          "(a) first point \r\n(b) second point\r\nRESOLVED that \r\nthe report be noted\r\n"
    assert tidy_page(raw).split("\n") == [
        "MINUTES of a meeting held in the Council Chamber, Sessions House, Maidstone.",
        "(a) first point", "(b) second point", "RESOLVED that the report be noted"]


def _bad_pdf(kind: str, path: Path) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        path.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R\ntruncated \x00\x01\x02")
    elif kind == "encrypted":
        make_encrypted_pdf(path)
    elif kind == "image-only":
        make_pdf([None, None], path)
    elif kind == "html":
        path.write_bytes(b"<!DOCTYPE html><html><body>The page you requested was not found</body></html>")
    elif kind == "no pages":
        path.write_bytes(make_pdf([]))


@pytest.mark.parametrize(("kind", "reason"), [
    ("empty", "empty file (0 bytes)"),
    ("corrupt", "damaged PDF that cannot be opened"),
    ("encrypted", "encrypted PDF: it needs a password to open"),
    ("image-only", "no text layer: 2 page(s) of images only"),
    ("html", "not a PDF (no %PDF header)"),
    ("no pages", "PDF"),  # PDFium refuses a page tree with no pages, or we do
])
def test_unreadable_pdfs_are_refused_with_a_clear_reason(tmp_path: Path, kind: str, reason: str) -> None:
    bad = tmp_path / f"{kind}.pdf"
    _bad_pdf(kind, bad)
    with pytest.raises(PdfError) as caught:
        extract_pages(bad)
    assert reason in str(caught.value)
    make_pdf(PAGES, tmp_path / "good.pdf")  # type: ignore[arg-type]
    items = list(load_documents([tmp_path]))
    problems = [i for i in items if isinstance(i, Problem) and i.kind == "failed"]
    assert [d.document_id for d in items if isinstance(d, Document)] == ["good"]
    assert [(Path(p.source).name, p.kind) for p in problems] == [(bad.name, "failed")]
    assert reason in problems[0].reason


def test_extraction_is_cached_by_file_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    papers = tmp_path / "papers"
    make_pdf(PAGES, papers / "a.pdf")  # type: ignore[arg-type]
    make_pdf([None], papers / "scan.pdf")
    cache = tmp_path / "extracted.sqlite"
    first = IngestOptions(cache_path=cache)
    docs1 = [d for d in load_documents([papers], first) if isinstance(d, Document)]
    assert (first.stats.files, first.stats.extracted, first.stats.from_cache) == (2, 1, 0)

    import minutes.ingest.pdf as pdf_module

    def boom(*_args: object) -> list[str]:
        raise AssertionError("extracted again")

    monkeypatch.setattr(pdf_module, "extract_pages", boom)
    second = IngestOptions(cache_path=cache)
    items = list(load_documents([papers], second))
    docs2 = [d for d in items if isinstance(d, Document)]
    assert (second.stats.extracted, second.stats.from_cache) == (0, 2)
    assert docs2 == docs1  # same documents, page offsets included
    assert [p.reason for p in items if isinstance(p, Problem) and p.kind == "failed"] == \
        ["no text layer: 1 page(s) of images only (a scan?), and no page is a full-page scan for OCR to read"]


def test_everything_failing_is_an_error(tmp_path: Path) -> None:
    from minutes.errors import BuildError

    _bad_pdf("empty", tmp_path / "a.pdf")
    with pytest.raises(BuildError, match=r"no documents could be read.*a\.pdf: empty file"):
        build_index([tmp_path], tmp_path / "index", HashingEmbedder())
