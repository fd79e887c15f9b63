"""The hybrid Searcher with the learned fusion and floor of `minutes.search.learned`, for the benches.

Until the search seam lands (search/fusion.py, /work/NOTES.md) this subclass is how
bench/train.py records candidate features and how bench/relevance.py measures the learned
methods: it computes today's z-score fusion first (so `fused` is a feature, and the
baseline rows are untouched), then the feature rows, then the learned score. Wiring it into
the Searcher itself is a small edit of fusion/hybrid once the seam is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from minutes.embed import QueryAdapter
from minutes.search.hybrid import NO_MATCH_FLOOR, Searcher, Tuning
from minutes.search.learned import Candidate, LearnedModels, candidate_matrix, query_vector
from minutes.storage.sqlite_faiss.vectors import search_vectors
from minutes.text.query import KeywordQuery


@dataclass
class Recorded:
    """One search's candidates as the learned models see them."""

    query: str
    ids: list[int]
    features: np.ndarray
    texts: list[str]
    filtered: bool = False
    query_features: np.ndarray | None = None
    extra: dict[str, object] = field(default_factory=dict)


class LearnedSearcher(Searcher):
    """`models=None` and `record` set: today's ranking, with every search's features recorded."""

    def __init__(self, index, embedder, models: LearnedModels | None = None,  # type: ignore[no-untyped-def]
                 record: list[Recorded] | None = None, use_scorer: bool = True, use_floor: bool = True,
                 tuning: Tuning | None = None) -> None:
        super().__init__(index, embedder, tuning)
        self.models, self.record = models, record
        self.use_scorer = use_scorer and models is not None
        self.use_floor = use_floor and models is not None and models.floor is not None
        self._last: tuple[list[Candidate], np.ndarray, np.ndarray] | None = None
        self._query = ""

    def search(self, query, k=10, filters=None, tuning=None):  # type: ignore[no-untyped-def]
        self._query, self._last = query, None
        return super().search(query, k, filters, tuning)

    def _fuse_scores(self, semantic, keyword, vector, parsed: KeywordQuery, tuning,  # type: ignore[no-untyped-def]
                     scored=None):
        plain = super()._fuse_scores(semantic, keyword, vector, parsed, replace(tuning, neighbour_weight=0.0), scored)
        if not plain:
            return plain
        ids = list(plain)
        bm25 = {pid: -s for pid, s in keyword}
        if scored:
            bm25.update({pid: -s for pid, s in scored.items() if pid not in bm25})
        marks = ",".join("?" * len(ids))
        rows = {row[0]: row for row in self.index.sql(
            f"SELECT id, doc, ordinal, kind, heading, text FROM passages WHERE id IN ({marks})", ids)}
        at = {(rows[pid][1], rows[pid][2]): pid for pid in ids}

        def around(pid: int, values: dict[int, float]) -> float:
            doc, ordinal = rows[pid][1], rows[pid][2]
            near = [at.get((doc, ordinal - 1)), at.get((doc, ordinal + 1))]
            return sum(values[n] for n in near if n is not None) / 2

        candidates = []
        for pid in ids:
            neighbour = around(pid, plain)
            candidates.append(Candidate(
                cosine=semantic[pid], bm25=bm25.get(pid, 0.0),
                fused=plain[pid] + tuning.neighbour_weight * neighbour, neighbour=neighbour,
                neighbour_cosine=around(pid, semantic), text=rows[pid][5], heading=rows[pid][4], kind=rows[pid][3]))
        features = candidate_matrix(list(parsed.optional), candidates)
        today = {pid: c.fused for pid, c in zip(ids, candidates, strict=True)}
        if self.use_scorer:
            assert self.models is not None
            scores = self.models.scorer(features)
            learned = dict(zip(ids, (scores - scores.min()).tolist(), strict=True))
        else:
            scores = np.array([today[pid] for pid in ids])
            learned = today
        self._last = (candidates, features, scores)
        if self.record is not None:
            self.record.append(Recorded(self._query, ids, features, [c.text for c in candidates]))
        return learned

    def _apply_floor(self, ranked, semantic, keyword_rank, vector, parsed, tuning,  # type: ignore[no-untyped-def]
                     filtered):
        index_cosine = max([semantic[pid] for pid in ranked if pid in semantic], default=-1.0)
        if filtered:
            top, _ = search_vectors(self.index.vectors, vector, 1, None)
            index_cosine = max([index_cosine, *top.tolist()])
        if self._last is not None and (self.record is not None or self.use_floor):
            candidates, features, scores = self._last
            all_words = self._all_words_found(parsed, list(keyword_rank))
            qf = query_vector(list(parsed.optional), candidates, scores, features, index_cosine, all_words)
            if self.record is not None and self.record and self.record[-1].query == self._query:
                self.record[-1].query_features, self.record[-1].filtered = qf, filtered
            if self.use_floor and not parsed.required and ranked:
                assert self.models is not None and self.models.floor is not None
                if self.models.floor.probability(qf) < self.models.floor.threshold:
                    return [], NO_MATCH_FLOOR
                floor = self.embedder.floor if tuning.floor is None else tuning.floor
                for pid in ranked:  # cosine for keyword-only candidates, so hits carry it
                    semantic.setdefault(pid, float(self.index.vectors.reconstruct(pid) @ vector))
                return [pid for pid in ranked if semantic[pid] >= floor or pid in keyword_rank], None
        return super()._apply_floor(ranked, semantic, keyword_rank, vector, parsed, tuning, filtered)


class Adapted:
    """A query-side embedder for the benches: `inner`'s vectors through the adapter, under
    `inner`'s name (the passage vectors of an index built with `inner` are the same)."""

    def __init__(self, inner, adapter: QueryAdapter | None) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.adapter = inner, adapter
        self.name, self.dimension, self.floor = inner.name, inner.dimension, inner.floor

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = self.inner.encode(texts, batch_size)
        return vectors if self.adapter is None else self.adapter(vectors)
