"""Older papers: scanned PDFs read with Tesseract OCR, legacy Word .doc read with antiword.

The scan is made inside the test from a real Kent paper (../shared, never copied into the
repository): its second page is rendered to a 150 dpi greyscale picture and saved back as
an image-only PDF (Pillow's PDF writer), as a scanner would make it. The .doc fixture was
written by LibreOffice (see tests/fixtures/legacy/README.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.ingest import IngestOptions, Problem, load_documents
from minutes.records import Document, Filters
from minutes.search.hybrid import Searcher
from minutes.storage import open_index
from minutes.web.schemas import HitOut
from tests.conftest import shared_path

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
KENT_REPORT = ("cabinet", "2025-01-30", "originals",
               "24-00096 - Commissioning Plan for Education Provision in Kent 2025-29 - Report.pdf")


def _needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.fail(f"{program} is not installed: run scripts/ensure-system-packages.sh (make test does)")


def _words(text: str) -> set[str]:
    return {w.strip(".,;:()'\"").lower() for w in text.split() if len(w) > 3}


def _scan_of(source: Path, pages: list[int], out: Path) -> None:
    """An image-only PDF of some pages of a real paper (pages as 150 dpi greyscale pictures)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(source))
    images = [pdf[n - 1].render(scale=150 / 72, grayscale=True).to_pil() for n in pages]
    out.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(out, "PDF", resolution=150, save_all=True, append_images=images[1:])
    pdf.close()


def test_a_scanned_kent_page_is_read_by_ocr_and_keeps_its_page(tmp_path: Path) -> None:
    from minutes.ingest.pdf import extract_pages

    _needs("tesseract")
    source = shared_path("data", "kent-cc", "documents", *KENT_REPORT)
    original = extract_pages(source)
    papers = tmp_path / "papers"
    # page 1 keeps its text layer (the paper's own page 1); page 2 is a scan of the paper's page 2
    import pypdfium2 as pdfium

    _scan_of(source, [2], tmp_path / "scan-page.pdf")
    mixed = pdfium.PdfDocument.new()
    mixed.import_pages(pdfium.PdfDocument(str(source)), [0])
    mixed.import_pages(pdfium.PdfDocument(str(tmp_path / "scan-page.pdf")), [0])
    papers.mkdir()
    mixed.save(str(papers / "Commissioning Plan scanned.pdf"))

    cache = tmp_path / "extracted.sqlite"
    [doc] = [d for d in load_documents([papers], IngestOptions(cache_path=cache)) if isinstance(d, Document)]
    assert doc.extra["ocr_pages"] == "2" and doc.extra["ocr"].startswith("tesseract ")
    page_two = doc.text[doc.page_starts[1]:]
    assert len(_words(page_two) & _words(original[1])) >= 0.9 * len(_words(original[1]))
    assert doc.text[:doc.page_starts[1]].strip() == original[0]  # the text layer is kept as it was

    # searchable, with its page: a hit on the scanned page links to #page=2
    report = build_index([papers], tmp_path / "index", HashingEmbedder(), ingest=IngestOptions(cache_path=cache))
    assert report.documents == 1
    index = open_index(tmp_path / "index")
    hits = Searcher(index, HashingEmbedder()).search("live births in Kent peak 2012 birth numbers fallen", 5,
                                                     Filters()).hits
    top = HitOut.from_hit(hits[0]).model_dump()
    assert top["page"] == 2 and "births" in top["text"]
    assert top["document_id"] == "Commissioning Plan scanned"

    # the document view says which pages were read by OCR
    from fastapi.testclient import TestClient

    from minutes.settings import Settings
    from minutes.web.app import create_app

    settings = Settings(index_dir=tmp_path / "index", model="hashing")
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        page = client.get("/documents/Commissioning Plan scanned")
        assert page.status_code == 200
        assert "Read by OCR from scanned page 2" in page.text
        assert client.get("/api/documents/Commissioning Plan scanned").json()["ocr_pages"] == [2]


def test_ocr_text_is_cached_by_file_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _needs("tesseract")
    source = shared_path("data", "kent-cc", "documents", *KENT_REPORT)
    _scan_of(source, [2], tmp_path / "papers" / "scan.pdf")
    cache = tmp_path / "extracted.sqlite"
    first = [d for d in load_documents([tmp_path / "papers"], IngestOptions(cache_path=cache))
             if isinstance(d, Document)]
    import minutes.ingest.ocr as ocr

    def boom(*_args: object) -> str:
        raise AssertionError("read by OCR again")

    monkeypatch.setattr(ocr, "ocr_page", boom)
    again = IngestOptions(cache_path=cache)
    second = [d for d in load_documents([tmp_path / "papers"], again) if isinstance(d, Document)]
    assert second == first and again.stats.from_cache == 1 and first[0].extra["ocr_pages"] == "1"


def test_without_tesseract_a_scan_is_refused_saying_what_to_install(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import minutes.ingest.ocr as ocr
    from minutes.ingest.pdf import PdfError, extract_pdf

    source = shared_path("data", "kent-cc", "documents", *KENT_REPORT)
    _scan_of(source, [2], tmp_path / "scan.pdf")
    monkeypatch.setattr(ocr, "tesseract_version", lambda: None)
    with pytest.raises(PdfError, match=r"no text layer: 1 page\(s\) of images only .*apt-get install tesseract-ocr"):
        extract_pdf(tmp_path / "scan.pdf")


def test_a_legacy_word_doc_is_searchable(tmp_path: Path) -> None:
    _needs("antiword")
    papers = tmp_path / "papers"
    papers.mkdir()
    shutil.copy(LEGACY / "highways-1998.doc", papers / "Highways Sub-Committee 14 May 1998.doc")
    (papers / "metadata.json").write_text(
        '[{"filename": "Highways Sub-Committee 14 May 1998.doc", "url": "https://example.gov.uk/h1998.doc", '
        '"committee": "Highways Sub-Committee", "meeting_date": "1998-05-14"}]')
    items = list(load_documents([papers], IngestOptions(council="Testshire County Council")))
    [doc] = [d for d in items if isinstance(d, Document)]
    assert doc.extra["format"] == "doc" and doc.title == "Highways Sub-Committee 14 May 1998"
    assert "Winter gritting routes" in doc.text and "Harrietsham" in doc.text
    assert "Aylesford\t1,100\t6" in doc.text  # a table row, as the chunker reads tables
    assert not [p for p in items if isinstance(p, Problem) and p.kind == "failed"]

    build_index([papers], tmp_path / "index", HashingEmbedder(), ingest=IngestOptions(council="Testshire"))
    searcher = Searcher(open_index(tmp_path / "index"), HashingEmbedder())
    hits = searcher.search("quarry lorries weight restriction Harrietsham", 5,
                           Filters(decisions_only=True, committee="Highways Sub-Committee")).hits
    assert hits and hits[0].passage.text.startswith("RESOLVED that officers consult the Police")
    assert HitOut.from_hit(hits[0]).model_dump()["source_url"] == "https://example.gov.uk/h1998.doc"
    assert hits[0].document.date == "1998-05-14"


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty file"),
    (b"{\\rtf1\\ansi Minutes}", "an RTF file named .doc"),
    (b"<html><body>Minutes</body></html>", "a web page saved as .doc"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "antiword could not read this .doc"),
])
def test_unreadable_doc_files_say_why(tmp_path: Path, content: bytes, reason: str) -> None:
    _needs("antiword")
    (tmp_path / "bad.doc").write_bytes(content)
    [problem] = [p for p in load_documents([tmp_path]) if isinstance(p, Problem)]
    assert problem.kind == "failed" and reason in problem.reason
