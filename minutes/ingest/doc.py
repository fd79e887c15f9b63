"""Legacy Word (.doc, Word 97-2003) papers with antiword (Debian `antiword`, GPL, run as a program).

Councils' archives from before 2007 are full of binary .doc minutes. antiword reads the
format directly (no Word, no LibreOffice), fast and without a display; `-w 0` gives each
paragraph on one line and `-m UTF-8.txt` gives Unicode. Its tables come out as
`|cell |cell |` rows, turned here into the tab-separated rows the chunker knows as tables.
Like .docx, a .doc has no fixed pages, so its passages carry no page number: links go to
the paper itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from minutes.ingest.pdf import title_from_name
from minutes.records import Document

VERSION = "doc-1"
TIMEOUT_S = 60  # a damaged file must not hang the whole index build

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file that holds a Word 97-2003 document
_TABLE_ROW = re.compile(r"^\|(.*)\|\s*$")


class DocError(ValueError):
    pass


def _what_else(head: bytes) -> str:
    if head.startswith(b"{\\rtf"):
        return "an RTF file named .doc (save it as .docx or PDF)"
    if head.startswith(b"PK"):
        return "a .docx file named .doc (rename it to .docx)"
    if b"<html" in head.lower() or b"<!doctype" in head.lower():
        return "a web page saved as .doc (rename it to .html)"
    return "not a Word 97-2003 document"


def tidy_antiword(raw: str) -> str:
    """antiword's text: table rows as tab-separated cells, picture markers dropped, blank runs closed."""
    lines = []
    for line in raw.replace("\f", "\n").split("\n"):
        if row := _TABLE_ROW.match(line):
            cells = [" ".join(cell.split()) for cell in row.group(1).split("|")]
            lines.append("\t".join(cells))
        else:
            lines.append(line.replace("[pic]", "").rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def read_doc(path: Path, root: Path) -> Iterator[Document]:
    data = path.read_bytes()
    if not data:
        raise DocError("empty file (0 bytes)")
    if not data.startswith(_OLE_MAGIC):
        raise DocError(f"not a readable Word .doc file: {_what_else(data[:512])}")
    antiword = shutil.which("antiword")
    if antiword is None:
        raise DocError("legacy Word .doc needs antiword, which is not installed (apt-get install antiword)")
    try:
        done = subprocess.run([antiword, "-w", "0", "-m", "UTF-8.txt", str(path)], capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise DocError(f"antiword took over {TIMEOUT_S}s on this file (damaged?)") from None
    if done.returncode != 0:
        said = " ".join(done.stderr.decode("utf-8", "replace").split())[:200]
        raise DocError(f"antiword could not read this .doc ({said or f'exit status {done.returncode}'})")
    text = tidy_antiword(done.stdout.decode("utf-8", "replace"))
    if not text:
        raise DocError("Word document has no text")
    yield Document(
        document_id=path.relative_to(root).with_suffix("").as_posix(),
        text=text,
        title=title_from_name(path),
        path=str(path),
        extra={"format": "doc"},
    )


def _register() -> None:
    from minutes.ingest import register_reader

    register_reader(".doc", read_doc, version=VERSION)


_register()
