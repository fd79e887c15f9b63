"""A short answer to a question, quoted from the passages that best answer it. Pure library.

Extractive, never generative: the top passages are cut into sentences, each sentence is
scored against the question (embedding similarity plus how many of the question's words it
holds), and the best few are quoted with a numbered citation to their passage. Before a
sentence is shown it is checked to appear verbatim in the passage it cites; a sentence that
does not is refused. When no sentence is close enough, the answer says so instead of padding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from cachetools import LRUCache

from minutes.embed import Embedder
from minutes.errors import MinutesError
from minutes.records import Hit
from minutes.search.query import PreparedQuery
from minutes.text import sentences
from minutes.text.query import STOPWORDS
from minutes.text.stem import stems, words

log = logging.getLogger("minutes")

# Sentence score = cosine + KEYWORD_WEIGHT * share of the question's words present.
KEYWORD_WEIGHT = 0.3
# Best score below which the passages are judged not to answer the question, per model.
THRESHOLDS = {"minilm": 0.58, "hashing": 0.30}
MAX_SENTENCES = 3
ANSWER_PASSAGES = 5       # only the top passages are quoted
MIN_WORDS, MAX_WORDS = 5, 70
# Sentences embedded per question (in passage order); later ones are scored on their words alone,
# which keeps a page of long passages fast on a small CPU.
MAX_EMBEDDED = 48
CACHE_SIZE = 4096

_LEADERS = " \t\u00a0·•*–-"  # bullets and the space around them are not part of a quote

NO_HITS = "No passages match this question, so there is no answer to quote."
NOT_ANSWERED = ("The passages found do not answer this question directly; "
                "read the passages below, or try other words.")


class CitationError(MinutesError, ValueError):
    """A quoted sentence that does not appear verbatim in the passage it cites."""


@dataclass(frozen=True)
class ScoredSentence:
    hit: Hit
    start: int            # offsets in hit.passage.text
    end: int
    score: float

    @property
    def text(self) -> str:
        return self.hit.passage.text[self.start:self.end]


@dataclass(frozen=True)
class Citation:
    number: int
    hit: Hit


@dataclass(frozen=True)
class Quote:
    text: str
    citation: int         # Citation.number
    score: float


@dataclass(frozen=True)
class Answer:
    query: str
    answered: bool
    quotes: tuple[Quote, ...]
    citations: tuple[Citation, ...]
    message: str | None = None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or line of `text`, without the bullet or space around it."""
    spans = []
    for start, end in sentences.sentence_spans(text):
        piece = text[start:end]
        start += len(piece) - len(piece.lstrip(_LEADERS))
        if end > start:
            spans.append((start, end))
    return spans


def _content_words(text: str) -> set[str]:
    """The stems of the words that carry meaning (the same stems the keyword engine matches)."""
    return set(stems(w for w in words(text) if len(w) > 2 and w.lower() not in STOPWORDS))


def _quotable(text: str) -> bool:
    count = len(text.split())
    return MIN_WORDS <= count <= MAX_WORDS and not text.lstrip().startswith("|")


_cache: LRUCache[tuple[str, str], np.ndarray] = LRUCache(maxsize=CACHE_SIZE)
_cache_lock = threading.Lock()  # an LRUCache is not thread-safe; the server answers on a thread pool


