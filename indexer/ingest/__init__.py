"""Turn files into Documents. One reader per format, chosen by file suffix.

Readers yield Documents; a file that cannot be read becomes a Problem (path and reason)
so the caller can report it, skip it and go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..records import Document
from .text import read_text_document


@dataclass(frozen=True)
class Problem:
    """A file or URL that was skipped, and why."""

    source: str
    reason: str


Reader = Callable[[Path, Path], Iterable[Document]]

# Suffix → reader(path, root). Other formats register here (see register_reader).
READERS: dict[str, Reader] = {
    ".md": read_text_document,
    ".markdown": read_text_document,
    ".txt": read_text_document,
}

# Files that describe a folder rather than being documents in it.
IGNORED_NAMES = {"readme.md", "metadata.json", "sources.md", "license", "license.md"}


def register_reader(suffix: str, reader: Reader) -> None:
    READERS[suffix.lower()] = reader


def _load_optional_readers() -> None:
    # Readers with heavier dependencies live in their own modules; import them lazily
    # so a missing optional library only disables its own format.
    import importlib

    for module in ("pdf", "html", "docx"):
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ImportError:
            continue


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, root) for every readable file under the given files or folders, sorted."""
    _load_optional_readers()
    for root in paths:
        root = Path(root)
        if root.is_file():
            yield root, root.parent
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            if path.name.lower() in IGNORED_NAMES or path.suffix.lower() not in READERS:
                continue
            yield path, root


def load_documents(paths: Iterable[Path]) -> Iterator[Document | Problem]:
    """Every document under `paths`; unreadable files come out as Problems, in order."""
    for path, root in iter_files(paths):
        reader = READERS[path.suffix.lower()]
        try:
            yield from reader(path, root)
        except Exception as exc:  # one bad file must never stop the rest
            yield Problem(str(path), f"{type(exc).__name__}: {exc}".strip())
