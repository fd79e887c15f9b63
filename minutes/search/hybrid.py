"""The one search function behind the CLI, the JSON API, the HTML pages and the benchmarks.

Hybrid retrieval: FTS5 (bm25) finds the exact names and figures that embeddings blur;
FAISS finds passages that say the same thing in other words. Both run with the filters
inside them, their rankings are fused, near-duplicates are collapsed, and a relevance
floor answers "no results" instead of returning the nearest nonsense.

`Tuning.mode` picks the method: `hybrid` (Minutes' own, the default) or one of the
baselines kept for comparison in `bench/relevance.py`: `keyword` (bm25 alone), `semantic`
(cosine alone) and `rrf` (plain reciprocal rank fusion, k = 60). The baselines have no
floor and no duplicate collapsing; filters, quoted phrases and exclusions apply to all.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass, replace

import numpy as np

from minutes.embed import Embedder
from minutes.errors import QueryError
from minutes.records import Filters, Hit, SearchResult
from minutes.storage.sqlite_faiss.store import Index
from minutes.storage.sqlite_faiss.vectors import search_vectors
from minutes.text.query import KeywordQuery, parse_query

MAX_QUERY_CHARS = 1000
MAX_K = 100
MODES = ("hybrid", "rrf", "keyword", "semantic")
# Keyword-side pruning never applies below this many passages per word: small indexes are
# cheap to search whole, and there every word still counts (docs/benchmarks.md).
PRUNE_MIN_PASSAGES = 1000
_DF_CACHE_SIZE = 50_000

NO_MATCH_FLOOR = ("No passages match this question closely enough. Try other words, or fewer filters.")
NO_MATCH = "No passages match. Try other words, or fewer filters."




@dataclass(frozen=True)
class Tuning:
    """How the two rankings are combined. Chosen on the dev sets (docs/benchmarks.md)."""

    mode: str = "hybrid"          # hybrid | rrf | keyword | semantic (see the module docstring)
    fusion: str = "score"         # hybrid only: "score" (normalised bm25 + cosine) or "rrf" (ranks)
    pool: int = 100               # candidates taken from each retriever
    rrf_k: float = 60.0           # reciprocal rank fusion constant
    semantic_weight: float = 0.5
    keyword_weight: float = 1.0
    # hybrid score fusion: share of the mean fused score of a passage's two neighbours added to its own
    neighbour_weight: float = 0.4
    # bm25 weights of the FTS columns (passage text, heading).
    text_weight: float = 1.0
    heading_weight: float = 0.3
    # Relevance floor on cosine similarity (hybrid only): when no passage of the index reaches it
    # and no candidate holds every query word, there are no results. None: the model's own.
    floor: float | None = None
    duplicate_overlap: float = 0.8  # word-set overlap above which two passages are the same
    # Keyword side: a plain word found in more than this share of the passages (and in at least
    # PRUNE_MIN_PASSAGES) is left out of the FTS5 OR query; one word always stays. Such
    # words add little to bm25 but make FTS5 score huge posting lists. 0: keep every word
    # (and no budget below).
    prune_share: float = 0.05
    # Then, on the same indexes, words are kept rarest first while the passages they select add
    # up to at most this many: FTS5's time grows with that sum (bm25 per row, then a sort), so
    # this bounds a search's keyword side at any corpus size. 0: no budget.
    keyword_postings: int = 40_000

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown search mode '{self.mode}'; choose one of: {', '.join(MODES)}")
        if self.fusion not in ("score", "rrf"):
            raise ValueError(f"unknown fusion '{self.fusion}'; choose score or rrf")


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
    clauses: list[str] = []
    params: list[object] = []
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


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


class Searcher:
    def __init__(self, index: Index, embedder: Embedder, tuning: Tuning | None = None) -> None:
        index.check_compatible(embedder.name, embedder.dimension)
        self.index, self.embedder = index, embedder
        self.tuning = tuning or Tuning()
        self._has_procedural = bool(index.sql("SELECT 1 FROM documents WHERE procedural = 1 LIMIT 1"))
        self._passages = index.manifest.passages
        # word -> (passages holding it, the cap that count stopped at)
        self._df: dict[str, tuple[int, int]] = {}
        self._df_lock = threading.Lock()

    def _unrestricted(self, filters: Filters) -> bool:
        """Whether `filters` let every passage of the index through (the common case)."""
        return filters == Filters(include_procedural=filters.include_procedural) and (
            filters.include_procedural or not self._has_procedural)

    def _allowed_ids(self, filters: Filters) -> np.ndarray | None:
        if self._unrestricted(filters):
            return None  # no restriction: search everything
        where, params = _filter_sql(filters)
        rows = self.index.sql(f"SELECT p.id FROM passages p JOIN documents d ON d.doc = p.doc WHERE {where}", params)
        return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))

    def _document_frequency(self, word: str, cap: int) -> int:
        """Passages holding `word` (as FTS5 stems it), counted up to `cap` + 1; cached per index.

        A count that stopped at an earlier, lower cap is counted again (tunings may differ per search).
        """
        count, counted_to = self._df.get(word, (None, 0))
        if count is None or cap >= count > counted_to:
            try:
                count = self.index.sql("SELECT count(*) FROM (SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? "
                                       "LIMIT ?)", [f'"{word}"', cap + 1])[0][0]
            except sqlite3.OperationalError:
                count = 0
            with self._df_lock:
                if len(self._df) >= _DF_CACHE_SIZE:
                    self._df.clear()
                self._df[word] = (count, cap)
        return count

    def _pruned(self, parsed: KeywordQuery, tuning: Tuning) -> KeywordQuery:
        """`parsed` without its very frequent plain words, and within the postings budget, for
        the bm25 retrieval and scoring.

        Quoted phrases and exclusions are untouched (a query with phrases matches on them
        alone), and a query never becomes empty: when every word is over the cap, the rarest
        as counted (counts stop at the cap, so the first of those) stays.
        """
        if parsed.required or len(parsed.optional) < 2 or tuning.prune_share <= 0:
            return parsed
        cap = int(tuning.prune_share * self._passages)
        if cap < PRUNE_MIN_PASSAGES:
            return parsed
        counts = {word: self._document_frequency(word, cap) for word in parsed.optional}
        keep = [w for w in parsed.optional if counts[w] <= cap] or [min(parsed.optional, key=counts.__getitem__)]
        if tuning.keyword_postings > 0:
            total, within = 0, set[str]()
            for word in sorted(keep, key=counts.__getitem__):  # rarest first (ties: query order); it always stays
                total += counts[word]
                if within and total > tuning.keyword_postings:
                    break
                within.add(word)
            keep = [w for w in keep if w in within]
        return parsed if len(keep) == len(parsed.optional) else replace(parsed, optional=tuple(keep))

    def _keyword(self, parsed: KeywordQuery, filters: Filters, limit: int, tuning: Tuning | None = None,
                 also: list[int] | None = None) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """(passage id, bm25 score; lower is better) for the passages the query selects, best first;
        and the bm25 of those of `also` that the query selects, found in the same FTS5 pass.

        One pass, not two: FTS5 scores every passage the query selects whatever the LIMIT, so
        the semantic candidates' bm25 (`_fuse_scores`) is read from the same scan, sorted
        first. No join to passages and documents when no filter applies.
        """
        match = parsed.match
        if match is None:
            return [], {}
        tuning = tuning or self.tuning
        also = also or []
        params: list[object] = []
        if self._unrestricted(filters):
            source, where = "passages_fts f", "1"
        else:
            where, params = _filter_sql(filters)
            source = "passages_fts f JOIN passages p ON p.id = f.rowid JOIN documents d ON d.doc = p.doc"
        first = f"f.rowid IN ({','.join('?' * len(also))})" if also else "0"
        try:
            rows = self.index.sql(
                f"SELECT f.rowid, bm25(passages_fts, ?, ?) AS s, {first} AS c FROM {source} "
                f"WHERE passages_fts MATCH ? AND {where} ORDER BY c DESC, s LIMIT ?",
                [tuning.text_weight, tuning.heading_weight, *also, match, *params, limit + len(also)])
        except sqlite3.OperationalError:
            return [], {}  # parse_query quotes every term, so this is a safety net, not a path
        scored = {row[0]: row[1] for row in rows if row[2]}
        # The best `limit` overall lie among the candidates found and the best `limit` others.
        best = sorted(((row[0], row[1]) for row in rows), key=lambda item: item[1])[:limit]
        return best, scored

    def _excluded_ids(self, parsed: KeywordQuery) -> set[int]:
        if not parsed.exclusion_match:
            return set()
        rows = self.index.sql("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", [parsed.exclusion_match])
        return {row[0] for row in rows}

    def search(self, query: str, k: int = 10, filters: Filters | None = None,
               tuning: Tuning | None = None) -> SearchResult:
        """The top `k` passages for `query` within `filters`; `tuning` overrides the searcher's own."""
        filters = filters or Filters()
        query = validate_query(query, k)
        tuning = tuning or self.tuning
        mode = tuning.mode
        parsed = parse_query(query)
        allowed = self._allowed_ids(filters)
        if parsed.required:  # quoted phrases are a requirement, for both retrievers
            required = {pid for pid, _ in self._keyword(parsed, filters, 1_000_000, tuning)[0]}
            allowed = np.array(sorted(required), dtype=np.int64)
        excluded = self._excluded_ids(parsed)

        semantic: dict[int, float] = {}
        vector = None
        if mode != "keyword":
            vector = self.embedder.encode([query])[0]
            pool = max(tuning.pool, k + len(excluded)) if mode == "semantic" else tuning.pool
            scores, ids = search_vectors(self.index.vectors, vector, pool, allowed)
            semantic = {int(i): float(s) for i, s in zip(ids, scores, strict=True) if int(i) not in excluded}
        keyword: list[tuple[int, float]] = []
        scored: dict[int, float] = {}
        score_fusion = mode == "hybrid" and tuning.fusion == "score"
        ranking = self._pruned(parsed, tuning)  # the words that retrieve and score by bm25
        if mode != "semantic":
            keyword, scored = self._keyword(ranking, filters, tuning.pool if mode != "keyword" else k, tuning,
                                            also=list(semantic) if score_fusion else None)
        keyword_rank = {pid: rank for rank, (pid, _) in enumerate(keyword, 1)}

        if mode == "keyword":
            ranked, fused = list(keyword_rank), {pid: -s for pid, s in keyword}
        elif mode == "semantic":
            ranked, fused = list(semantic), semantic
        else:
            if score_fusion:
                assert vector is not None
                fused = self._fuse_scores(semantic, keyword, vector, ranking, tuning, scored)
            elif mode == "rrf":  # the baseline: plain, equal weights
                fused = self._fuse(semantic, keyword_rank, Tuning(rrf_k=tuning.rrf_k))
            else:
                fused = self._fuse(semantic, keyword_rank, tuning)
            ranked = sorted((pid for pid in fused if pid not in excluded), key=lambda pid: -fused[pid])

        message = None
        if mode == "hybrid":
            assert vector is not None
            ranked, message = self._apply_floor(ranked, semantic, keyword_rank, vector, parsed, tuning,
                                                filtered=allowed is not None)
        hits = self._hits(ranked, k, fused, semantic, keyword_rank, collapse=mode == "hybrid", tuning=tuning)
        if not hits and message is None:
            message = NO_MATCH
        return SearchResult(query, filters, hits, message)

    @staticmethod
    def _fuse(semantic: dict[int, float], keyword_rank: dict[int, int], tuning: Tuning) -> dict[int, float]:
        fused: dict[int, float] = {}
        for rank, pid in enumerate(semantic, 1):
            fused[pid] = fused.get(pid, 0.0) + tuning.semantic_weight / (tuning.rrf_k + rank)
        for pid, rank in keyword_rank.items():
            fused[pid] = fused.get(pid, 0.0) + tuning.keyword_weight / (tuning.rrf_k + rank)
        return fused

    def _fuse_scores(self, semantic: dict[int, float], keyword: list[tuple[int, float]], vector: np.ndarray,
                     parsed: KeywordQuery, tuning: Tuning,
                     scored: dict[int, float] | None = None) -> dict[int, float]:
        """Weighted sum of bm25 and cosine, each standardised (z-score) over the union of both pools.

        Each retriever's score is known for every candidate: the cosine of keyword-only
        candidates comes from their stored vectors, the bm25 of semantic-only ones from FTS5
        (0 when they contain no query word): `scored` when `_keyword` read them in its own
        pass, otherwise a query of their own.
        """
        bm25 = {pid: -s for pid, s in keyword}
        missing = [pid for pid in bm25 if pid not in semantic]
        if missing:
            stored = np.stack([self.index.vectors.reconstruct(pid) for pid in missing])
            semantic.update({pid: float(s) for pid, s in zip(missing, stored @ vector, strict=True)})
        unscored = [pid for pid in semantic if pid not in bm25]
        if scored is not None:
            bm25.update({pid: -scored[pid] for pid in unscored if pid in scored})
        elif unscored and parsed.match:
            marks = ",".join("?" * len(unscored))
            rows = self.index.sql(f"SELECT rowid, bm25(passages_fts, ?, ?) FROM passages_fts "
                                  f"WHERE passages_fts MATCH ? AND rowid IN ({marks})",
                                  [tuning.text_weight, tuning.heading_weight, parsed.match, *unscored])
            bm25.update({row[0]: -row[1] for row in rows})
        if not semantic:
            return {}
        ids = list(semantic)
        words = _standardise(np.array([bm25.get(pid, 0.0) for pid in ids]))
        meaning = _standardise(np.array([semantic[pid] for pid in ids]))
        combined = tuning.keyword_weight * words + tuning.semantic_weight * meaning
        combined -= combined.min()  # non-negative, so neighbours can only add
        fused = dict(zip(ids, combined.tolist(), strict=True))
        if not tuning.neighbour_weight:
            return fused
        # A discussion runs over several passages: one whose neighbours (the passages just
        # before and after it in the same document) also match sits inside it.
        marks = ",".join("?" * len(fused))
        place = {row[0]: (row[1], row[2]) for row in
                 self.index.sql(f"SELECT id, doc, ordinal FROM passages WHERE id IN ({marks})", list(fused))}
        at = {where: fused[pid] for pid, where in place.items()}

        def around(pid: int) -> float:
            doc, ordinal = place[pid]
            return (at.get((doc, ordinal - 1), 0.0) + at.get((doc, ordinal + 1), 0.0)) / 2

        return {pid: score + tuning.neighbour_weight * around(pid) for pid, score in fused.items()}

    def _apply_floor(self, ranked: list[int], semantic: dict[int, float], keyword_rank: dict[int, int],
                     vector: np.ndarray, parsed: KeywordQuery, tuning: Tuning,
                     filtered: bool) -> tuple[list[int], str | None]:
        """No results when nothing in the index is about the query.

        The question is put to the whole index, not only to its filtered part: filters say where
        to look, and one meeting's own words (a transcript's especially) sit further from a
        question than the best passage of the collection does. A passage holding every word of
        the query passes too, however low its cosine: an exact name or figure is an answer.
        """
        # Cosine for keyword-only candidates, so hits carry it.
        missing = [pid for pid in ranked if pid not in semantic]
        if missing:
            stored = np.stack([self.index.vectors.reconstruct(pid) for pid in missing])
            semantic.update({pid: float(s) for pid, s in zip(missing, stored @ vector, strict=True)})
        if parsed.required or not ranked:
            return ranked, None
        floor = self.embedder.floor if tuning.floor is None else tuning.floor
        best = max(semantic[pid] for pid in ranked)
        if best < floor and filtered:
            scores, _ = search_vectors(self.index.vectors, vector, 1, None)
            best = max([best, *scores.tolist()])
        if best < floor and not self._all_words_found(parsed, list(keyword_rank)):
            return [], NO_MATCH_FLOOR
        # Below the floor, a passage stays only when it holds some of the query's words.
        return [pid for pid in ranked if semantic[pid] >= floor or pid in keyword_rank], None

    def _all_words_found(self, parsed: KeywordQuery, ids: list[int]) -> bool:
        """Whether one of `ids` holds every word of the query: an exact name or figure that
        the model does not know is still an answer, however low its cosine."""
        if not ids or not parsed.optional:
            return False
        match = " AND ".join(f'"{word}"' for word in parsed.optional)
        marks = ",".join("?" * len(ids))
        rows = self.index.sql(f"SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? AND rowid IN ({marks}) LIMIT 1",
                              [match, *ids])
        return bool(rows)

    def _hits(self, ranked: list[int], k: int, fused: dict[int, float], semantic: dict[int, float],
              keyword_rank: dict[int, int], collapse: bool, tuning: Tuning) -> list[Hit]:
        details = self.index.passages_by_id(ranked[: max(4 * k, 40)] if collapse else ranked[:k])
        hits: list[Hit] = []
        seen: list[frozenset[str]] = []
        for pid in ranked:
            if pid not in details:
                continue
            passage, info, _ = details[pid]
            if collapse:
                words = _word_set(passage.text)
                if any(len(words & other) >= tuning.duplicate_overlap * min(len(words), len(other))
                       for other in seen):
                    continue  # a near-duplicate of a better-ranked passage
                seen.append(words)
            cosine = semantic.get(pid)
            hits.append(Hit(passage, info, round(fused[pid], 6), len(hits) + 1,
                            None if cosine is None else round(cosine, 4), keyword_rank.get(pid)))
            if len(hits) == k:
                break
        return hits


def open_searcher(index_dir, model: str, threads: int | None = None, tuning: Tuning | None = None) -> Searcher:
    """Open the serving index and the model it was built with, checking they match."""
    from minutes.embed import load_embedder
    from minutes.storage.sqlite_faiss.store import open_index

    index = open_index(index_dir)
    if index.manifest.model != model:
        index.check_compatible(model, -1)  # raises with the rebuild message
    return Searcher(index, load_embedder(model, threads=threads), tuning)
