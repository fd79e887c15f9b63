""""The same word" for retrieval, highlighting and the answer: English Snowball stems.

PyStemmer's `english` algorithm is Snowball English (Porter2), the stemmer that tantivy's
`en_stem` tokenizer runs (the rust-stemmers port of the same Snowball source). Words are the
runs of letters and digits, lower-cased, as tantivy's simple tokenizer cuts them, so a passage
retrieved for `policies` is marked where it says "policy" (both stem to `polici`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

import Stemmer

WORD = re.compile(r"[^\W_]+")  # letters and digits: tantivy splits at every other character

_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # A Stemmer keeps per-call buffers and a cache, and is not safe to share between threads
    # (the web server answers on a thread pool): one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def stem(word: str) -> str:
    """The stem of one word (`policies` and `policy` → `polici`)."""
    return _stemmer().stemWord(word.lower())


def stems(words: Iterable[str]) -> list[str]:
    return _stemmer().stemWords([w.lower() for w in words])


def words(text: str) -> list[str]:
    """The words of `text`, as the keyword engine's tokenizer cuts them (not yet stemmed)."""
    return WORD.findall(text)
