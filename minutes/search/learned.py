"""Learned fusion and a learned relevance floor: pure functions over feature arrays.

The hybrid search scores each candidate (the union of the bm25 and cosine pools) with a
fixed formula: z-scored bm25 plus z-scored cosine plus a share of its neighbours' score.
Here the same signals, and a few the formula ignores (how many query words the passage and
its heading hold, whether query word pairs appear in order, the passage's kind and length),
become one feature row per candidate, and a small model trained on the QMSum train
meetings (`bench/train.py`) turns each row into a score. A second, per-query model gives
the probability that anything among the candidates answers the question at all: below its
threshold the search answers "no results".

Both models are linear (a standardised dot product, and a logistic regression over that),
shipped as JSON of a few kilobytes (`minutes/models/fusion.json`): no runtime dependency
beyond numpy, and every weight can be read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minutes.errors import ModelError
from minutes.records import PASSAGE_KINDS
from minutes.storage.base import PassageStore

CANDIDATE_FEATURES: tuple[str, ...] = (
    "cosine", "cosine_z", "cosine_gap", "cosine_rank_log",
    "bm25", "bm25_z", "bm25_share", "bm25_rank_log", "has_bm25",
    "fused", "neighbour", "neighbour_cosine",
    "coverage", "heading_coverage", "pair_match",
    "words_log",
    *(f"kind_{kind}" for kind in PASSAGE_KINDS),
)
QUERY_FEATURES: tuple[str, ...] = (
    "best_cosine", "index_cosine", "best_score", "score_margin", "best_coverage",
    "all_words", "query_words_log", "mean_cosine_top10",
)
FUSION_PATH = Path(__file__).resolve().parent.parent / "models" / "fusion.json"
_WORD = re.compile(r"\w+")
_STEM = 6  # words are compared on their first letters: "budgets" finds "budget"


def _stems(text: str) -> list[str]:
    return [w[:_STEM] for w in _WORD.findall(text.lower())]


def _zscore(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def _rank_log(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    return np.log(ranks)


@dataclass(frozen=True)
class Candidate:
    """What the search knows about one candidate passage."""

    cosine: float
    bm25: float          # positive, higher is better; 0 when the passage holds no query word
    fused: float         # today's z-score fusion with the neighbour boost
    neighbour: float     # mean fused score of the passages just before and after it
    neighbour_cosine: float
    text: str
    heading: str
    kind: str


def text_match(query_words: list[str], text: str, heading: str) -> tuple[float, float, float, float]:
    """(share of query words in the text, in the heading, share of adjacent query word pairs
    found adjacent in the text, log of the passage's word count)."""
    words = _stems(text)
    present, head = set(words), set(_stems(heading))
    stems = list(dict.fromkeys(w[:_STEM] for w in query_words))
    if not stems:
        return 0.0, 0.0, 0.0, math.log1p(len(words))
    coverage = sum(s in present for s in stems) / len(stems)
    heading_coverage = sum(s in head for s in stems) / len(stems)
    pairs = list(zip(stems, stems[1:], strict=False))
    pair_match = 0.0
    if pairs:
        adjacent = set(zip(words, words[1:], strict=False))
        pair_match = sum(p in adjacent for p in pairs) / len(pairs)
    return coverage, heading_coverage, pair_match, math.log1p(len(words))


def candidate_matrix(query_words: list[str], candidates: list[Candidate]) -> np.ndarray:
    """One row of CANDIDATE_FEATURES per candidate; pool-relative features use the whole list."""
    if not candidates:
        return np.zeros((0, len(CANDIDATE_FEATURES)))
    cos = np.array([c.cosine for c in candidates], dtype=np.float64)
    bm25 = np.array([c.bm25 for c in candidates], dtype=np.float64)
    top_bm25 = float(bm25.max())
    kinds = np.array([[c.kind == kind for kind in PASSAGE_KINDS] for c in candidates], dtype=np.float64)
    text = np.array([text_match(query_words, c.text, c.heading) for c in candidates], dtype=np.float64)
    columns = [
        cos, _zscore(cos), cos - cos.max(), _rank_log(cos),
        bm25, _zscore(bm25), bm25 / top_bm25 if top_bm25 > 0 else np.zeros_like(bm25),
        np.where(bm25 > 0, _rank_log(bm25), math.log(len(bm25) + 1)), (bm25 > 0).astype(np.float64),
        np.array([c.fused for c in candidates]), np.array([c.neighbour for c in candidates]),
        np.array([c.neighbour_cosine for c in candidates]),
        text[:, 0], text[:, 1], text[:, 2], text[:, 3],
    ]
    return np.column_stack([*columns, kinds])


@dataclass(frozen=True)
class LinearScorer:
    """score = ((x - mean) / scale) . weights; fitted by bench/train.py."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.weights


@dataclass(frozen=True)
class FloorModel:
    """P(something among the candidates answers the query) by logistic regression; below
    `threshold` the search answers "no results"."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float

    def probability(self, features: np.ndarray) -> float:
        z = float(((features - self.mean) / self.scale) @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


def query_vector(query_words: list[str], candidates: list[Candidate], scores: np.ndarray,
                 features: np.ndarray, index_cosine: float, all_words: bool) -> np.ndarray:
    """QUERY_FEATURES for one search: how well its best candidates answer it."""
    if not candidates:
        return np.array([0.0, index_cosine, 0.0, 0.0, 0.0, float(all_words), math.log1p(len(query_words)), 0.0])
    order = np.argsort(-scores, kind="stable")
    top = order[:10]
    cos = features[:, CANDIDATE_FEATURES.index("cosine")]
    coverage = features[:, CANDIDATE_FEATURES.index("coverage")]
    margin = float(scores[order[0]] - np.median(scores))
    return np.array([float(cos.max()), max(index_cosine, float(cos.max())), float(scores[order[0]]), margin,
                     float(coverage[top].max()), float(all_words), math.log1p(len(query_words)),
                     float(cos[top].mean())])


@dataclass(frozen=True)
class LearnedModels:
    scorer: LinearScorer
    floor: FloorModel | None
    model: str  # the embedding model the features were measured with

    def to_json(self) -> str:
        floor = None if self.floor is None else {
            "mean": self.floor.mean.tolist(), "scale": self.floor.scale.tolist(),
            "weights": self.floor.weights.tolist(), "bias": self.floor.bias, "threshold": self.floor.threshold}
        return json.dumps({"model": self.model, "candidate_features": list(CANDIDATE_FEATURES),
                           "query_features": list(QUERY_FEATURES),
                           "scorer": {"mean": self.scorer.mean.tolist(), "scale": self.scorer.scale.tolist(),
                                      "weights": self.scorer.weights.tolist()},
                           "floor": floor}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> LearnedModels:
        data = json.loads(text)
        if tuple(data["candidate_features"]) != CANDIDATE_FEATURES or \
                tuple(data["query_features"]) != QUERY_FEATURES:
            raise ModelError("the learned fusion was trained on other features; run bench/train.py again")
        s = data["scorer"]
        scorer = LinearScorer(np.array(s["mean"]), np.array(s["scale"]), np.array(s["weights"]))
        f = data.get("floor")
        floor = None if f is None else FloorModel(np.array(f["mean"]), np.array(f["scale"]), np.array(f["weights"]),
                                                  float(f["bias"]), float(f["threshold"]))
        return cls(scorer, floor, str(data["model"]))


    @classmethod
    def today(cls, model: str = "") -> LearnedModels:
        """Today's z-score fusion as a learned model: the `fused` feature alone, and no floor.
        bench/train.py records features with it before any model is trained."""
        n = len(CANDIDATE_FEATURES)
        weights = np.zeros(n)
        weights[CANDIDATE_FEATURES.index("fused")] = 1.0
        return cls(LinearScorer(np.zeros(n), np.ones(n), weights), None, model)


def load_models(path: Path = FUSION_PATH) -> LearnedModels:
    try:
        return LearnedModels.from_json(Path(path).read_text())
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ModelError(f"the learned fusion {path} cannot be read ({exc}); run bench/train.py") from None


@dataclass(frozen=True)
class Scored:
    """One search's candidates as the learned models saw them."""

    ids: list[int]
    candidates: list[Candidate]
    features: np.ndarray
    scores: np.ndarray


def score_candidates(passages: PassageStore, query_words: Sequence[str], cosine: Mapping[int, float],
                     bm25: Mapping[int, float], plain: Mapping[int, float], neighbour_weight: float,
                     scorer: LinearScorer) -> Scored:
    """The learned score of every candidate of `plain` (today's z-score fusion, before the
    neighbour boost); `cosine` and `bm25` must hold every candidate (bm25 0: no query word)."""
    ids = list(plain)
    places = passages.places(ids)
    stored = passages.passages(ids)
    at = {where: pid for pid, where in places.items()}

    def around(pid: int, values: Mapping[int, float]) -> float:
        if pid not in places:
            return 0.0
        doc, ordinal = places[pid]
        near = (at.get((doc, ordinal - 1)), at.get((doc, ordinal + 1)))
        return sum(values[n] for n in near if n is not None) / 2

    candidates = []
    for pid in ids:
        neighbour = around(pid, plain)
        passage = stored[pid].passage if pid in stored else None
        candidates.append(Candidate(
            cosine=cosine[pid], bm25=bm25.get(pid, 0.0), fused=plain[pid] + neighbour_weight * neighbour,
            neighbour=neighbour, neighbour_cosine=around(pid, cosine),
            text=passage.text if passage else "", heading=passage.heading if passage else "",
            kind=passage.kind if passage else ""))
    features = candidate_matrix(list(query_words), candidates)
    return Scored(ids, candidates, features, scorer(features))
