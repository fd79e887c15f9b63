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

A file that has no usable text is refused with a reason a person can act on: empty,
not a PDF, damaged, encrypted, or only images (a scan needs OCR, which Minutes does not do).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from minutes.errors import InputError
from minutes.records import Document

VERSION = "pdf-1"  # bump when the text would come out differently (invalidates the extraction cache)

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
    try:
        if len(pdf) == 0:
            raise PdfError("PDF has no pages")
        if len(pdf) > cap.max_pages:
            limits.note(f"capped: the first {cap.max_pages:,} of {len(pdf):,} pages indexed (max_pages)")
        pages: list[str] = []
        chars = 0
        for index in range(min(len(pdf), cap.max_pages)):
            if chars > cap.max_chars:
                limits.note(f"capped: pages after {index:,} not read, over {cap.max_chars:,} characters (max_chars)")
                break
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    pages.append(tidy_page(textpage.get_text_bounded()))
                    chars += len(pages[-1])
                finally:
                    textpage.close()
            finally:
                page.close()
    finally:
        pdf.close()
    letters = sum(ch.isalpha() for page in pages for ch in page)
    if letters < MIN_LETTERS_PER_PAGE * max(1, min(len(pages), 3)) and letters < 200:
        raise PdfError(f"no text layer: {len(pages)} page(s) of images only (a scan?); "
                       "Minutes does not do OCR")
    return pages


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
    text, starts = join_pages(extract_pages(path))
    yield Document(
        document_id=path.relative_to(root).with_suffix("").as_posix(),
        text=text,
        title=title_from_name(path),
        path=str(path),
        page_starts=starts,
        extra={"format": "pdf", "pages": str(len(starts))},
    )


def _register() -> None:
    from minutes.ingest import register_reader

    register_reader(".pdf", read_pdf, version=VERSION)


_register()
