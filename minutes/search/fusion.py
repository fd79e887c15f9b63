"""Fusion of the two rankings: pure functions over {passage id: score} dicts (higher is better)."""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

# The passage ends on a question (closing quotes or brackets allowed after the mark).
_ASKS = re.compile(r"\?[\s\"'\u201d\u2019)]*$")


def rrf(semantic: list[int], keyword: list[int], k: float, semantic_weight: float = 1.0,
        keyword_weight: float = 1.0) -> dict[int, float]:
    """Reciprocal rank fusion of two rankings (best first)."""
    fused: dict[int, float] = {}
    for rank, pid in enumerate(semantic, 1):
        fused[pid] = fused.get(pid, 0.0) + semantic_weight / (k + rank)
    for rank, pid in enumerate(keyword, 1):
        fused[pid] = fused.get(pid, 0.0) + keyword_weight / (k + rank)
    return fused


def standardise(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def zscore_fusion(cosine: Mapping[int, float], bm25: Mapping[int, float], semantic_weight: float,
                  keyword_weight: float) -> dict[int, float]:
    """Weighted sum of bm25 and cosine, each standardised over the candidates (those of `cosine`;
    a candidate without bm25 holds no query word: 0). Shifted to be non-negative, so a
    neighbour boost can only add."""
    if not cosine:
        return {}
    ids = list(cosine)
    words = standardise(np.array([bm25.get(pid, 0.0) for pid in ids]))
    meaning = standardise(np.array([cosine[pid] for pid in ids]))
    combined = keyword_weight * words + semantic_weight * meaning
    combined -= combined.min()
    return dict(zip(ids, combined.tolist(), strict=True))


def neighbour_boost(fused: Mapping[int, float], places: Mapping[int, tuple[str, int]],
                    weight: float) -> dict[int, float]:
    """A discussion runs over several passages: one whose neighbours (the passages just before
    and after it in the same document) also match sits inside it, and gains `weight` times
    their mean score."""
    if not weight:
        return dict(fused)
    at = {where: fused[pid] for pid, where in places.items() if pid in fused}

    def around(pid: int) -> float:
        if pid not in places:
            return 0.0
        doc, ordinal = places[pid]
        return (at.get((doc, ordinal - 1), 0.0) + at.get((doc, ordinal + 1), 0.0)) / 2

    return {pid: score + weight * around(pid) for pid, score in fused.items()}


def asks(text: str) -> bool:
    """Whether a passage ends on a question, as a questioner's turn does."""
    return bool(_ASKS.search(text))


def reply_boost(fused: Mapping[int, float], places: Mapping[int, tuple[str, int]],
                texts: Callable[[Sequence[int]], Mapping[int, str]], weight: float,
                top: int = 3) -> dict[int, float]:
    """In questions and answers the words of a question are the questioner's, and its answer is
    the passage after it: each of the `top` best passages that ends on a question hands
    `weight` times its score to the next passage of its document, when that one is a
    candidate. `texts` fetches the texts of the passages it is given (only the `top`)."""
    if not weight or not fused:
        return dict(fused)
    best = heapq.nlargest(top, fused, key=fused.__getitem__)
    at = {where: pid for pid, where in places.items() if pid in fused}
    boosted = dict(fused)
    for pid, text in texts(best).items():
        if pid in places and asks(text):
            document, ordinal = places[pid]
            reply = at.get((document, ordinal + 1))
            if reply is not None:
                boosted[reply] += weight * fused[pid]
    return boosted
