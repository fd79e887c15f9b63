"""The tantivy keyword index against SQLite FTS5 on the same real passages, and its faults.

Passages: the seed papers (`corpus/`, five councils with dates, kinds and resolutions) and six
QMSum committee meetings from ../shared, chunked by the real chunker. The FTS5 oracle is the
schema and bm25 weighting Minutes served before tantivy (porter stemmer, column weights 1.0
and 0.3). Stemmers differ (FTS5: Porter; tantivy: Snowball English), so comparisons use words
both stem alike, which is checked per word: both engines select the same passages for it.
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from minutes.chunk import chunk_document
from minutes.errors import IndexCorrupt, IndexMissing
from minutes.ingest import IngestOptions, Problem, load_documents
from minutes.records import Document, Filters, Passage
from minutes.storage.sqlite_faiss.fts import match_expression
from minutes.storage.tantivy_index import TantivyKeywordIndex, TantivyWriter, open_keyword_index
from minutes.storage.tantivy_index.writer import KeywordWriteError
from minutes.text.query import STOPWORDS, KeywordQuery, parse_query
from tests.conftest import CORPUS, ROOT, shared_path

MEETINGS = ["education_1", "education_2", "education_11", "covid_0", "covid_1", "covid_3"]
PROCEDURAL = "qmsum-covid_3"  # marked procedural here, so the procedural filter has something to hide


@dataclass(frozen=True)
class Row:
    pid: int
    passage: Passage
    document: Document


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    meetings = tmp_path_factory.mktemp("meetings")
    for name in MEETINGS:
        shutil.copy(shared_path("data", "qmsum", "train", f"{name}.json"), meetings)
    corpus = tmp_path_factory.mktemp("qmsum-corpus")
    subprocess.run([sys.executable, str(shared_path("tools", "qmsum_to_corpus.py")), str(meetings), str(corpus)],
                   check=True, capture_output=True)
    documents = [d for d in load_documents([CORPUS, corpus], IngestOptions()) if not isinstance(d, Problem)]
    out: list[Row] = []
    for document in sorted(documents, key=lambda d: d.document_id):
        if document.document_id == PROCEDURAL:
            document = replace(document, procedural=True)
        for passage in chunk_document(document):
            out.append(Row(len(out), passage, document))
    assert len(out) > 500 and len({r.document.council for r in out}) >= 6
    return out


def write(path: Path, rows: list[Row]) -> None:
    with TantivyWriter(path) as writer:
        for row in rows:
            writer.add_document(row.document, [row.passage], row.pid)
        writer.commit()


@pytest.fixture(scope="module")
def keyword(rows: list[Row], tmp_path_factory: pytest.TempPathFactory) -> TantivyKeywordIndex:
    path = tmp_path_factory.mktemp("tantivy") / "keyword"
    write(path, rows)
    return open_keyword_index(path)


class Fts5:
    """The FTS5 retrieval Minutes used before tantivy, as the oracle."""

    def __init__(self, rows: list[Row]) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.executescript("""
            CREATE TABLE p (id INTEGER PRIMARY KEY, council TEXT, committee TEXT, document_id TEXT, date_start TEXT,
                            date_end TEXT, procedural INT, kind TEXT, text TEXT, heading TEXT);
            CREATE VIRTUAL TABLE f USING fts5(text, heading, content='p', content_rowid='id',
                                              tokenize='porter unicode61 remove_diacritics 2');""")
        for r in rows:
            span = r.document.date
            self.db.execute("INSERT INTO p VALUES (?,?,?,?,?,?,?,?,?,?)", (
                r.pid, r.document.council, r.document.committee, r.document.document_id,
                span.start.isoformat() if span else None, span.end.isoformat() if span else None,
                int(r.document.procedural), r.passage.kind, r.passage.text, r.passage.heading))
        self.db.execute("INSERT INTO f(f) VALUES ('rebuild')")

    def search(self, query: KeywordQuery, filters: Filters, limit: int) -> list[tuple[int, float]]:
        if match_expression(query) is None:
            return []
        where, params = ["f MATCH ?"], [match_expression(query)]
        for column, value in (("council", filters.council), ("committee", filters.committee)):
            if value:
                where.append(f"p.{column} = ? COLLATE NOCASE")
                params.append(value)
        if filters.document:
            where.append("p.document_id = ?")
            params.append(filters.document)
        if filters.date_from:
            where.append("p.date_end >= ?")
            params.append(filters.date_from.isoformat())
        if filters.date_to:
            where.append("p.date_start <= ?")
            params.append(filters.date_to.isoformat())
        if not filters.include_procedural:
            where.append("p.procedural = 0")
        if filters.decisions_only:
            where.append("p.kind = 'resolution'")
        rows = self.db.execute(f"SELECT f.rowid, -bm25(f, 1.0, 0.3) s FROM f JOIN p ON p.id = f.rowid "
                               f"WHERE {' AND '.join(where)} ORDER BY s DESC, f.rowid LIMIT ?", [*params, limit])
        return [(row[0], row[1]) for row in rows]

    def matching(self, match: str) -> set[int]:
        return {row[0] for row in self.db.execute("SELECT rowid FROM f WHERE f MATCH ?", [match])}


@pytest.fixture(scope="module")
def fts(rows: list[Row]) -> Fts5:
    return Fts5(rows)


ALL = Filters(include_procedural=True)


def stemmed_alike(word: str, keyword: TantivyKeywordIndex, fts: Fts5) -> bool:
    """Whether both engines find `word` in exactly the same passages (their stemmers agree on it)."""
    mine = {pid for pid, _ in keyword.search(parse_query(word), ALL, 100_000).ranked}
    return bool(mine) and mine == fts.matching(f'"{word}"')


def agreeing_words(rows: list[Row], keyword: TantivyKeywordIndex, fts: Fts5, count: int, seed: int) -> list[str]:
    """Content words of random passages that both engines stem alike."""
    rng = random.Random(seed)
    words: list[str] = []
    while len(words) < count:
        text = rng.choice(rows).passage.text
        candidates = [w.lower() for w in re.findall(r"[A-Za-z]{5,}", text) if w.lower() not in STOPWORDS]
        if candidates:
            word = rng.choice(candidates)
            if word not in words and stemmed_alike(word, keyword, fts):
                words.append(word)
    return words


def test_plain_queries_find_what_fts5_finds_and_rank_it_alike(rows, keyword, fts) -> None:
    words = agreeing_words(rows, keyword, fts, 60, seed=13)
    rng = random.Random(7)
    queries = [" ".join(rng.sample(words, n)) for n in (1, 2, 3) for _ in range(15)]
    top1 = overlap = 0.0
    for text in queries:
        query = parse_query(text)
        mine = keyword.search(query, ALL, len(rows)).ranked
        theirs = fts.search(query, ALL, len(rows))
        assert {p for p, _ in mine} == {p for p, _ in theirs}, text  # the same passages selected
        assert all(score > 0 for _, score in mine)
        assert [s for _, s in mine] == sorted((s for _, s in mine), reverse=True)
        best = {p for p, s in theirs if s >= theirs[0][1] - 1e-9}  # FTS5's best, with its ties
        top1 += mine[0][0] in best
        assert dict(theirs)[mine[0][0]] >= 0.9 * theirs[0][1], text  # else a near tie for FTS5 too
        overlap += len({p for p, _ in mine[:10]} & {p for p, _ in theirs[:10]}) / min(10, len(theirs))
    # bm25 differs in detail: tantivy's idf is ln(1 + (N - n + 0.5) / (n + 0.5)), FTS5's has no
    # 1 +, and tantivy normalises each field by its own length, FTS5 by their sum.
    assert top1 / len(queries) >= 0.75, top1
    assert overlap / len(queries) >= 0.85, overlap


def test_heading_words_count_three_tenths_of_text_words(tmp_path) -> None:
    path = tmp_path / "keyword"
    with TantivyWriter(path) as writer:
        for pid, (text, heading) in enumerate([("apple pear", "plum fig"), ("plum fig", "apple pear"),
                                               ("kiwi lime", "lemon date")]):
            writer.add(pid, text, heading, None, None, f"d{pid}", None, None, False, "text")
        writer.commit()
    scores = dict(open_keyword_index(path).search(parse_query("apple"), ALL, 10).ranked)
    assert scores.keys() == {0, 1}
    assert scores[1] / scores[0] == pytest.approx(0.3, rel=1e-3)


def test_phrases_and_or_between_phrases_select_what_fts5_selects(rows, keyword, fts) -> None:
    rng = random.Random(21)
    phrases: list[str] = []
    while len(phrases) < 20:
        words = [w.lower() for w in re.findall(r"[A-Za-z]+", rng.choice(rows).passage.text)]
        if len(words) > 4:
            start = rng.randrange(len(words) - 2)
            cut = words[start:start + rng.choice((2, 3))]
            if all(stemmed_alike(w, keyword, fts) for w in cut):
                phrases.append(" ".join(cut))
    for i, phrase in enumerate(phrases):
        other = phrases[(i + 1) % len(phrases)]
        for text in (f'"{phrase}"', f'"{phrase}" OR "{other}"', f'"{phrase}" "{other.split()[0]}"'):
            query = parse_query(text)
            assert match_expression(query) is not None
            selected = keyword.select(query, ALL)
            assert selected == fts.matching(match_expression(query)), text
            ranked = {p for p, _ in keyword.search(query, ALL, len(rows)).ranked}
            assert ranked == selected, text
        assert keyword.select(parse_query(f'"{phrase}"'), ALL), phrase  # taken from a passage: found


def test_exclusions_leave_out_every_passage_holding_them(rows, keyword, fts) -> None:
    words = agreeing_words(rows, keyword, fts, 10, seed=5)
    for first, second in zip(words, words[1:], strict=False):
        query = parse_query(f"{first} -{second}")
        excluded = keyword.excluded(query)
        assert excluded == fts.matching(f'"{second}"') and excluded
        found = {p for p, _ in keyword.search(query, ALL, len(rows)).ranked}
        assert not found & excluded
        assert found == fts.matching(f'"{first}" NOT "{second}"')
    phrase = parse_query('children -"young people"')
    assert keyword.excluded(phrase) == fts.matching('"young people"')


FILTERS = [
    Filters(council="stockport metropolitan borough council"),
    Filters(committee="SPECIAL COMMITTEE ON THE COVID-19 PANDEMIC"),
    Filters(document="003_1fb74289b39c3150"),
    Filters(date_from=date(2017, 12, 1), date_to=date(2019, 12, 31)),
    Filters(date_to=date(2016, 11, 15)),
    Filters(decisions_only=True),
    Filters(),  # procedural documents left out
    Filters(council="National Assembly for Wales", include_procedural=True),
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(k for k, v in f.as_dict().items() if v))
def test_every_filter_applies_inside_the_search_and_keeps_k_hits(rows, keyword, fts, filters) -> None:
    query = parse_query("children school education committee council report")
    allowed = {r.pid for r in rows if _passes(r, filters)}
    matching = {p for p, _ in fts.search(query, filters, len(rows))}
    assert allowed and matching <= allowed
    for k in (1, 5, 20):
        hits = keyword.search(query, filters, k).ranked
        assert len(hits) == min(k, len(matching)), (filters, k)
        assert {p for p, _ in hits} <= allowed
    assert {p for p, _ in keyword.search(query, filters, len(rows)).ranked} == matching


def _passes(row: Row, f: Filters) -> bool:
    d, span = row.document, row.document.date
    return ((not f.council or (d.council or "").lower() == f.council.lower())
            and (not f.committee or (d.committee or "").lower() == f.committee.lower())
            and (not f.document or d.document_id == f.document)
            and (not (f.date_from or f.date_to) or (span is not None and span.overlaps(f.date_from, f.date_to)))
            and (not f.decisions_only or row.passage.kind == "resolution")
            and (f.include_procedural or not d.procedural))


def test_score_also_gives_the_bm25_of_the_candidates_that_match(rows, keyword) -> None:
    query = parse_query("budget schools funding")
    full = dict(keyword.search(query, ALL, len(rows)).ranked)
    candidates = sorted(full)[:7] + [r.pid for r in rows if r.pid not in full][:5]
    hits = keyword.search(query, ALL, 3, score_also=candidates)
    assert len(hits.ranked) == 3
    assert hits.also.keys() == set(candidates) & full.keys()
    for pid, score in hits.also.items():
        assert score == pytest.approx(full[pid], rel=1e-6)


def test_holds_all_words_within_the_given_passages(rows, keyword) -> None:
    def text(r: Row) -> str:
        return (r.passage.text + " " + r.passage.heading).lower()

    row = next(r for r in rows if "budget" in text(r) and "school" in text(r))
    others = [r.pid for r in rows if "budget" not in text(r)][:50]
    assert keyword.holds_all_words(["budgets", "schools"], [row.pid, *others])  # stemmed as indexed
    assert not keyword.holds_all_words(["budget", "schools"], others)
    assert not keyword.holds_all_words(["budget", "qwxyzzy"], [row.pid])


def test_counts_by_council_and_year_come_from_the_engine(rows, keyword) -> None:
    query = parse_query("children")
    selected = {p for p, _ in keyword.search(query, ALL, len(rows)).ranked}
    by_council: dict[str, int] = {}
    for r in rows:
        if r.pid in selected:
            by_council[(r.document.council or "").lower()] = by_council.get((r.document.council or "").lower(), 0) + 1
    assert keyword.counts(query, ALL, "council") == by_council
    years = keyword.counts(query, ALL, "year")
    assert years and all(y.isdigit() for y in years)


def test_update_and_delete_by_passage_id(rows, tmp_path) -> None:
    path = tmp_path / "keyword"
    write(path, rows[:200])
    index = open_keyword_index(path)
    target = rows[10]
    assert 10 in index.select(parse_query('"zanzibar quokka"') if False else parse_query(f'"{_phrase(target)}"'), ALL)
    writer = TantivyWriter(path)
    writer.delete(10)
    writer.update(11, text="the zanzibar quokka report", heading="", council="Kent", committee="Cabinet",
                  document_id="kent-1", date_start=None, date_end=None, procedural=False, kind="minutes")
    writer.commit()
    writer.close()
    index.reload()
    assert index.passages == 199
    assert 10 not in {p for p, _ in index.search(parse_query(_phrase(target)), ALL, 500).ranked}
    assert [p for p, _ in index.search(parse_query("quokka"), ALL, 10).ranked] == [11]
    assert [p for p, _ in index.search(parse_query("quokka"), Filters(council="kent"), 10).ranked] == [11]


def _phrase(row: Row) -> str:
    return " ".join(re.findall(r"[A-Za-z]+", row.passage.text)[:3]).lower()


# --- read-only, kills, full disks and damaged files (need root for mounts, as CI has)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    if os.geteuid() != 0:
        pytest.fail("these tests mount a read-only bind and a small tmpfs: run them as root (CI does)")
    made: list[Path] = []
    yield made
    for point in reversed(made):
        subprocess.run(["umount", "-l", str(point)], check=False)


def _mount(args: list[str], point: Path, made: list[Path]) -> None:
    point.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", *args, str(point)], capture_output=True, text=True)
    if result.returncode:
        pytest.fail(f"cannot mount {point}: {result.stderr.strip()}")
    made.append(point)


def test_opens_from_a_read_only_mount(rows, tmp_path, mounts) -> None:
    source = tmp_path / "keyword"
    write(source, rows[:300])
    expected = open_keyword_index(source).search(parse_query("children"), ALL, 10)
    for lock in source.glob(".tantivy-*.lock"):
        lock.unlink()  # as a copied or freshly shipped build would be
    ro = tmp_path / "ro"
    _mount(["--bind", str(source)], ro, mounts)
    subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], check=True)
    with pytest.raises(OSError):
        (ro / "probe").write_text("x")
    index = open_keyword_index(ro)
    assert index.search(parse_query("children"), ALL, 10) == expected
    assert index.select(parse_query(f'"{_phrase(rows[0])}"'), ALL)
    index.close()


KILLER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from minutes.storage.tantivy_index import TantivyWriter
    writer = TantivyWriter(Path(sys.argv[1]), threads=1)
    batch = 0
    while True:
        for i in range(400):
            pid = batch * 400 + i
            writer.add(pid, f"passage {pid} of batch {batch} " + "council budget report " * 30, "Heading",
                       "Kent", "Cabinet", f"doc-{batch}", None, None, False, "minutes")
        writer.commit()
        batch += 1
        print(batch, flush=True)
""")


