"""Text from scanned pages with Tesseract (Debian `tesseract-ocr`, `tesseract-ocr-eng`).

Councils' archives hold minutes that were printed, signed and scanned: PDFs whose pages
are one picture each and have no text layer. Such a page is rendered with PDFium (the
library that reads the text layers, so no second PDF engine) at OCR_DPI and read with
Tesseract through pytesseract, a thin, well-kept wrapper around the `tesseract` program.
Tesseract is Apache-2.0 and the best free OCR engine for printed English.

Only pages that are scans are read this way: a page with almost no text in its layer
AND an image covering most of it. A blank page or a page holding a small chart is left
as it is, so text PDFs cost nothing more and gain no OCR noise.
"""

from __future__ import annotations

import os
import re
import shutil
from functools import cache
from typing import Any

OCR_DPI = 300          # Tesseract reads printed text best at 300 dpi
SCAN_COVERAGE = 0.5    # an image over half the page makes it a scanned page
LANGUAGE = "eng"

_LIST_START = re.compile(r"^\s*(?:[·•▪◦●\-*–]|\(?[a-z0-9]{1,3}[).]|\d+\.\d+|RESOLVED|AGREED)\s", re.IGNORECASE)


class OcrUnavailable(RuntimeError):
    """Tesseract (or its English data) is not installed."""


@cache
def tesseract_version() -> str | None:
    """The installed Tesseract's version, or None when there is none to run."""
    if shutil.which("tesseract") is None:
        return None
    try:
        import pytesseract

        if LANGUAGE not in pytesseract.get_languages(config=""):
            return None
        return str(pytesseract.get_tesseract_version())
    except Exception:  # an unusable install is the same as none: the reason is given on use
        return None


def is_scanned(page: Any, letters: int, min_letters: int) -> bool:
    """A page with (almost) no text layer whose area is mostly one or more images."""
    if letters >= min_letters:
        return False
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    area = max(width * height, 1.0)
    covered = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        left, bottom, right, top = obj.get_bounds()
        covered += max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(top, height) - max(bottom, 0.0))
    return covered / area >= SCAN_COVERAGE


def tidy_ocr(raw: str) -> str:
    """Tesseract's lines as paragraphs: wrapped lines joined, hyphenated words mended, list items kept."""
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", raw.replace("\f", "\n")):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        out: list[str] = []
        for line in lines:
            if out and not _LIST_START.match(line):
                if re.search(r"[a-z]-$", out[-1]) and line[:1].islower():
                    out[-1] = out[-1][:-1] + line
                else:
                    out[-1] = f"{out[-1]} {line}"
            else:
                out.append(line)
        paragraphs.extend(out)
        if out:
            paragraphs.append("")
    return "\n".join(paragraphs).strip()


def ocr_page(page: Any) -> str:
    """The text Tesseract reads on one rendered page (tidied); raises OcrUnavailable."""
    if tesseract_version() is None:
        raise OcrUnavailable("Tesseract OCR is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)")
    import pytesseract

    # Tesseract's OpenMP threads fight over few cores: one thread is 6x faster here (3 s a page).
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    image = page.render(scale=OCR_DPI / 72, grayscale=True).to_pil()
    try:
        # --psm 3: find the page's own columns and paragraphs, as a scanned minute has them
        return tidy_ocr(pytesseract.image_to_string(image, lang=LANGUAGE, config="--psm 3"))
    finally:
        image.close()
