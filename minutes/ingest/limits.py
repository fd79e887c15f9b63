"""Caps on what one file may cost to ingest: pages, characters, passages, time and memory.

A small hostile file can cost a great deal: a PDF whose page tree lists one page 200,000
times, a content stream that inflates to gigabytes, a Word file of a million table cells.
The caps hold for every file; a file over a cap is indexed up to it (pages, characters,
passages) or refused (time, memory), and the report says which cap and where.

Readers see the caps of the file they read through `current()` and say what they cut
with `note()`; `load_documents` turns the notes into the file's report lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    max_pages: int = 3_000              # PDF pages read per file
    max_chars: int = 10_000_000         # characters of text kept per document
    max_passages: int = 10_000          # passages kept per document
    max_seconds: float = 120.0          # time to extract one PDF, Word or HTML file
    max_memory_mb: int = 4_096          # address space of the process that extracts it

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(max_pages=settings.max_pages, max_chars=settings.max_chars, max_passages=settings.max_passages,
                   max_seconds=settings.max_seconds_per_file, max_memory_mb=settings.max_extract_memory_mb)

    @classmethod
    def from_environment(cls) -> Limits:
        from minutes.settings import Settings

        return cls.from_settings(Settings())

    def key(self) -> str:
        """What changes extracted text, for the extraction cache's key (time and memory do not)."""
        return f"p{self.max_pages}-c{self.max_chars}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_CURRENT: ContextVar[Limits | None] = ContextVar("minutes_ingest_limits", default=None)
_DEFAULT = Limits()
_NOTES: ContextVar[list[str] | None] = ContextVar("minutes_ingest_notes", default=None)


def current() -> Limits:
    return _CURRENT.get() or _DEFAULT


def note(message: str) -> None:
    """Record that a cap cut the file being read (shown in the report as a gap)."""
    notes = _NOTES.get()
    if notes is not None and message not in notes:
        notes.append(message)


@contextmanager
def applying(limits: Limits) -> Iterator[list[str]]:
    """Read one file under `limits`; yields the list its notes go into."""
    notes: list[str] = []
    limit_token, notes_token = _CURRENT.set(limits), _NOTES.set(notes)
    try:
        yield notes
    finally:
        _CURRENT.reset(limit_token)
        _NOTES.reset(notes_token)