def test_sigkill_mid_commit_leaves_the_last_commit_readable(tmp_path) -> None:
    path = tmp_path / "keyword"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    rng = random.Random(3)
    seen: set[int] = set()
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", KILLER, str(path)], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None
        first = child.stdout.readline()  # one commit done: the next is under way
        assert first.strip().isdigit(), child.stderr.read() if child.stderr else first
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
        index = open_keyword_index(path)
        count = index.passages
        assert count > 0 and count % 400 == 0  # whole batches only
        hits = index.search(parse_query("budget"), ALL, 5).ranked
        assert len(hits) == 5
        seen.add(count)
        index.close()
    assert len(seen) > 1  # the kills fell at different points of the work


def test_a_full_disk_is_an_enospc_error_and_the_last_commit_stays(rows, tmp_path, mounts) -> None:
    small = tmp_path / "small"
    _mount(["-t", "tmpfs", "-o", "size=3m", "tmpfs"], small, mounts)
    path = small / "keyword"
    writer = TantivyWriter(path, threads=1)
    for row in rows[:100]:
        writer.add_document(row.document, [row.passage], row.pid)
    writer.commit()
    with pytest.raises(KeywordWriteError, match="disk is full") as caught:
        for batch in range(200):
            for i in range(200):
                pid = 1000 + batch * 200 + i
                writer.add(pid, f"{pid} " + " ".join(str(pid * j) for j in range(120)), "", None, None,
                           f"filler-{pid}", None, None, False, "text")
            writer.commit()
    assert str(path) in str(caught.value) and caught.value.errno == errno.ENOSPC
    index = open_keyword_index(path)
    assert index.passages >= 100 and (index.passages - 100) % 200 == 0  # whole commits only
    assert {p for p, _ in index.search(parse_query(_phrase(rows[0])), ALL, 10).ranked} & {0}


def test_a_damaged_file_at_start_up_names_it_and_the_fix(rows, tmp_path) -> None:
    path = tmp_path / "keyword"
    write(path, rows[:300])
    postings = next(path.glob("*.idx"))
    data = bytearray(postings.read_bytes())
    data[len(data) // 3] ^= 0xFF
    postings.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="minutes index --rebuild") as caught:
        open_keyword_index(path)
    assert str(postings) in str(caught.value) and "checksum" in str(caught.value)

    postings.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(IndexCorrupt, match=re.escape(str(postings))):
        open_keyword_index(path)
    postings.unlink()
    with pytest.raises(IndexCorrupt, match="minutes index --rebuild"):
        open_keyword_index(path)
    (path / "meta.json").write_text("{ not json")
    with pytest.raises(IndexCorrupt, match="meta.json"):
        open_keyword_index(path)
    with pytest.raises(IndexMissing, match="minutes index"):
        open_keyword_index(tmp_path / "nowhere")
