"""The learned relevance pieces: features, scorer, floor, query adapter and the shipped files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minutes.embed import ADAPTER_PATH, AdaptedEmbedder, HashingEmbedder, QueryAdapter, query_encoder
from minutes.errors import ModelError
from minutes.search.hybrid import NO_MATCH_FLOOR, Searcher, Tuning
from minutes.search.learned import (
    CANDIDATE_FEATURES,
    FUSION_PATH,
    QUERY_FEATURES,
    Candidate,
    FloorModel,
    LearnedModels,
    LinearScorer,
    candidate_matrix,
    load_models,
    query_vector,
    text_match,
)


def _candidate(text: str, heading: str = "", cosine: float = 0.5, bm25: float = 0.0, kind: str = "text") -> Candidate:
    return Candidate(cosine=cosine, bm25=bm25, fused=cosine + bm25, neighbour=0.0, neighbour_cosine=0.0,
                     text=text, heading=heading, kind=kind)


def test_text_match_counts_words_heading_and_pairs() -> None:
    coverage, heading, pairs, length = text_match(["school", "transport", "budget"],
                                                  "The school transport budgets rose.", "Transport")
    assert coverage == 1.0  # "budgets" is found by its first letters
    assert heading == pytest.approx(1 / 3)
    assert pairs == 1.0  # "school transport" and "transport budget" both appear in order
    assert length == pytest.approx(np.log1p(5))
    assert text_match(["transport", "school"], "school transport", "")[2] == 0.0  # order matters
    assert text_match([], "anything", "")[:3] == (0.0, 0.0, 0.0)


def test_candidate_matrix_has_one_row_per_candidate_and_pool_relative_columns() -> None:
    candidates = [_candidate("short breaks for disabled children", cosine=0.7, bm25=4.0, kind="minutes"),
                  _candidate("the weather was fine", cosine=0.2)]
    matrix = candidate_matrix(["short", "breaks"], candidates)
    assert matrix.shape == (2, len(CANDIDATE_FEATURES))
    column = {name: matrix[:, i] for i, name in enumerate(CANDIDATE_FEATURES)}
    assert column["cosine_gap"].tolist() == pytest.approx([0.0, -0.5])
    assert column["bm25_share"].tolist() == [1.0, 0.0]
    assert column["has_bm25"].tolist() == [1.0, 0.0]
    assert column["coverage"].tolist() == [1.0, 0.0]
    assert column["kind_minutes"].tolist() == [1.0, 0.0]
    assert column["kind_text"].tolist() == [0.0, 1.0]
    assert candidate_matrix(["x"], []).shape == (0, len(CANDIDATE_FEATURES))


def test_linear_scorer_and_floor_follow_their_weights() -> None:
    n = len(CANDIDATE_FEATURES)
    weights = np.zeros(n)
    weights[CANDIDATE_FEATURES.index("coverage")] = 1.0
    scorer = LinearScorer(np.zeros(n), np.ones(n), weights)
    candidates = [_candidate("nothing here"), _candidate("short breaks cut")]
    scores = scorer(candidate_matrix(["short", "breaks"], candidates))
    assert scores[1] > scores[0]
    q = len(QUERY_FEATURES)
    floor_weights = np.zeros(q)
    floor_weights[QUERY_FEATURES.index("best_cosine")] = 10.0
    floor = FloorModel(np.full(q, 0.0), np.ones(q), floor_weights, -3.0, 0.5)
    features = candidate_matrix(["short"], candidates)
    high = query_vector(["short"], candidates, scores, features, 0.5, False)
    low = query_vector(["short"], [_candidate("x", cosine=0.1)], np.zeros(1),
                       candidate_matrix(["short"], [_candidate("x", cosine=0.1)]), 0.1, False)
    assert floor.probability(high) > 0.5 > floor.probability(low)


def test_models_round_trip_and_refuse_other_features(tmp_path) -> None:  # type: ignore[no-untyped-def]
    n, q = len(CANDIDATE_FEATURES), len(QUERY_FEATURES)
    models = LearnedModels(LinearScorer(np.zeros(n), np.ones(n), np.arange(n, dtype=float)),
                           FloorModel(np.zeros(q), np.ones(q), np.ones(q), 0.25, 0.4), "minilm")
    path = tmp_path / "fusion.json"
    path.write_text(models.to_json())
    again = load_models(path)
    assert again.scorer.weights.tolist() == list(range(n))
    assert again.floor is not None and again.floor.threshold == 0.4 and again.model == "minilm"
    data = json.loads(path.read_text())
    data["candidate_features"] = data["candidate_features"][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="other features"):
        load_models(path)


def test_query_adapter_moves_queries_only() -> None:
    inner = HashingEmbedder()
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(inner.dimension, inner.dimension)))
    adapted = AdaptedEmbedder(inner, QueryAdapter(rotation.astype(np.float32)), "hashing-tuned")
    texts = ["school transport budget", "short breaks"]
    assert np.array_equal(adapted.encode(texts), inner.encode(texts))
    queries = query_encoder(adapted)(texts)
    assert np.allclose(queries, inner.encode(texts) @ rotation.T, atol=1e-5)
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    assert query_encoder(inner) == inner.encode
    identity = AdaptedEmbedder(inner, QueryAdapter(np.eye(inner.dimension, dtype=np.float16)), "same")
    assert np.allclose(identity.encode_query(texts), inner.encode(texts), atol=1e-6)


def test_query_adapter_refuses_bad_matrices(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="square"):
        QueryAdapter(np.zeros((3, 4)))
    with pytest.raises(ModelError, match="dimensional"):
        AdaptedEmbedder(HashingEmbedder(), QueryAdapter(np.eye(8)), "x")
    broken = tmp_path / "adapter.npy"
    broken.write_bytes(b"not numpy")
    with pytest.raises(ModelError, match="bench/train.py"):
        QueryAdapter.load(broken)


def test_shipped_models_load_and_are_small() -> None:
    if not ADAPTER_PATH.exists() or not FUSION_PATH.exists():
        pytest.fail(f"{ADAPTER_PATH} or {FUSION_PATH} is missing: run bench/train.py")
    adapter = QueryAdapter.load()
    assert adapter.matrix.shape == (384, 384) and adapter.matrix.dtype == np.float16
    assert ADAPTER_PATH.stat().st_size < 1_000_000 and FUSION_PATH.stat().st_size < 100_000
    models = load_models(FUSION_PATH)
    assert models.scorer.weights.shape == (len(CANDIDATE_FEATURES),)
    assert np.isfinite(models.scorer.weights).all()


@pytest.mark.slow
def test_tuned_model_loads_offline_and_moves_only_queries() -> None:
    """minilm-tuned: the packaged MiniLM for passages, the shipped adapter for queries."""
    from minutes.embed import load_embedder

    base, tuned = load_embedder("minilm", threads=2), load_embedder("minilm-tuned", threads=2)
    assert tuned.name == "minilm-tuned" and tuned.dimension == 384
    passages = ["The committee agreed to cut the budget for school transport by two per cent."]
    assert np.allclose(tuned.encode(passages), base.encode(passages), atol=1e-6)
    question = ["what did the committee decide about school buses"]
    moved = float(query_encoder(tuned)(question)[0] @ base.encode(question)[0])
    assert 0.5 < moved < 0.9999, moved


LEARNED = Tuning(fusion="learned")


def test_learned_fusion_with_todays_weights_ranks_as_todays_fusion(searcher: Searcher) -> None:
    """The feature plumbing through the search: a model that is the `fused` feature alone
    must give today's ranking, and the recorder sees every candidate."""
    plain = Searcher(searcher.index, searcher.embedder, models=LearnedModels.today("hashing"))
    plain.recorder = []
    for query in ("short breaks for disabled children", "school transport budget", "youth service savings"):
        today = [h.passage.text for h in searcher.search(query, 10).hits]
        mine = [h.passage.text for h in plain.search(query, 10, tuning=LEARNED).hits]
        assert mine == today and today
    assert len(plain.recorder) == 3
    _, scored, query_features = plain.recorder[0]
    assert scored.features.shape == (len(scored.ids), len(CANDIDATE_FEATURES)) and len(scored.ids) > 10
    assert query_features.shape == (len(QUERY_FEATURES),)
    assert any(c.text and c.kind for c in scored.candidates)


