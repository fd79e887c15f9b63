"""PDF papers, page by page, with pypdfium2.

Why pypdfium2: it binds PDFium, the engine inside Chrome, so it opens the PDFs councils
publish (Word and Aspose exports, scans, odd encodings) as a browser does. Text comes out
in reading order with ligatures and Unicode right, at roughly 5 ms a page here (all 137
Kent papers, 1,613 pages, in about 9 s on one core), and its licence (Apache-2.0 /
BSD-3-Clause) suits an MIT project. The alternatives: PyMuPDF is as good and as fast but
AGPL; pdfminer.six and pypdf are pure Python, 10-50 times slower, and weaker on layout;
poppler's pdftotext is a separate binary to install.

Each page's text is tidied (PDF line wraps joined back into paragraphs, soft hyphens and
control characters dropped) and the pages are joined with a blank line, so a passage
never straddles two pages. `Document.page_starts` records where each page begins, and a
passage knows its page from its offset; links then go to `URL#page=N`.

Scanned pages (no text layer, one big image) are read with Tesseract OCR (see ocr.py);
the document's `extra` says which pages were (`ocr_pages`), so the document view can say
that their text was machine-read. The extraction cache keeps the OCR text like any other,
and its key names the Tesseract version, so installing or upgrading it reads scans anew.

A file that has no usable text is refused with a reason a person can act on: empty,
not a PDF, damaged, encrypted, or only images that OCR could not read (or no Tesseract).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from minutes.errors import InputError
from minutes.ingest import ocr
from minutes.records import Document

# Bump when the text would come out differently (invalidates the extraction cache); the
# Tesseract version is part of it because scanned pages read differently with another.
VERSION = f"pdf-2+ocr-{ocr.tesseract_version() or 'none'}"

OCR_SHARE_OF_TIME = 0.75  # of max_seconds_per_file: OCR stops after it, keeping the pages read

# A page with fewer letters than this is taken as having no text layer.
MIN_LETTERS_PER_PAGE = 20

_LIST_START = re.compile(r"^\s*(?:[·•▪◦●\-*–]|\(?[a-z0-9]{1,3}[).]|\d+\.\d+|RESOLVED|AGREED)\s", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class PdfError(InputError):
    """A PDF that cannot be indexed; the message says why."""


def tidy_page(raw: str) -> str:
    """One page's text as paragraphs: soft line wraps joined, hard breaks kept.

    PDFium ends a line that wrapped inside a sentence with the space that stood there
    ("Sessions \\r\\nHouse"); a line that really ended (a heading, a list item, the end
    of a paragraph) has no trailing space. Wrapped lines are joined unless the next line
    starts a list item or a resolution.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u00ad", "").replace("\x02", "")
    text = _CONTROL.sub("", text)
    out: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            if out and out[-1] != "":
                out.append("")
            continue
        if out and out[-1] and out[-1].endswith(" ") and not _LIST_START.match(stripped):
            out[-1] = out[-1] + stripped + (" " if line.endswith(" ") else "")
        else:
            if out and out[-1].endswith(" "):
                out[-1] = out[-1].rstrip()
            out.append(stripped + (" " if line.endswith(" ") else ""))
    return "\n".join(part.rstrip() for part in out).strip()


def extract_pages(path: Path) -> list[str]:
    """The tidied text of each page; raises PdfError with a clear reason."""
    return extract_pdf(path)[0]


