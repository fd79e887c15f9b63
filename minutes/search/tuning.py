"""How the two rankings are combined (chosen on the dev sets, docs/benchmarks.md).

`mode` picks the method: `hybrid` (Minutes' own, the default) or a baseline kept for
comparison in bench/relevance.py: `keyword` (bm25 alone), `semantic` (cosine alone) and
`rrf` (plain reciprocal rank fusion, k = 60). The baselines have no floor and no duplicate
collapsing; filters, quoted phrases and exclusions apply to all.
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("hybrid", "rrf", "keyword", "semantic")


@dataclass(frozen=True)
class Tuning:
    mode: str = "hybrid"          # hybrid | rrf | keyword | semantic
    # hybrid only: "score" (standardised bm25 + cosine), "rrf" (ranks) or "learned" (a model
    # of those and more features, with a learned floor: minutes/search/learned.py)
    fusion: str = "score"
    pool: int = 100               # candidates taken from each retriever
    rrf_k: float = 60.0           # reciprocal rank fusion constant
    semantic_weight: float = 0.5
    keyword_weight: float = 1.0
    # hybrid score fusion: share of the mean fused score of a passage's two neighbours added to its own
    neighbour_weight: float = 0.4
    # hybrid score fusion: share of a question passage's score given to the passage after it, its
    # answer (fusion.reply_boost). Off: it lifts question-and-answer transcripts and costs one
    # seeds-dev question a rank (docs/benchmarks.md, "Answers after questions").
    reply_weight: float = 0.0
    # Relevance floor on cosine similarity (hybrid only): when no passage of the index reaches it
    # and no candidate holds every query word, there are no results. None: the model's own.
    floor: float | None = None
    duplicate_overlap: float = 0.8  # share of the larger passage's words two copies share (text/duplicates.py)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown search mode '{self.mode}'; choose one of: {', '.join(MODES)}")
        if self.fusion not in ("score", "rrf", "learned"):
            raise ValueError(f"unknown fusion '{self.fusion}'; choose score, rrf or learned")
