"""The one search function behind the CLI, the JSON API, the HTML pages and the benchmarks.

Hybrid retrieval: bm25 finds the exact names and figures that embeddings blur; the vector
index finds passages that say the same thing in other words. Both run with the filters
inside them (through the storage seam, whatever the backend), their rankings are fused
(search/fusion.py), near-duplicates are collapsed, and a relevance floor answers "no
results" instead of returning the nearest nonsense. `Tuning.mode` picks Minutes' method or
a baseline (search/tuning.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minutes.embed import Embedder, load_embedder
from minutes.errors import QueryError
from minutes.records import Filters, Hit, SearchResult
from minutes.search import fusion, learned
from minutes.search.query import MAX_K, MAX_QUERY_CHARS, PreparedQuery, check_k, validate_query
from minutes.search.tuning import MODES, Tuning
from minutes.storage import open_index
from minutes.storage.base import IndexReader
from minutes.text.duplicates import repeats, word_set

__all__ = ["MAX_K", "MAX_QUERY_CHARS", "MODES", "NO_MATCH", "NO_MATCH_FLOOR", "PreparedQuery", "QueryError",
           "Searcher", "Tuning", "open_searcher", "validate_query"]

NO_MATCH_FLOOR = "No passages match this question closely enough. Try other words, or fewer filters."
NO_MATCH = "No passages match. Try other words, or fewer filters."
@dataclass
class _Candidates:
    """What the retrievers found for one search (ids are the backend's passage ids)."""

    semantic: dict[int, float]            # cosine, best first
    keyword: list[tuple[int, float]]      # bm25, best first
    also: dict[int, float]                # bm25 of semantic candidates the query selects
    excluded: set[int]
    scored: learned.Scored | None = None  # fusion "learned": the candidates' features and scores

    @property
    def keyword_rank(self) -> dict[int, int]:
        return {pid: rank for rank, (pid, _) in enumerate(self.keyword, 1)}


class Searcher:
    def __init__(self, index: IndexReader, embedder: Embedder, tuning: Tuning | None = None,
                 models: learned.LearnedModels | None = None) -> None:
        index.check_compatible(embedder.name, embedder.dimension)
        self.index, self.embedder = index, embedder
        self.tuning = tuning or Tuning()
        self.models = models  # fusion "learned": None loads the shipped ones on first use
        self.recorder: list[tuple[str, learned.Scored, Any]] | None = None  # bench/train.py's feature log
        self._rankers: dict[str, Callable[[PreparedQuery, _Candidates, Tuning], dict[int, float]]] = {
            "keyword": lambda q, c, t: dict(c.keyword),
            "semantic": lambda q, c, t: c.semantic,
            "rrf": lambda q, c, t: fusion.rrf(list(c.semantic), [p for p, _ in c.keyword], t.rrf_k,
                                              Tuning().semantic_weight, Tuning().keyword_weight),
            "hybrid": self._hybrid_scores,
        }

    def prepare(self, query: str) -> PreparedQuery:
        """The query checked and parsed; embedded on first use. Share it within a request."""
        return PreparedQuery(query, self.embedder)

    def search(self, query: str | PreparedQuery, k: int = 10, filters: Filters | None = None,
               tuning: Tuning | None = None) -> SearchResult:
        """The top `k` passages for `query` within `filters`; `tuning` overrides the searcher's own."""
        prepared = query if isinstance(query, PreparedQuery) else self.prepare(query)
        check_k(k)  # the text was checked when it was prepared
        filters = filters or Filters()
        tuning = tuning or self.tuning
        found = self._retrieve(prepared, k, filters, tuning)
        fused = self._rankers[tuning.mode](prepared, found, tuning)
        ranked = sorted((pid for pid in fused if pid not in found.excluded), key=lambda pid: -fused[pid])
        message = None
        if tuning.mode == "hybrid":
            ranked, message = self._apply_floor(ranked, found, prepared, filters, tuning)
        hits = self._hits(ranked, k, fused, found, collapse=tuning.mode == "hybrid", tuning=tuning)
        if not hits and message is None:
            message = NO_MATCH
        return SearchResult(prepared.text, filters, hits, message)

    def _retrieve(self, prepared: PreparedQuery, k: int, filters: Filters, tuning: Tuning) -> _Candidates:
        parsed, mode = prepared.parsed, tuning.mode
        restrict = None
        if parsed.required:  # quoted phrases are a requirement, for both retrievers
            restrict = np.array(sorted(self.index.keyword.select(parsed, filters)), dtype=np.int64)
        excluded = self.index.keyword.excluded(parsed)
        semantic: dict[int, float] = {}
        if mode != "keyword":
            pool = max(tuning.pool, k + len(excluded)) if mode == "semantic" else tuning.pool
            scores, ids = self.index.vectors.search(prepared.vector, pool, filters, restrict)
            semantic = {int(i): float(s) for i, s in zip(ids, scores, strict=True) if int(i) not in excluded}
        keyword, also = [], {}
        if mode != "semantic":
            score_also = list(semantic) if mode == "hybrid" and tuning.fusion == "score" else ()
            found = self.index.keyword.search(parsed, filters, tuning.pool if mode != "keyword" else k,
                                              score_also=score_also)
            keyword, also = found.ranked, found.also
        return _Candidates(semantic, keyword, also, excluded)

    def _hybrid_scores(self, prepared: PreparedQuery, found: _Candidates, tuning: Tuning) -> dict[int, float]:
        if tuning.fusion == "rrf":
            return fusion.rrf(list(found.semantic), [p for p, _ in found.keyword], tuning.rrf_k,
                              tuning.semantic_weight, tuning.keyword_weight)
        # Each retriever's score is known for every candidate: the cosine of keyword-only ones
        # from their stored vectors, the bm25 of semantic-only ones from the same keyword pass.
        bm25 = dict(found.keyword)
        self._fill_cosines(found, list(bm25), prepared.vector)
        bm25.update({pid: score for pid, score in found.also.items() if pid not in bm25})
        fused = fusion.zscore_fusion(found.semantic, bm25, tuning.semantic_weight, tuning.keyword_weight)
        if tuning.fusion == "learned" and fused:
            found.scored = learned.score_candidates(self.index.passages, prepared.parsed.optional, found.semantic,
                                                    bm25, fused, tuning.neighbour_weight, self._models().scorer)
            lowest = float(found.scored.scores.min())
            return {pid: float(s) - lowest for pid, s in zip(found.scored.ids, found.scored.scores, strict=True)}
        if not fused or not (tuning.neighbour_weight or tuning.reply_weight):
            return fused
        places = self.index.passages.places(list(fused))
        boosted = fusion.neighbour_boost(fused, places, tuning.neighbour_weight)
        if not tuning.reply_weight:  # the default: no texts fetched, no second copy
            return boosted
        return fusion.reply_boost(boosted, places, self._texts, tuning.reply_weight)

    def _texts(self, ids: Sequence[int]) -> dict[int, str]:
        return {pid: stored.passage.text for pid, stored in self.index.passages.passages(ids).items()}

    def _models(self) -> learned.LearnedModels:
        if self.models is None:
            self.models = learned.load_models()
        return self.models

    def _fill_cosines(self, found: _Candidates, ids: list[int], vector: np.ndarray) -> None:
        missing = [pid for pid in ids if pid not in found.semantic]
        if missing:
            stored = self.index.vectors.vectors(missing)
            found.semantic.update({pid: float(s) for pid, s in zip(missing, stored @ vector, strict=True)})

    def _apply_floor(self, ranked: list[int], found: _Candidates, prepared: PreparedQuery, filters: Filters,
                     tuning: Tuning) -> tuple[list[int], str | None]:
        """No results when nothing in the index is about the query.

        The question is put to the whole index, not only to its filtered part: filters say where
        to look, and one meeting's own words (a transcript's especially) sit further from a
        question than the best passage of the collection does. A passage holding every word of
        the query passes too, however low its cosine: an exact name or figure is an answer.
        """
        self._fill_cosines(found, ranked, prepared.vector)  # hits carry their cosine
        parsed = prepared.parsed
        if parsed.required or not ranked:
            return ranked, None
        floor = self.embedder.floor if tuning.floor is None else tuning.floor
        semantic, keyword_rank = found.semantic, found.keyword_rank
        best = max(semantic[pid] for pid in ranked)
        if found.scored is not None:
            decided = self._learned_floor(ranked, found, prepared, filters, floor, best)
            if decided is not None:
                return decided
        if best < floor and self.index.passages.restricts(filters):
            scores, _ = self.index.vectors.search(prepared.vector, 1, Filters(include_procedural=True))
            best = max([best, *scores.tolist()])
        if best < floor and not self.index.keyword.holds_all_words(parsed.optional, list(keyword_rank)):
            return [], NO_MATCH_FLOOR
        # Below the floor, a passage stays only when it holds some of the query's words.
        return [pid for pid in ranked if semantic[pid] >= floor or pid in keyword_rank], None

    def _learned_floor(self, ranked: list[int], found: _Candidates, prepared: PreparedQuery, filters: Filters,
                       floor: float, best: float) -> tuple[list[int], str | None] | None:
        """The learned floor: no results when the model's P(something here answers it) is below its
        threshold. Its features are those of `_apply_floor`'s rule, and more. None: no floor model
        (the cosine rule decides)."""
        assert found.scored is not None
        if self.index.passages.restricts(filters):
            scores, _ = self.index.vectors.search(prepared.vector, 1, Filters(include_procedural=True))
            best = max([best, *scores.tolist()])
        keyword_rank = found.keyword_rank
        all_words = self.index.keyword.holds_all_words(prepared.parsed.optional, list(keyword_rank))
        features = learned.query_vector(list(prepared.parsed.optional), found.scored.candidates,
                                        found.scored.scores, found.scored.features, best, all_words)
        if self.recorder is not None:
            self.recorder.append((prepared.text, found.scored, features))
        models = self._models()
        model = models.floor
        if model is None or not self.embedder.name.startswith(models.model):
            return None  # its cosine features mean what they mean for the model it was trained with
        if model.probability(features) < model.threshold:
            return [], NO_MATCH_FLOOR
        return [pid for pid in ranked if found.semantic[pid] >= floor or pid in keyword_rank], None

    def _hits(self, ranked: list[int], k: int, fused: dict[int, float], found: _Candidates, collapse: bool,
              tuning: Tuning) -> list[Hit]:
        details = self.index.passages.passages(ranked[: max(4 * k, 40)] if collapse else ranked[:k])
        keyword_rank = found.keyword_rank
        hits: list[Hit] = []
        kept: list[tuple[frozenset[str], str]] = []
        for pid in ranked:
            if pid not in details:
                continue
            stored = details[pid]
            if collapse:  # only true duplicates, and never an item's minute or decision (text/duplicates.py)
                words, kind = word_set(stored.passage.text), stored.passage.kind
                if any(repeats(words, kind, other, other_kind, tuning.duplicate_overlap)
                       for other, other_kind in kept):
                    continue  # a copy of a better-ranked passage
                kept.append((words, kind))
            cosine = found.semantic.get(pid)
            hits.append(Hit(stored.passage, stored.document, round(fused[pid], 6), len(hits) + 1,
                            None if cosine is None else round(cosine, 4), keyword_rank.get(pid)))
            if len(hits) == k:
                break
        return hits


def open_searcher(index_dir, model: str, threads: int | None = None, tuning: Tuning | None = None,
                  backend: str | None = None) -> Searcher:
    """Open the serving index and the model it was built with, checking they match."""
    index = open_index(index_dir, backend)
    if index.manifest.model != model:
        index.check_compatible(model, -1)  # raises with the rebuild message
    return Searcher(index, load_embedder(model, threads=threads), tuning)
