"""Fts5KeywordIndex: bm25 over passage text and heading with SQLite FTS5 (porter stemming).

Everything FTS5 knows stays here: the MATCH syntax a `KeywordQuery` renders to (every term
quoted, so what people type never reaches the engine raw), the column weights, and the
pruning of very frequent words that keeps large indexes fast.
"""

from __future__ import annotations

import copy
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from minutes.records import Filters
from minutes.storage.base import KeywordHits
from minutes.storage.sqlite_faiss.passages import Database, SqlitePassageStore, filter_sql
from minutes.text.query import KeywordQuery

# Pruning never applies below this many passages per word: small indexes are cheap to search
# whole, and there every word still counts (docs/benchmarks.md).
PRUNE_MIN_PASSAGES = 1000
_DF_CACHE_SIZE = 50_000
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Fts5Tuning:
    text_weight: float = 1.0      # bm25 weights of the columns (passage text, heading)
    heading_weight: float = 0.3
    # A plain word found in more than this share of the passages (and in at least
    # PRUNE_MIN_PASSAGES) is left out of the OR query; one word always stays. Such words add
    # little to bm25 but make FTS5 score huge posting lists. 0: keep every word (and no budget).
    prune_share: float = 0.05
    # Then words are kept rarest first while the passages they select add up to at most this
    # many: FTS5's time grows with that sum, so this bounds a search at any corpus size. 0: none.
    keyword_postings: int = 40_000


def quote(text: str) -> str:
    # Inside double quotes FTS5 treats everything as a string; keep only word characters.
    return '"' + " ".join(_WORD.findall(text)) + '"'


def match_expression(query: KeywordQuery) -> str | None:
    """The FTS5 MATCH expression for the passages `query` selects, or None."""
    if query.required:
        positive = " AND ".join("(" + " OR ".join(quote(p) for p in group) + ")" for group in query.required)
    elif query.optional:
        positive = " OR ".join(quote(w) for w in query.optional)
    else:
        return None
    if query.excluded:
        return f"({positive}) NOT ({' OR '.join(quote(e) for e in query.excluded)})"
    return positive


class Fts5KeywordIndex:
    def __init__(self, database: Database, store: SqlitePassageStore, passages: int,
                 tuning: Fts5Tuning | None = None) -> None:
        self.sql = database.sql
        self.store = store
        self.tuning = tuning or Fts5Tuning()
        self._passages = passages
        self._df: dict[str, tuple[int, int]] = {}  # word -> (passages holding it, the cap it stopped at)
        self._df_lock = threading.Lock()

    def with_tuning(self, tuning: Fts5Tuning) -> Fts5KeywordIndex:
        """The same index searched with other weights or pruning (benchmarks)."""
        other = copy.copy(self)  # shares the database and the word counts, which no tuning changes
        other.tuning = tuning
        return other

    def search(self, query: KeywordQuery, filters: Filters, limit: int, *,
               score_also: Sequence[int] = ()) -> KeywordHits:
        """One FTS5 pass: FTS5 scores every passage the query selects whatever the LIMIT, so the
        bm25 of `score_also` is read from the same scan, sorted first. No join without filters."""
        match = match_expression(self._pruned(query))
        if match is None:
            return KeywordHits([], {})
        also = list(score_also)
        params: list[object] = []
        if self.store.restricts(filters):
            where, params = filter_sql(filters)
            source = "passages_fts f JOIN passages p ON p.id = f.rowid JOIN documents d ON d.doc = p.doc"
        else:
            source, where = "passages_fts f", "1"
        first = f"f.rowid IN ({','.join('?' * len(also))})" if also else "0"
        t = self.tuning
        try:
            rows = self.sql(f"SELECT f.rowid, bm25(passages_fts, ?, ?) AS s, {first} AS c FROM {source} "
                            f"WHERE passages_fts MATCH ? AND {where} ORDER BY c DESC, s LIMIT ?",
                            [t.text_weight, t.heading_weight, *also, match, *params, limit + len(also)])
        except sqlite3.OperationalError:
            return KeywordHits([], {})  # every term is quoted, so this is a safety net, not a path
        scored = {row[0]: -row[1] for row in rows if row[2]}
        # The best `limit` overall lie among the candidates found and the best `limit` others.
        best = sorted(((row[0], -row[1]) for row in rows), key=lambda item: -item[1])[:limit]
        return KeywordHits(best, scored)

    def select(self, query: KeywordQuery, filters: Filters) -> set[int]:
        match = match_expression(replace(query, optional=()))
        if match is None or not query.required:
            return set()
        where, params = filter_sql(filters)
        rows = self.sql("SELECT f.rowid FROM passages_fts f JOIN passages p ON p.id = f.rowid "
                        f"JOIN documents d ON d.doc = p.doc WHERE passages_fts MATCH ? AND {where}", [match, *params])
        return {row[0] for row in rows}

    def excluded(self, query: KeywordQuery) -> set[int]:
        if not query.excluded:
            return set()
        match = " OR ".join(quote(e) for e in query.excluded)
        return {row[0] for row in self.sql("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", [match])}

    def holds_all_words(self, words: Sequence[str], among: Sequence[int]) -> bool:
        among = list(among)
        if not among or not words:
            return False
        match = " AND ".join(quote(word) for word in words)
        rows = self.sql(f"SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? AND rowid IN "
                        f"({','.join('?' * len(among))}) LIMIT 1", [match, *among])
        return bool(rows)

    def _document_frequency(self, word: str, cap: int) -> int:
        """Passages holding `word`, counted up to `cap` + 1; a count cut at a lower cap is redone."""
        count, counted_to = self._df.get(word, (None, 0))
        if count is None or cap >= count > counted_to:
            try:
                count = self.sql("SELECT count(*) FROM (SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? "
                                 "LIMIT ?)", [quote(word), cap + 1])[0][0]
            except sqlite3.OperationalError:
                count = 0
            with self._df_lock:
                if len(self._df) >= _DF_CACHE_SIZE:
                    self._df.clear()
                self._df[word] = (count, cap)
        return count

    def _pruned(self, query: KeywordQuery) -> KeywordQuery:
        """`query` without its very frequent plain words, and within the postings budget.

        Quoted phrases and exclusions are untouched, and a query never becomes empty: when every
        word is over the cap, the rarest as counted stays.
        """
        t = self.tuning
        if query.required or len(query.optional) < 2 or t.prune_share <= 0:
            return query
        cap = int(t.prune_share * self._passages)
        if cap < PRUNE_MIN_PASSAGES:
            return query
        counts = {word: self._document_frequency(word, cap) for word in query.optional}
        keep = [w for w in query.optional if counts[w] <= cap] or [min(query.optional, key=counts.__getitem__)]
        if t.keyword_postings > 0:
            total, within = 0, set[str]()
            for word in sorted(keep, key=counts.__getitem__):  # rarest first (ties: query order)
                total += counts[word]
                if within and total > t.keyword_postings:
                    break
                within.add(word)
            keep = [w for w in keep if w in within]
        return query if len(keep) == len(query.optional) else replace(query, optional=tuple(keep))
