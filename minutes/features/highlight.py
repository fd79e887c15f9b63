"""Where the query's words occur in a passage, for highlighting. Pure, no markup.

Renderers turn the spans into <mark> elements (escaping the text between them), so
nothing user-supplied is ever rendered unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from minutes.text.query import parse_query


def _pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in term.split()]
    # A word's stem matches its inflections ("break" → "breaks"), as FTS5's porter stemmer does.
    stems = [w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words]
    return re.compile(r"\b" + r"\W+".join(stems) + r"\w*", re.IGNORECASE)


def highlight_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping (start, end) spans of `text` that match any term."""
    spans = sorted(m.span() for term in terms if term.strip() for m in _pattern(term).finditer(text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
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
