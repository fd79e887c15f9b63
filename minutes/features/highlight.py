"""Where the query's words occur in a passage, for highlighting. Pure, no markup.

Renderers turn the spans into <mark> elements (escaping the text between them), so
nothing user-supplied is ever rendered unescaped.
"""

from __future__ import annotations

from collections.abc import Iterable

from minutes.text.query import parse_query
from minutes.text.stem import WORD, stems, words


def highlight_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping (start, end) spans of `text` that match any term.

    A term matches where the text has its words in order with the same stems, so `policies`
    marks "policy" and "break" marks "breaks", exactly the words the keyword engine matched.
    """
    found = list(WORD.finditer(text))
    text_stems = stems(m.group() for m in found)
    spans: list[tuple[int, int]] = []
    for term in terms:
        wanted = stems(words(term))
        n = len(wanted)
        if n:
            spans.extend((found[i].start(), found[i + n - 1].end()) for i, stem in enumerate(text_stems)
                         if stem == wanted[0] and text_stems[i:i + n] == wanted)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def query_terms(query: str) -> tuple[str, ...]:
    return parse_query(query).highlight_terms


def segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is_match) in order, ready for a template to escape and mark."""
    pieces, at = [], 0
    for start, end in spans:
        if start > at:
            pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces
