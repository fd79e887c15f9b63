"""The one search function behind the CLI, the JSON API and the HTML pages.

Hybrid retrieval: FTS5 (bm25) finds the exact names and figures that embeddings blur;
FAISS finds passages that say the same thing in other words. Both run with the filters
inside them, their rankings are fused, near-duplicates are collapsed, and a relevance
floor answers "no results" instead of returning the nearest nonsense.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

import numpy as np

from .embed import Embedder
from .keyword import KeywordQuery, parse_query
from .records import Filters, Hit, SearchResult
from .store import Index
from .vector_index import search_vectors

MAX_QUERY_CHARS = 1000
MAX_K = 100


class QueryError(ValueError):
    """A query that cannot be searched; the message says what to change."""


@dataclass(frozen=True)
class Tuning:
    """How the two rankings are combined. Chosen on the dev sets (docs/benchmarks.md)."""

    pool: int = 100               # candidates taken from each retriever
    rrf_k: float = 60.0           # reciprocal rank fusion constant
    semantic_weight: float = 1.0
    keyword_weight: float = 1.0
    # Relevance floor on cosine similarity: a passage below it is kept only when the keyword
    # side also found it; when nothing reaches it, there are no results. None: the model's own.
    floor: float | None = None
    duplicate_overlap: float = 0.8  # word-set overlap above which two passages are the same


def validate_query(query: str, k: int) -> str:
    cleaned = "".join(ch for ch in query if ch.isprintable() or ch in "\t\n").strip()
    if not cleaned:
        raise QueryError("the query is empty; type some words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, not {k}")
    return cleaned


def _filter_sql(filters: Filters) -> tuple[str, list[object]]:
    clauses, params = [], []
    if filters.council:
        clauses.append("d.council = ? COLLATE NOCASE")
        params.append(filters.council)
    if filters.committee:
        clauses.append("d.committee = ? COLLATE NOCASE")
        params.append(filters.committee)
    if filters.document:
        clauses.append("d.document_id = ?")
        params.append(filters.document)
    if filters.date_from:  # a document matches when its date interval overlaps the filter
        clauses.append("d.date_end >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        clauses.append("d.date_start <= ?")
        params.append(filters.date_to.isoformat())
    if not filters.include_procedural:
        clauses.append("d.procedural = 0")
    if filters.decisions_only:
        clauses.append("p.kind = 'resolution'")
    return " AND ".join(clauses) or "1", params


_WORDS = re.compile(r"\w+")


def _word_set(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORDS.findall(text))


class Searcher:
    def __init__(self, index: Index, embedder: Embedder, tuning: Tuning | None = None) -> None:
        index.check_compatible(embedder.name, embedder.dimension)
        self.index, self.embedder = index, embedder
        self.tuning = tuning or Tuning()
        self._has_procedural = bool(index.sql("SELECT 1 FROM documents WHERE procedural = 1 LIMIT 1"))

    def _allowed_ids(self, filters: Filters) -> np.ndarray | None:
        if filters == Filters(include_procedural=filters.include_procedural) and (
                filters.include_procedural or not self._has_procedural):
            return None  # no restriction: search everything
        where, params = _filter_sql(filters)
        rows = self.index.sql(f"SELECT p.id FROM passages p JOIN documents d ON d.doc = p.doc WHERE {where}", params)
        return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))

    def _keyword(self, parsed: KeywordQuery, filters: Filters, limit: int) -> list[int]:
        match = parsed.match
        if match is None:
            return []
        where, params = _filter_sql(filters)
        try:
            rows = self.index.sql(
                "SELECT f.rowid FROM passages_fts f JOIN passages p ON p.id = f.rowid JOIN documents d ON d.doc = p.doc "
                f"WHERE passages_fts MATCH ? AND {where} ORDER BY bm25(passages_fts, 1.0, 0.3) LIMIT ?",
                [match, *params, limit])
        except sqlite3.OperationalError:
            return []  # parse_query quotes every term, so this is a safety net, not a path
        return [row[0] for row in rows]

    def _excluded_ids(self, parsed: KeywordQuery) -> set[int]:
        if not parsed.exclusion_match:
            return set()
        rows = self.index.sql("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", [parsed.exclusion_match])
        return {row[0] for row in rows}

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> SearchResult:
        filters = filters or Filters()
        query = validate_query(query, k)
        tuning = self.tuning
        floor = self.embedder.floor if tuning.floor is None else tuning.floor
        parsed = parse_query(query)
        allowed = self._allowed_ids(filters)
        if parsed.required:  # quoted phrases are a requirement, for both retrievers
            required = set(self._keyword(parsed, filters, 1_000_000))
            allowed = np.array(sorted(required), dtype=np.int64)

        vector = self.embedder.encode([query])[0]
        scores, ids = search_vectors(self.index.vectors, vector, tuning.pool, allowed)
        semantic = {int(i): float(s) for i, s in zip(ids, scores, strict=True)}
        keyword = self._keyword(parsed, filters, tuning.pool)
        excluded = self._excluded_ids(parsed)

        fused: dict[int, float] = {}
        for rank, pid in enumerate(semantic, 1):
            fused[pid] = fused.get(pid, 0.0) + tuning.semantic_weight / (tuning.rrf_k + rank)
        keyword_rank = {pid: rank for rank, pid in enumerate(keyword, 1)}
        for pid, rank in keyword_rank.items():
            fused[pid] = fused.get(pid, 0.0) + tuning.keyword_weight / (tuning.rrf_k + rank)

        # Cosine for keyword-only candidates, so the floor can judge them too.
        missing = [pid for pid in fused if pid not in semantic]
        if missing:
            stored = np.stack([self.index.vectors.reconstruct(pid) for pid in missing])
            semantic.update({pid: float(s) for pid, s in zip(missing, stored @ vector, strict=True)})

        best = max(semantic.values(), default=0.0)
        if best < floor and not parsed.required:
            return SearchResult(query, filters, [], "No passages match this question closely enough. "
                                                    "Try other words, or fewer filters.")
        ranked = sorted((pid for pid in fused if pid not in excluded), key=lambda pid: -fused[pid])
        ranked = [pid for pid in ranked if semantic[pid] >= floor or pid in keyword_rank]
        details = self.index.passages_by_id(ranked[: max(4 * k, 40)])
        hits: list[Hit] = []
        seen: list[frozenset[str]] = []
        for pid in ranked:
            if pid not in details:
                continue
            passage, info, _ = details[pid]
            words = _word_set(passage.text)
            if any(len(words & other) >= tuning.duplicate_overlap * min(len(words), len(other)) for other in seen):
                continue  # a near-duplicate of a better-ranked passage
            seen.append(words)
            hits.append(Hit(passage, info, round(fused[pid], 6), len(hits) + 1,
                            round(semantic[pid], 4), keyword_rank.get(pid)))
            if len(hits) == k:
                break
        message = None if hits else "No passages match. Try other words, or fewer filters."
        return SearchResult(query, filters, hits, message)


def open_searcher(index_dir, model: str, threads: int | None = None, tuning: Tuning | None = None) -> Searcher:
    """Open the serving index and the model it was built with, checking they match."""
    from .embed import load_embedder
    from .store import open_index

    index = open_index(index_dir)
    if index.manifest.model != model:
        index.check_compatible(model, -1)  # raises with the rebuild message
    return Searcher(index, load_embedder(model, threads=threads), tuning)
