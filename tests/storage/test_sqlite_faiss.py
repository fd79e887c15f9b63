"""The SQLite + FAISS backend's own tests: its FTS5 rendering, pruning and one-pass scoring,
checked against SQL oracles (the backend-neutral behaviour is in test_backend_contract.py).

Builds serve keywords from tantivy (tests/storage/test_tantivy.py); FTS5 stays as the
benchmark's comparison row, so these tests build the seed corpus with `keyword="fts5"`."""

from __future__ import annotations

from pathlib import Path

import pytest

from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.records import Filters
from minutes.search.hybrid import Searcher
from minutes.storage.sqlite_faiss import SqliteFaissBackend, fts
from minutes.storage.sqlite_faiss.fts import Fts5KeywordIndex, Fts5Tuning, match_expression
from minutes.storage.sqlite_faiss.passages import filter_sql
from minutes.storage.sqlite_faiss.reader import SqliteFaissReader as Index
from minutes.text.query import KeywordQuery, parse_query

from ..conftest import CORPUS
from ..test_search import BROAD


@pytest.fixture(scope="module")
def fts_searcher(tmp_path_factory: pytest.TempPathFactory, embedder: HashingEmbedder) -> Searcher:
    backend = SqliteFaissBackend(tmp_path_factory.mktemp("fts5-index"), keyword="fts5")
    build_index([CORPUS], backend.index_dir, embedder, backend=backend)
    reader = backend.open()
    assert isinstance(reader.keyword, Fts5KeywordIndex)
    return Searcher(reader, embedder)


def _df(index: object, word: str) -> int:
    assert isinstance(index, Index)
    return index.sql("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?", [f'"{word}"'])[0][0]


def test_very_frequent_words_are_pruned_from_the_keyword_query(fts_searcher: Searcher,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    searcher = fts_searcher
    monkeypatch.setattr(fts, "PRUNE_MIN_PASSAGES", 0)  # the seed index is tiny
    total = searcher.index.manifest.passages
    common = max(["children", "council", "budget", "services"], key=lambda w: _df(searcher.index, w))
    rare = min(["stockport", "mill", "terrace", "autonomy"], key=lambda w: _df(searcher.index, w) or total)
    share = (_df(searcher.index, rare) + 0.5) / total
    assert _df(searcher.index, common) > share * total >= 1
    keyword = searcher.index.keyword
    assert isinstance(keyword, Fts5KeywordIndex)

    def pruned(query: KeywordQuery, tuning: Fts5Tuning | None = None) -> KeywordQuery:
        return keyword.with_tuning(tuning or Fts5Tuning(prune_share=share))._pruned(query)

    assert pruned(parse_query(f"{common} {rare}")).optional == (rare,)
    # every word frequent: one stays, so the query never becomes empty
    only_common = parse_query(f"{common} and the council children budget")
    assert all(_df(searcher.index, w) > share * total for w in only_common.optional)
    kept = pruned(only_common).optional
    assert len(kept) == 1 and kept[0] in only_common.optional
    # phrases and exclusions keep their meaning
    phrased = parse_query(f'"{common}" {rare} -{common}')
    assert pruned(phrased) == phrased
    excluding = pruned(parse_query(f"{common} {rare} -budget"))
    assert excluding.optional == (rare,) and excluding.excluded == ("budget",)
    # switched off, or on a small index, every word stays
    assert pruned(parse_query(f"{common} {rare}"), Fts5Tuning(prune_share=0)).optional == (common, rare)
    # the postings budget: words kept rarest first while the passages they select add up to it
    # (share 1: no word is too frequent, so only the budget prunes)
    both = _df(searcher.index, rare) + _df(searcher.index, common)
    query = parse_query(f"{common} {rare}")
    assert pruned(query, Fts5Tuning(prune_share=1.0, keyword_postings=both)).optional == (common, rare)
    assert pruned(query, Fts5Tuning(prune_share=1.0, keyword_postings=both - 1)).optional == (rare,)
    assert pruned(query, Fts5Tuning(prune_share=1.0, keyword_postings=0)).optional == (common, rare)
    assert pruned(query, Fts5Tuning(prune_share=1.0, keyword_postings=1)).optional == (rare,)  # rarest stays
    monkeypatch.setattr(fts, "PRUNE_MIN_PASSAGES", 10**9)
    assert pruned(parse_query(f"{common} {rare}")).optional == (common, rare)


@pytest.mark.parametrize("filters", [Filters(include_procedural=True), Filters(), Filters(decisions_only=True)])
def test_keyword_scores_the_semantic_candidates_in_the_same_pass(fts_searcher: Searcher, filters: Filters) -> None:
    searcher = fts_searcher
    parsed = parse_query(BROAD)
    first = searcher.index.keyword.search(parsed, filters, 8)
    alone, none = first.ranked, first.also
    assert none == {} and 0 < len(alone) <= 8
    assert isinstance(searcher.index, Index)
    candidates = [row[0] for row in searcher.index.sql("SELECT id FROM passages ORDER BY id DESC LIMIT 30")]
    second = searcher.index.keyword.search(parsed, filters, 8, score_also=candidates)
    best, scored = second.ranked, second.also
    assert [round(s, 9) for _, s in best] == [round(s, 9) for _, s in alone]
    marks = ",".join("?" * len(candidates))
    where, params = filter_sql(filters)
    expected = {row[0]: -row[1] for row in searcher.index.sql(
        f"SELECT f.rowid, bm25(passages_fts, 1.0, 0.3) FROM passages_fts f JOIN passages p ON p.id = f.rowid "
        f"JOIN documents d ON d.doc = p.doc WHERE passages_fts MATCH ? AND f.rowid IN ({marks}) AND {where}",
        [match_expression(parsed), *candidates, *params])}
    assert expected and scored.keys() == expected.keys()
    assert all(abs(scored[pid] - expected[pid]) < 1e-9 for pid in expected)


def test_a_build_pruned_under_an_open_reader_still_answers_new_threads(fresh_index_dir: Path) -> None:
    """A request that started on an old build may first touch SQLite from another thread after a
    newer build pruned the old folder: the reader still holds the file (searches during rebuilds)."""
    import shutil
    import threading

    from minutes.embed import HashingEmbedder
    from minutes.storage.sqlite_faiss import open_local

    reader = open_local(fresh_index_dir)
    shutil.rmtree(reader.path)
    found: list[int] = []
    errors: list[BaseException] = []

    def search() -> None:
        try:
            found.append(len(Searcher(reader, HashingEmbedder()).search(BROAD, 5).hits))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=search)
    thread.start()
    thread.join()
    assert not errors and found == [5]
