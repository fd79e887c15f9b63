"""Word (.docx) papers with python-docx (MIT): paragraphs and tables in document order.

python-docx reads the document XML directly (no Word, no LibreOffice), keeps list
paragraphs and headings as separate lines, and is fast enough that the extraction cache
matters little. Tables come out one row per line with cells separated by tabs, the form
the chunker knows as a table. Old binary .doc files are read by doc.py (antiword).
Word has no fixed pages, so passages from .docx carry no page number.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from minutes.errors import InputError
from minutes.ingest.pdf import title_from_name
from minutes.records import Document

VERSION = "docx-1"

# A .docx is a zip: its directory says how big each part will be before anything is inflated,
# so a zip bomb is refused from the directory alone.
MAX_UNPACKED = 200 * 1024 * 1024   # all parts together, inflated
MAX_RATIO = 200                    # inflated / compressed, per part (XML is typically 5-20)
MAX_PARTS = 5_000


class DocxError(InputError):
    pass


def _blocks(document: object) -> Iterator[str]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document.element.body  # type: ignore[attr-defined]
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = Paragraph(child, document).text.strip()  # type: ignore[arg-type]
            if text:
                yield text
        elif tag == "tbl":
            yield ""
            for row in Table(child, document).rows:  # type: ignore[arg-type]
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if not cells or cells[-1] != value:  # merged cells repeat their text
                        cells.append(value)
                if any(cells):
                    yield "\t".join(cells)
            yield ""


def check_package(path: Path) -> None:
    """Refuse a zip whose directory promises more than a Word file ever holds."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocxError(f"not a readable Word .docx file ({exc})") from None
    if len(parts) > MAX_PARTS:
        raise DocxError(f"zip with {len(parts):,} parts (more than {MAX_PARTS:,}); refused as a zip bomb")
    total = sum(part.file_size for part in parts)
    if total > MAX_UNPACKED:
        raise DocxError(f"inflates to {total:,} bytes (more than {MAX_UNPACKED:,}); refused as a zip bomb")
    for part in parts:
        if part.file_size > 1024 * 1024 and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise DocxError(f"part {part.filename} inflates {part.file_size // max(part.compress_size, 1):,} "
                            f"times (more than {MAX_RATIO}); refused as a zip bomb")


def read_docx(path: Path, root: Path) -> Iterator[Document]:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if path.stat().st_size == 0:
        raise DocxError("empty file (0 bytes)")
    if not zipfile.is_zipfile(path):
        raise DocxError("not a readable Word .docx file (not a zip package; an old binary .doc renamed?)")
    check_package(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocxError(f"not a readable Word .docx file ({exc})") from None
    lines = list(_blocks(document))
    text = "\n".join(lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    if not text:
        raise DocxError("Word document has no text")
    # The file name, as for PDFs: core_properties.title is often a template's leftover.
    title = title_from_name(path)
    yield Document(
        document_id=path.relative_to(root).with_suffix("").as_posix(),
        text=text,
        title=title,
        path=str(path),
        extra={"format": "docx"},
    )


def _register() -> None:
    from minutes.ingest import register_reader

    register_reader(".docx", read_docx, version=VERSION)


_register()