def extract_pdf(path: Path) -> tuple[list[str], list[int]]:
    """The tidied text of each page, scanned pages read by OCR, and the numbers of those pages."""
    import pypdfium2 as pdfium

    size = path.stat().st_size
    if size == 0:
        raise PdfError("empty file (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if b"%PDF" not in head:
        raise PdfError("not a PDF (no %PDF header); is it an HTML error page saved as .pdf?")
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        message = str(exc)
        # PDFium also says "password" for some broken files; an encrypted one has /Encrypt.
        if "password" in message.lower() and b"/Encrypt" in path.read_bytes():
            raise PdfError("encrypted PDF: it needs a password to open") from None
        raise PdfError(f"damaged PDF that cannot be opened ({message})") from None
    from minutes.ingest import limits

    cap = limits.current()
    started = time.monotonic()
    pages: list[str] = []
    scanned: list[int] = []  # 1-based numbers of the pages that are scans
    ocr_pages: list[int] = []
    missing_ocr: str | None = None
    try:
        if len(pdf) == 0:
            raise PdfError("PDF has no pages")
        if len(pdf) > cap.max_pages:
            limits.note(f"capped: the first {cap.max_pages:,} of {len(pdf):,} pages indexed (max_pages)")
        chars = 0
        for index in range(min(len(pdf), cap.max_pages)):
            if chars > cap.max_chars:
                limits.note(f"capped: pages after {index:,} not read, over {cap.max_chars:,} characters (max_chars)")
                break
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    text = tidy_page(textpage.get_text_bounded())
                finally:
                    textpage.close()
                if ocr.is_scanned(page, sum(ch.isalpha() for ch in text), MIN_LETTERS_PER_PAGE):
                    scanned.append(index + 1)
                    # OCR takes seconds a page: stop in time to index what was read, not lose the file
                    if time.monotonic() - started > OCR_SHARE_OF_TIME * cap.max_seconds:
                        limits.note(f"capped: OCR stopped before page {index + 1:,}, near the "
                                    f"{cap.max_seconds:g} s a file may take (max_seconds_per_file)")
                        pages.append(text)
                        continue
                    try:
                        read = ocr.ocr_page(page)
                    except ocr.OcrUnavailable as exc:
                        missing_ocr = str(exc)
                    else:
                        if sum(ch.isalpha() for ch in read) >= MIN_LETTERS_PER_PAGE:
                            text = read
                            ocr_pages.append(index + 1)
                pages.append(text)
                chars += len(text)
            finally:
                page.close()
    finally:
        pdf.close()
    letters = sum(ch.isalpha() for page in pages for ch in page)
    if letters < MIN_LETTERS_PER_PAGE * max(1, min(len(pages), 3)) and letters < 200:
        if missing_ocr:
            raise PdfError(f"no text layer: {len(pages)} page(s) of images only (a scan?), and {missing_ocr}")
        if not scanned:
            raise PdfError(f"no text layer: {len(pages)} page(s) of images only (a scan?), "
                           "and no page is a full-page scan for OCR to read")
        raise PdfError(f"no text layer: {len(pages)} page(s) of images only (a scan?), "
                       f"and OCR found no text on {len(scanned)} scanned page(s)")
    return pages, ocr_pages


def join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """The document text and the offset where each page starts."""
    starts, parts, offset = [], [], 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + 2
    return "\n\n".join(parts), tuple(starts)


def title_from_name(path: Path) -> str:
    """ModernGov names a downloaded paper after its title (`documents/s123/Title.pdf`)."""
    return " ".join(unquote(path.stem).split())


def read_pdf(path: Path, root: Path) -> Iterator[Document]:
    pages, ocr_pages = extract_pdf(path)
    text, starts = join_pages(pages)
    extra = {"format": "pdf", "pages": str(len(starts))}
    if ocr_pages:  # which pages' text was machine-read from images (the document view says so)
        extra |= {"ocr_pages": ",".join(map(str, ocr_pages)), "ocr": f"tesseract {ocr.tesseract_version()}"}
    yield Document(
        document_id=path.relative_to(root).with_suffix("").as_posix(),
        text=text,
        title=title_from_name(path),
        path=str(path),
        page_starts=starts,
        extra=extra,
    )


def _register() -> None:
    from minutes.ingest import register_reader

    register_reader(".pdf", read_pdf, version=VERSION)


_register()
