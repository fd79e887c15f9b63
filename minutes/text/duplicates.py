"""When two search hits are the same passage twice: the rule for collapsing near-duplicates.

Real minutes often restate the agenda text ("The Committee considered a report of the
Governance and Scrutiny Support Unit which set out its Work Programme" after the blurb
"The report of the Governance and Scrutiny Support Unit, attached."). Measuring word
overlap against the smaller passage calls those a pair, and an item's minute then
vanishes behind its own blurb. Two rules instead:

- only true duplicates collapse: the shared words must be most of BOTH passages (overlap
  measured against the larger one), so a short passage inside a long one is not a copy;
- a minute or a decision never collapses into a passage of another kind (a description,
  a bullet): it is what the reader came for, even when it repeats the agenda.
"""

from __future__ import annotations

import re

OVERLAP = 0.8  # the share of the larger passage's words both must hold
KEPT_KINDS = frozenset({"minutes", "resolution"})  # never hidden behind a passage of another kind

_WORDS = re.compile(r"\w+")


def word_set(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORDS.findall(text))


def is_duplicate(a_text: str, a_kind: str, b_text: str, b_kind: str, overlap: float = OVERLAP) -> bool:
    """Whether passage `a` (ranked lower) repeats passage `b` (ranked higher) and may be dropped."""
    if a_kind in KEPT_KINDS and a_kind != b_kind:
        return False
    a_words, b_words = word_set(a_text), word_set(b_text)
    if not a_words or not b_words:
        return a_text.strip() == b_text.strip()
    return repeats(a_words, a_kind, b_words, b_kind, overlap)


def repeats(a_words: frozenset[str], a_kind: str, b_words: frozenset[str], b_kind: str,
            overlap: float = OVERLAP) -> bool:
    """`is_duplicate` on word sets made once (the search compares each hit with every one kept)."""
    if a_kind in KEPT_KINDS and a_kind != b_kind:
        return False
    if not a_words or not b_words:
        return not a_words and not b_words
    return len(a_words & b_words) >= overlap * max(len(a_words), len(b_words))
