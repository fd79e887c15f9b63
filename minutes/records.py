"""The small typed records that pass between the steps: document → passage → hit."""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class DateSpan:
    """A meeting date as the sources know it: a day, a month, or an interval.

    `text` is the ISO 8601 form shown to people (`2014-09`, `2023-10/2023-11`);
    `start` and `end` are the first and last days it covers, for filters and sorting.
    """

    text: str
    start: date
    end: date

    def overlaps(self, since: date | None, until: date | None) -> bool:
        return (since is None or self.end >= since) and (until is None or self.start <= until)


@dataclass(frozen=True)
class Document:
    """One source document: an agenda item, a set of minutes, a report or a transcript."""

    document_id: str
    text: str
    title: str | None = None
    council: str | None = None
    committee: str | None = None
    item: str | None = None
    date: DateSpan | None = None
    source_url: str | None = None
    see_also: tuple[str, ...] = ()
    attribution: str | None = None
    path: str | None = None
    # Character offset at which each page starts, for paged sources (PDF); empty otherwise.
    page_starts: tuple[int, ...] = ()
    # Procedural items (apologies, declarations...) are kept but hidden from results by default.
    procedural: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def page_at(self, offset: int) -> int | None:
        """1-based page holding the character at `offset`, or None for unpaged text."""
        if not self.page_starts:
            return None
        return max(bisect.bisect_right(self.page_starts, offset), 1)


# Kinds of passage the chunker tells apart; "resolution" marks decisions.
PASSAGE_KINDS = ("description", "minutes", "bullet", "resolution", "table", "project", "turn", "text")


@dataclass(frozen=True)
class Passage:
    """A stretch of a document a reader can take in at a glance.

    `text` is exactly `document.text[char_start:char_end]`; `heading` is the context
    (item title, section, project) that is embedded with it but not stored in it.
    """

    document_id: str
    ordinal: int
    char_start: int
    char_end: int
    kind: str
    text: str
    heading: str = ""
    page: int | None = None

    @property
    def passage_id(self) -> str:
        return f"{self.document_id}:{self.ordinal}"


@dataclass(frozen=True)
class Filters:
    """Restrictions applied inside both retrievers, never after them."""

    council: str | None = None
    committee: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    document: str | None = None
    decisions_only: bool = False
    include_procedural: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "council": self.council,
            "committee": self.committee,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "document": self.document,
            "decisions_only": self.decisions_only,
            "include_procedural": self.include_procedural,
        }


@dataclass(frozen=True)
class DocumentInfo:
    """What a hit needs to know about its document (no full text)."""

    document_id: str
    title: str | None
    council: str | None
    committee: str | None
    item: str | None
    date: str | None
    source_url: str | None
    see_also: tuple[str, ...]
    attribution: str | None


@dataclass(frozen=True)
class Hit:
    passage: Passage
    document: DocumentInfo
    score: float
    rank: int
    semantic_score: float | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class SearchResult:
    query: str
    filters: Filters
    hits: list[Hit]
    message: str | None = None

    @property
    def total(self) -> int:
        return len(self.hits)
