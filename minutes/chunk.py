"""Split a document into passages by its structure. Pure: text in, passages out.

Committee papers copied from ModernGov have a recognisable shape: an item title, a
description, "Minutes:", bullet points, "RESOLVED"/"AGREED" decisions, tab-separated
budget tables and "Project" blocks. Each line is classified, consecutive lines of one
kind form a block, and blocks are packed into passages of a readable size: small
neighbours of the same kind and section are merged, long ones split at sentence ends.
Offsets always point into the original text, so a passage is a slice of its document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from minutes.records import Document, Passage

# Bump whenever passages would come out differently: an index built by another
# version must be rebuilt, not silently mixed.
CHUNKER_VERSION = "6"

TARGET_WORDS = 200  # merge neighbours until a passage reaches about this size (bench: docs/benchmarks.md)
MAX_WORDS = 260     # split anything longer; the model reads the first 256 word pieces, keyword search all

_BULLET = re.compile(r"^\s*(?:[·•▪◦●\-*–]|\(?[a-z0-9]{1,3}[).]|\d+\.\d+)\s+", re.IGNORECASE)
# A resolution opens with the word as a heading or a sentence's start ("RESOLVED that", "Agreed:",
# "DECISION –", "It was RESOLVED"): not a label ("Decision maker: ...", "Decision status: ..."),
# a form's heading ("DECISION TO BE TAKEN BY:") or "agreed" inside a wrapped sentence.
_RESOLUTION = re.compile(r"^\s*(?:(?i:it\s+was)\s+)?(?:RESOLVED|Resolved|AGREED|Agreed|RECOMMENDED|Recommended|"
                         r"DECISION|Decision)(?=\s*$|\s*[:–—,.-]|\s+(?i:that|to(?!\s+be\s+taken)|unanimously|"
                         r"as\s+follows|by)\b)")
_SECTION = re.compile(r"^\s*(agenda item|minutes|supporting documents|decision|purpose of report|"
                      r"recommendations?|background|strategic intent)\s*:?\s*$", re.IGNORECASE)
# A resolution that introduces a list ("RESOLVED – That:", a bare "AGREED") runs on across gaps
# while its list items follow; any other paragraph after a gap ends it.
_OPENS_LIST = re.compile(r"(?:[:–—-]|\bthat)\s*$|^\W*(?:it\s+was\s+)?(?:resolved|agreed|decision)\W*$", re.IGNORECASE)
_PROJECT = re.compile(r"^\s*project\t+\s*(\S.*)$", re.IGNORECASE)
_TURN = re.compile(r"^\*\*([^*]{1,80}):\*\*\s")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


@dataclass
class _Block:
    start: int
    end: int
    kind: str
    section: str

    def words(self, text: str) -> int:
        return len(text[self.start:self.end].split())


def _lines(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for line in text.split("\n"):
        yield start, start + len(line)
        start += len(line) + 1


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_title_line(line: str, titles: tuple[str, ...]) -> bool:
    """The document's own title (an item called "Minutes" or "Decision"), not a section marker."""
    bare = " ".join(line.split()).rstrip(":").lower()
    return any(bare == t for t in titles)


def _titles(document: Document) -> tuple[str, ...]:
    """The names a document's first line may carry: its title, its item label with and without number."""
    names = {document.title or "", document.item or ""}
    if document.item:
        names.add(re.sub(r"^\s*(?=[\w/.()-]*\d)[\w/.()-]{1,12}[.)]?\s+", "", document.item, count=1))  # "77/21 Minutes"
    return tuple(" ".join(n.split()).lower() for n in names if n.strip())


def _blocks(text: str, title: str, own_titles: tuple[str, ...] = ()) -> Iterator[_Block]:
    """Classify lines and group consecutive lines of the same kind into blocks."""
    section, project, in_resolution, after_minutes = title, "", False, False
    current: _Block | None = None
    expect_title = False
    first_line = True
    after_gap = list_open = False
    for line_start, line_end in _lines(text):
        start, end = _trim(text, line_start, line_end)
        line = text[start:end]
        if not line:  # a blank line closes a block
            if current:
                yield current
                current = None
            after_gap = True
            continue
        if after_gap and in_resolution and not (list_open and _BULLET.match(line)):
            in_resolution = list_open = False  # the resolution ended at the gap
        after_gap = False
        if expect_title:  # the line after "Agenda item" is the item's own title
            title = section = line
            expect_title = False
            continue
        # A section marker is a label line ("Minutes:", "Decision"); the same words as the
        # document's first line and its own title are the title: an item called "Minutes".
        is_title, first_line = first_line and _is_title_line(line, own_titles), False
        if not is_title and (marker := _SECTION.match(line)):
            if current:
                yield current
                current = None
            name = marker.group(1).lower()
            expect_title = name == "agenda item"
            after_minutes = after_minutes or name == "minutes"
            in_resolution = list_open = name == "decision"
            section = title if name in ("minutes", "agenda item") else f"{title} — {line.rstrip(':')}"
            continue
        if found := _PROJECT.match(line):
            if current:
                yield current
                current = None
            if found.group(1) != project:
                project = found.group(1).strip()
            continue
        if _RESOLUTION.match(line) and not is_title:
            in_resolution = True
        if in_resolution and _OPENS_LIST.search(line):
            list_open = True
        if _TURN.match(line):
            kind = "turn"
        elif in_resolution:
            kind = "resolution"
        elif project:
            kind = "project"
        elif "\t" in line:
            kind = "table"
        elif _BULLET.match(line):
            kind = "bullet"
        else:
            kind = "minutes" if after_minutes else "description"
        heading = f"{title} — Project: {project}" if project else section
        # Bullets and turns stand alone; other lines of one kind run on in one block.
        if current and current.kind == kind and current.section == heading and kind not in ("bullet", "turn"):
            current.end = end
        else:
            if current:
                yield current
            current = _Block(start, end, kind, heading)
    if current:
        yield current


def _split_long(text: str, block: _Block) -> Iterator[_Block]:
    """Cut a long block at sentence ends into pieces of at most MAX_WORDS."""
    if block.words(text) <= MAX_WORDS:
        yield block
        return
    piece_start, words, last_end = block.start, 0, block.start
    cuts = [m.start() for m in _SENTENCE_END.finditer(text, block.start, block.end)] + [block.end]
    for cut in cuts:
        sentence_words = len(text[last_end:cut].split())
        if words and words + sentence_words > MAX_WORDS:
            yield _Block(*_trim(text, piece_start, last_end), block.kind, block.section)
            piece_start, words = last_end, 0
        words += sentence_words
        last_end = cut
    if piece_start < block.end:
        start, end = _trim(text, piece_start, block.end)
        if start < end:
            yield _Block(start, end, block.kind, block.section)


def _hard_split(text: str, block: _Block) -> Iterator[_Block]:
    """A sentence longer than MAX_WORDS (tables, transcripts without stops): cut at word gaps."""
    spans = [m.span() for m in re.finditer(r"\S+", text[block.start:block.end])]
    for i in range(0, len(spans), MAX_WORDS):
        group = spans[i:i + MAX_WORDS]
        yield _Block(block.start + group[0][0], block.start + group[-1][1], block.kind, block.section)


def _pack(text: str, blocks: list[_Block], page_at: Callable[[int], int | None]) -> Iterator[_Block]:
    """Merge small neighbours of one kind, section and page up to TARGET_WORDS.

    A passage never crosses a page break, so its link (URL#page=N) shows all of it.
    """
    current: _Block | None = None
    current_words = 0
    for block in blocks:
        words = block.words(text)
        mergeable = (current is not None and current.section == block.section
                     and current.kind == block.kind and current_words + words <= TARGET_WORDS
                     and page_at(current.start) == page_at(block.start))
        if current is not None and mergeable:
            current.end = block.end
            current_words += words
            continue
        if current is not None:
            yield current
        current, current_words = _Block(block.start, block.end, block.kind, block.section), words
    if current is not None:
        yield current


def chunk_document(document: Document) -> list[Passage]:
    text = document.text
    title = document.item or document.title or document.document_id
    pieces: list[_Block] = []
    for block in _blocks(text, title, _titles(document)):
        for piece in _split_long(text, block):
            pieces.extend(_hard_split(text, piece) if piece.words(text) > MAX_WORDS else [piece])
    return [
        Passage(
            document_id=document.document_id,
            ordinal=ordinal,
            char_start=block.start,
            char_end=block.end,
            kind=block.kind,
            text=text[block.start:block.end],
            heading=block.section,
            page=document.page_at(block.start),
        )
        for ordinal, block in enumerate(_pack(text, pieces, document.page_at))
    ]