def test_learned_floor_answers_no_results_below_its_threshold(searcher: Searcher) -> None:
    today = LearnedModels.today("hashing")
    q = len(QUERY_FEATURES)
    refuse = FloorModel(np.zeros(q), np.ones(q), np.zeros(q), -5.0, 0.5)  # P = 0.007 for every query
    strict = Searcher(searcher.index, searcher.embedder, models=LearnedModels(today.scorer, refuse, "hashing"))
    result = strict.search("short breaks for disabled children", 10, tuning=LEARNED)
    assert not result.hits and result.message == NO_MATCH_FLOOR
    lenient = Searcher(searcher.index, searcher.embedder,
                       models=LearnedModels(today.scorer, FloorModel(np.zeros(q), np.ones(q), np.zeros(q), 5.0, 0.5),
                                            "hashing"))
    assert lenient.search("short breaks for disabled children", 10, tuning=LEARNED).hits
    # A quoted phrase is a requirement, never refused by the floor.
    assert strict.search('"short breaks"', 10, tuning=LEARNED).hits
    # A floor trained on another model's cosines does not judge this one's: the cosine rule does.
    other = Searcher(searcher.index, searcher.embedder, models=LearnedModels(today.scorer, refuse, "minilm"))
    assert other.search("short breaks for disabled children", 10, tuning=LEARNED).hits


def test_shipped_learned_fusion_runs_in_the_search(searcher: Searcher) -> None:
    if not FUSION_PATH.exists():
        pytest.fail(f"{FUSION_PATH} is missing: run python -m bench.train")
    shipped = Searcher(searcher.index, searcher.embedder)  # loads minutes/models/fusion.json on first use
    hits = shipped.search("short breaks for disabled children", 10, tuning=Tuning(fusion="learned", floor=-1.0)).hits
    assert hits and all(h.score >= 0 for h in hits)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


@pytest.mark.slow
def test_tuned_model_indexes_and_searches_the_seed_corpus(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """End to end with the shipped files: an index built with minilm-tuned, searched with the
    learned fusion and floor; an off-topic query gets no results, a topical one its passage."""
    from minutes.build import build_index
    from minutes.embed import load_embedder
    from minutes.storage import open_index

    from .conftest import CORPUS

    tuned = load_embedder("minilm-tuned", threads=2)
    build_index([CORPUS], tmp_path, tuned)
    index = open_index(tmp_path)
    assert index.manifest.model == "minilm-tuned"
    real = Searcher(index, tuned)
    hits = real.search("short breaks for disabled children", 10, tuning=LEARNED).hits
    assert hits and any("short break" in h.passage.text.lower() for h in hits[:3])
    assert not real.search("recipe for a lemon drizzle cake", 10, tuning=LEARNED).hits
