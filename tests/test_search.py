"""The search function: filters inside the retrievers, query syntax, duplicates, the floor, modes.

Runs on the deterministic `hashing` embedder and the seed corpus; expectations are derived
from the index itself (which passages exist, which contain a word), never hard-coded results.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.records import Filters
from minutes.search.hybrid import MODES, NO_MATCH_FLOOR, QueryError, Searcher, Tuning
from minutes.storage import open_index
from minutes.storage.base import IndexReader, StoredDocument, StoredPassage

BROAD = "children budget savings and services"


def every_passage(index: IndexReader) -> list[StoredPassage]:
    """Every passage of the index, through the reader API (the oracles below work on these)."""
    return list(index.passages.passages(range(index.manifest.passages)).values())


def every_document(index: IndexReader) -> list[StoredDocument]:
    ids = dict.fromkeys(s.passage.document_id for s in every_passage(index))
    return [d for d in (index.passages.document(i) for i in ids) if d is not None]


def mentions(stored: StoredPassage, word: str) -> bool:
    return word in re.findall(r"\w+", (stored.passage.text + " " + stored.passage.heading).lower())


# A small candidate pool makes filtering after retrieval visibly lose hits: the
# filter must run inside both retrievers for these to come back full.
@pytest.fixture
def narrow(searcher: Searcher) -> Searcher:
    return Searcher(searcher.index, searcher.embedder, Tuning(pool=12))


@pytest.mark.parametrize("mode", MODES)
def test_document_filter_keeps_k_hits(narrow: Searcher, mode: str) -> None:
    index = narrow.index
    # the document with the fewest passages that mention the word at least k times
    counts = Counter(s.passage.document_id for s in every_passage(index) if mentions(s, "children"))
    document = min((d for d, n in counts.items() if n >= 5), key=lambda d: (counts[d], d))
    result = narrow.search("children", 5, Filters(document=document), tuning=Tuning(mode=mode, pool=12))
    assert len(result.hits) == 5
    assert {h.document.document_id for h in result.hits} == {document}


def test_council_filter(narrow: Searcher) -> None:
    passages = every_passage(narrow.index)
    [(council, _)] = Counter(d.info.council for d in every_document(narrow.index)).most_common(1)
    assert council and sum(s.document.council == council for s in passages) > 10
    result = narrow.search(BROAD, 10, Filters(council=council.upper()))  # case does not matter
    assert len(result.hits) == 10
    assert {h.document.council for h in result.hits} == {council}


def test_committee_filter(narrow: Searcher) -> None:
    committees = narrow.index.passages.facet_values("committee")
    committee = committees[-1]
    result = narrow.search(BROAD, 8, Filters(committee=committee))
    assert result.hits
    assert {h.document.committee for h in result.hits} == {committee}
    if sum(s.document.committee == committee for s in every_passage(narrow.index)) >= 8:
        assert len(result.hits) == 8


@pytest.mark.parametrize(("since", "until"), [
    (date(2018, 1, 10), date(2018, 2, 1)),   # inside the last month of an interval
    (None, date(2014, 12, 31)),              # before everything but the oldest
    (date(2019, 11, 7), date(2019, 11, 7)),  # one day
    (date(2023, 11, 30), None),              # the last day of an interval
])
def test_date_filter_overlaps_intervals(searcher: Searcher, since: date | None, until: date | None) -> None:
    expected = {d.info.document_id for d in every_document(searcher.index)
                if d.span is not None and d.span.overlaps(since, until)}
    assert expected, "the seed corpus should have a document in this range"
    result = searcher.search(BROAD, 10, Filters(date_from=since, date_to=until))
    assert result.hits
    assert {h.document.document_id for h in result.hits} <= expected


def test_filter_that_matches_nothing_returns_no_hits(searcher: Searcher) -> None:
    result = searcher.search(BROAD, 10, Filters(council="No Such Council"))
    assert result.hits == [] and result.message


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _has_phrase(text: str, phrase: str) -> bool:
    words, wanted = _words(text), phrase.split()
    return any(words[i:i + len(wanted)] == wanted for i in range(len(words)))


@pytest.mark.parametrize("mode", MODES)
def test_quoted_phrase_is_required(searcher: Searcher, mode: str) -> None:
    result = searcher.search('"short breaks" budget', 10, tuning=Tuning(mode=mode))
    assert result.hits
    assert all(_has_phrase(h.passage.text, "short breaks") for h in result.hits)
    alternatives = searcher.search('"short breaks" OR "agency social workers"', 10, tuning=Tuning(mode=mode))
    assert all(_has_phrase(h.passage.text, "short breaks") or _has_phrase(h.passage.text, "agency social workers")
               for h in alternatives.hits)
    assert len(alternatives.hits) >= len(searcher.search('"short breaks"', 10, tuning=Tuning(mode=mode)).hits)


def test_phrase_that_occurs_nowhere_gives_no_hits(searcher: Searcher) -> None:
    result = searcher.search('"koala spaceship launch"', 10)
    assert result.hits == [] and result.message


@pytest.mark.parametrize("mode", MODES)
def test_exclusion_removes_passages(searcher: Searcher, mode: str) -> None:
    plain = searcher.search("budget savings", 20, tuning=Tuning(mode=mode))
    assert any("saving" in h.passage.text.lower() for h in plain.hits)  # else the test proves nothing
    excluded = searcher.search("budget -savings", 20, tuning=Tuning(mode=mode))
    assert excluded.hits
    # porter stemming: -savings also excludes "saving"
    assert not any(w.startswith("saving") for h in excluded.hits for w in _words(h.passage.text))


HOSTILE = ['short" breaks', '"', '""', "NEAR(short breaks)", "short AND", "OR", "NOT", "a:b", "text:breaks",
           "*", "break*", "^short", "(((", ")", "short -", "- -", "'; DROP TABLE t; --", "{text heading}: x",
           "short + breaks", "e.g. £22.453m", '-""', "AND OR NOT", "heading:breaks", "-short", '"-"', "\u202e\ufeff x"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_syntax_never_errors(searcher: Searcher, query: str, mode: str) -> None:
    result = searcher.search(query, 10, tuning=Tuning(mode=mode))
    assert result.hits or result.message


@pytest.mark.parametrize(("query", "k", "message"), [
    ("", 10, "the query is empty"),
    ("   \x00 ", 10, "the query is empty"),
    ("x" * 1001, 10, "the limit is 1000"),
    ("budget", 0, "k must be between 1 and 100"),
    ("budget", 101, "k must be between 1 and 100"),
])
def test_bad_queries_raise_query_error(searcher: Searcher, query: str, k: int, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        searcher.search(query, k)


PARAGRAPH = ("The panel was concerned that reducing the availability of short breaks for disabled children "
             "would lead to an increase in more costly interventions later, and asked officers to report back "
             "on the impact of personal budgets on the take-up of short breaks across the borough.")


@pytest.fixture(scope="module")
def duplicates(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    """Two papers repeat one paragraph (one copy with a word added)."""
    folder = tmp_path_factory.mktemp("dup-corpus")
    (folder / "report.md").write_text(f"---\ndocument_id: report\n---\n{PARAGRAPH}\n\nThe budget was set.\n")
    (folder / "minutes.md").write_text(f"---\ndocument_id: minutes\n---\n{PARAGRAPH} Noted.\n\n"
                                       "Members discussed school transport.\n")
    (folder / "other.md").write_text("---\ndocument_id: other\n---\nShort breaks were praised by parents.\n")
    index_dir = tmp_path_factory.mktemp("dup-index")
    embedder = HashingEmbedder()
    build_index([folder], index_dir, embedder)
    return Searcher(open_index(index_dir), embedder)


def test_near_duplicates_are_collapsed(duplicates: Searcher) -> None:
    query = "short breaks for disabled children and costly interventions"
    plain = duplicates.search(query, 10, tuning=Tuning(mode="rrf"))
    copies = [h for h in plain.hits if "costly interventions" in h.passage.text]
    assert len(copies) == 2  # both copies are found...
    result = duplicates.search(query, 10)
    shown = [h for h in result.hits if "costly interventions" in h.passage.text]
    assert len(shown) == 1  # ...and only the better one is shown
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    assert any(h.document.document_id == "other" for h in result.hits)  # a different passage is kept


# The hashing embedder's cosines measure shared words, not meaning, and run lower than the
# model's; the tests set a floor on its scale.
FLOORED = Tuning(floor=0.25)


@pytest.mark.parametrize("query", ["spaceship koala", "premier league transfer window", "sourdough recipe"])
def test_floor_answers_no_results_for_off_topic(searcher: Searcher, query: str) -> None:
    result = searcher.search(query, 10, tuning=FLOORED)
    assert result.hits == []
    assert result.message == NO_MATCH_FLOOR
    # without the floor, and in the baselines, the same query returns the nearest nonsense
    assert searcher.search(query, 10, tuning=Tuning(floor=-1.0)).hits
    assert searcher.search(query, 10, tuning=Tuning(mode="semantic", floor=0.25)).hits


def test_floor_lets_through_what_the_model_finds(searcher: Searcher) -> None:
    query = "Troubled Families programme"
    best = searcher.search(query, 1, tuning=Tuning(mode="semantic")).hits[0]
    assert (best.semantic_score or 0) >= 0.25  # the model finds it above the floor
    result = searcher.search(query, 10, tuning=FLOORED)
    assert result.hits and result.message is None


def test_below_the_floor_only_passages_with_query_words_stay(searcher: Searcher) -> None:
    result = searcher.search("Troubled Families programme budget", 20, tuning=FLOORED)
    assert result.hits
    assert all((h.semantic_score or 0) >= 0.25 or h.keyword_rank is not None for h in result.hits)


def test_floor_judges_the_question_against_the_whole_index(searcher: Searcher) -> None:
    """Filters say where to look; whether the question is about anything is asked of everything."""
    query = "Troubled Families programme"
    saying = {s.passage.document_id for s in every_passage(searcher.index) if mentions(s, "troubled")}
    elsewhere = {d.info.document_id for d in every_document(searcher.index)} - saying
    document = sorted(elsewhere)[0]
    scoped = searcher.search(query, 5, Filters(document=document), tuning=FLOORED)
    assert scoped.hits and {h.document.document_id for h in scoped.hits} == {document}
    assert max(h.semantic_score or 0 for h in scoped.hits) < 0.25  # nothing in it reaches the floor...
    off_topic = searcher.search("spaceship koala", 5, Filters(document=document), tuning=FLOORED)
    assert off_topic.hits == [] and off_topic.message == NO_MATCH_FLOOR  # ...but an off-topic query stays out


def test_floor_lets_through_passages_holding_every_word(searcher: Searcher) -> None:
    query = "agency social workers"
    cosines = [h.semantic_score or 0 for h in searcher.search(query, 10, tuning=Tuning(mode="semantic")).hits]
    assert max(cosines) < 0.25  # below the floor: only the words can let it through
    result = searcher.search(query, 10, tuning=FLOORED)
    assert result.hits
    assert all(w in result.hits[0].passage.text.lower() for w in ("agency", "social", "worker"))


def test_modes_use_their_own_retriever(searcher: Searcher) -> None:
    query = "short breaks for disabled children"
    keyword = searcher.search(query, 10, tuning=Tuning(mode="keyword"))
    assert keyword.hits and all(h.keyword_rank is not None and h.semantic_score is None for h in keyword.hits)
    assert [h.keyword_rank for h in keyword.hits] == sorted(h.keyword_rank or 0 for h in keyword.hits)
    semantic = searcher.search(query, 10, tuning=Tuning(mode="semantic"))
    assert semantic.hits and all(h.keyword_rank is None for h in semantic.hits)
    cosines = [h.semantic_score or 0 for h in semantic.hits]
    assert cosines == sorted(cosines, reverse=True)
    assert len(searcher.search("spaceship koala", 10, tuning=Tuning(mode="semantic")).hits) == 10


def test_default_mode_is_hybrid_and_tuning_on_searcher_matches_per_call(searcher: Searcher) -> None:
    assert Tuning().mode == "hybrid" and searcher.tuning.mode == "hybrid"
    query = "agency social workers"
    per_call = searcher.search(query, 10, tuning=Tuning(mode="keyword"))
    own = Searcher(searcher.index, searcher.embedder, Tuning(mode="keyword")).search(query, 10)
    assert [h.passage.passage_id for h in per_call.hits] == [h.passage.passage_id for h in own.hits]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown search mode 'bm42'"):
        Tuning(mode="bm42")


def test_hybrid_finds_what_either_retriever_finds_first(searcher: Searcher) -> None:
    query = "risk of claw back of capital costs by the Department for Education"
    hybrid = {h.passage.passage_id for h in searcher.search(query, 10).hits}
    for mode in ("keyword", "semantic"):
        top = searcher.search(query, 1, tuning=Tuning(mode=mode)).hits[0]
        assert top.passage.passage_id in hybrid


def test_search_result_for_path(seed_index_dir: Path, embedder: HashingEmbedder) -> None:
    from minutes.search.hybrid import open_searcher

    searcher = open_searcher(seed_index_dir, "hashing", tuning=Tuning(mode="keyword"))
    assert searcher.tuning.mode == "keyword"
    assert searcher.search("short breaks", 3).hits


@pytest.mark.slow
def test_real_model_on_the_seed_corpus(tmp_path: Path) -> None:
    """The final method with all-MiniLM-L6-v2: seeds-dev and the off-topic queries (bench/relevance.py)."""
    from minutes.embed import load_embedder
    from minutes.evaluate import load_questions, score

    from .conftest import CORPUS, ROOT, shared_path

    model = load_embedder("minilm", threads=2)
    build_index([CORPUS], tmp_path, model)
    real = Searcher(open_index(tmp_path), model)
    questions = load_questions([shared_path("eval", "seeds-dev.jsonl")])
    runs = {q.id: [h.passage.text for h in real.search(q.question, 10).hits] for q in questions}
    figures = score(questions, runs)
    assert figures.hit >= 0.95 and figures.mrr >= 0.9
    offtopic = [line.strip() for line in (ROOT / "bench" / "offtopic.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    answered = [q for q in offtopic if real.search(q, 10).hits]
    assert len(answered) <= 0.1 * len(offtopic), answered


def test_a_minute_is_never_collapsed_into_the_paper_it_repeats(tmp_path: Path) -> None:
    """Real minutes restate the agenda text; the minute is what the reader came for (issue 15 item 2)."""
    folder = tmp_path / "papers"
    folder.mkdir()
    query = "short breaks for disabled children and costly interventions"
    # The agenda's copy is titled with the question's words, so it ranks above the minute.
    (folder / "report.md").write_text(f"---\ndocument_id: report\ntitle: {query}\n---\n{PARAGRAPH}\n")
    (folder / "minutes.md").write_text(f"---\ndocument_id: minutes\n---\nMinutes:\n\n{PARAGRAPH}\n")
    embedder = HashingEmbedder()
    build_index([folder], tmp_path / "index", embedder)
    searcher = Searcher(open_index(tmp_path / "index"), embedder)
    both = [h.passage for h in searcher.search(query, 10, tuning=Tuning(mode="rrf")).hits]
    assert [p.document_id for p in both][:2] == ["report", "minutes"]  # the blurb ranks first...
    shown = [h.passage for h in searcher.search(query, 10).hits]
    assert "minutes" in [p.kind for p in shown]  # ...and the minute is still shown