def _encode(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Unit vectors for `texts`, reusing those of sentences seen lately (paging re-reads them)."""
    with _cache_lock:
        known = {t: _cache[(embedder.name, t)] for t in texts if (embedder.name, t) in _cache}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        fresh = embedder.encode(missing)
        with _cache_lock:
            for text, vector in zip(missing, fresh, strict=True):
                known[text] = vector
                _cache[(embedder.name, text)] = vector
    return np.stack([known[t] for t in texts]) if texts else np.zeros((0, embedder.dimension), np.float32)


def _text(query: str | PreparedQuery) -> str:
    return query.text if isinstance(query, PreparedQuery) else query


def score_sentences(query: str | PreparedQuery, hits: Sequence[Hit], embedder: Embedder) -> list[ScoredSentence]:
    """Every quotable sentence of `hits`, scored against `query` (the first MAX_EMBEDDED by the model).

    A `PreparedQuery` brings the vector the search already made: the question is embedded once a page.
    """
    candidates = [(hit, s, e) for hit in hits for s, e in sentence_spans(hit.passage.text)
                  if _quotable(hit.passage.text[s:e])]
    if not candidates:
        return []
    texts = [hit.passage.text[s:e] for hit, s, e in candidates]
    query_vector = query.vector if isinstance(query, PreparedQuery) else embedder.encode([query])[0]
    embedded = _encode(embedder, texts[:MAX_EMBEDDED])
    cosines = list(np.asarray(embedded @ query_vector)) + [0.0] * (len(texts) - len(embedded))
    asked = _content_words(_text(query))
    scored = []
    for (hit, s, e), text, cosine in zip(candidates, texts, cosines, strict=True):
        overlap = len(asked & _content_words(text)) / len(asked) if asked else 0.0
        scored.append(ScoredSentence(hit, s, e, round(float(cosine) + KEYWORD_WEIGHT * overlap, 4)))
    return scored


def best_sentences(scored: Sequence[ScoredSentence]) -> dict[str, tuple[int, int]]:
    """For each passage id, the span of its sentence that best matches the question."""
    best: dict[str, ScoredSentence] = {}
    for sentence in scored:
        pid = sentence.hit.passage.passage_id
        if pid not in best or sentence.score > best[pid].score:
            best[pid] = sentence
    return {pid: (s.start, s.end) for pid, s in best.items()}


def verify(quote: str, hit: Hit) -> None:
    """Raise CitationError unless `quote` appears verbatim in the passage of `hit`."""
    if not quote.strip() or quote not in hit.passage.text:
        raise CitationError(f"the quoted sentence does not appear in passage {hit.passage.passage_id}")


def checked(answer: Answer) -> Answer:
    """`answer` with every quote that its cited passage does not contain refused (dropped)."""
    by_number = {c.number: c.hit for c in answer.citations}
    kept = []
    for quote in answer.quotes:
        try:
            hit = by_number.get(quote.citation)
            if hit is None:
                raise CitationError(f"citation [{quote.citation}] does not exist")
            verify(quote.text, hit)
        except CitationError as exc:
            log.warning("refused a quote in the answer to %r: %s", answer.query, exc)
            continue
        kept.append(quote)
    used = {q.citation for q in kept}
    citations = tuple(c for c in answer.citations if c.number in used)
    if not kept:
        return replace(answer, answered=False, quotes=(), citations=(),
                       message=answer.message or NOT_ANSWERED)
    return replace(answer, quotes=tuple(kept), citations=citations)


def build_answer(question: str | PreparedQuery, hits: Sequence[Hit], embedder: Embedder,
                 scored: Sequence[ScoredSentence] | None = None,
                 threshold: float | None = None) -> Answer:
    """The best few sentences of the top passages, each cited; checked before it is returned."""
    query = _text(question)
    top = list(hits[:ANSWER_PASSAGES])
    if not top:
        return Answer(query, False, (), (), NO_HITS)
    top_ids = {h.passage.passage_id for h in top}
    if scored is None:
        scored = score_sentences(question, top, embedder)
    pool = sorted((s for s in scored if s.hit.passage.passage_id in top_ids), key=lambda s: -s.score)
    limit = THRESHOLDS.get(embedder.name, 0.5) if threshold is None else threshold
    if not pool or pool[0].score < limit:
        return Answer(query, False, (), (), NOT_ANSWERED)
    chosen: list[ScoredSentence] = []
    seen_words: list[set[str]] = []
    for sentence in pool:
        if sentence.score < max(limit, pool[0].score - 0.15) or len(chosen) == MAX_SENTENCES:
            break
        words = _content_words(sentence.text)
        if any(len(words & other) >= 0.7 * max(1, min(len(words), len(other))) for other in seen_words):
            continue  # says the same as a sentence already quoted
        chosen.append(sentence)
        seen_words.append(words)
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    quotes = []
    for sentence in chosen:
        pid = sentence.hit.passage.passage_id
        if pid not in numbers:
            numbers[pid] = len(numbers) + 1
            citations.append(Citation(numbers[pid], sentence.hit))
        quotes.append(Quote(sentence.text, numbers[pid], sentence.score))
    return checked(Answer(query, True, tuple(quotes), tuple(citations)))
