"""The Milvus backend against real servers: the 2.3 standalone server (the `milvus` package,
started once per session on loopback) and Milvus Lite 3 (BM25). Results are checked against
exact answers worked out here from the same documents and vectors."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pytest

from minutes.chunk import chunk_document
from minutes.embed import HashingEmbedder, embedding_text
from minutes.errors import IndexMissing, QueryError
from minutes.records import DateSpan, Document, Filters, Passage
from minutes.storage.milvus.backend import MilvusBackend
from minutes.storage.milvus.keyword import holds_phrase, words_of
from minutes.storage.milvus.schema import info_of
from minutes.storage.milvus.writer import MilvusWriter, Target
from minutes.text.query import parse_query
from tests.conftest import CORPUS
from tests.milvus_fixtures import load_corpus, write_build

pytestmark = [pytest.mark.slow, pytest.mark.milvus]

HOSTILE_COUNCIL = 'O"Brien \\ Borough") or (id >= 0'


def _extra_documents() -> list[Document]:
    """Documents whose names and dates the seed corpus lacks: hostile text, no date, procedural."""
    return [
        Document("hostile-1", "The hostile council approved the parking policy for the town centre. "
                 "Parking charges rise in April.", title="Hostile", council=HOSTILE_COUNCIL,
                 committee="Cabinet\nand friends", date=DateSpan("2021-03", date(2021, 3, 1), date(2021, 3, 31))),
        Document("undated-1", "An undated note about libraries and parking.", council="Nowhere Council"),
        Document("procedural-1", "Apologies for absence were received from Cllr Smith.", council="Nowhere Council",
                 procedural=True, date=DateSpan("2021-03-04", date(2021, 3, 4), date(2021, 3, 4))),
    ]


@dataclass
class Built:
    """A published seed build on one backend, with what it should hold."""

    kind: str
    backend: MilvusBackend
    reader: Any
    documents: list[Document]
    passages: list[tuple[Passage, Document]]
    vectors: np.ndarray
    ids: np.ndarray  # the Milvus id (content key) of each passage, in the order written

    def keys(self, positions: Iterable[int]) -> set[int]:
        return {int(self.ids[i]) for i in positions}

    def allowed(self, filters: Filters) -> np.ndarray:
        """The ids `filters` let through, worked out from the documents (the local index's rules)."""
        keep = []
        for i, (passage, doc) in enumerate(self.passages):
            ok = ((not filters.council or (doc.council or "").lower() == filters.council.lower())
                  and (not filters.committee or (doc.committee or "").lower() == filters.committee.lower())
                  and (not filters.document or doc.document_id == filters.document)
                  and (not (filters.date_from or filters.date_to)
                       or (doc.date is not None and doc.date.overlaps(filters.date_from, filters.date_to)))
                  and (filters.include_procedural or not doc.procedural)
                  and (not filters.decisions_only or passage.kind == "resolution"))
            if ok:
                keep.append(i)
        return np.array(keep, dtype=np.int64)

    def exact(self, vector: np.ndarray, k: int, allowed: np.ndarray) -> np.ndarray:
        scores = self.vectors[allowed] @ vector
        return allowed[np.argsort(-scores, kind="stable")[:k]]


@pytest.fixture(scope="module", params=["standalone", "lite"])
def built(request: pytest.FixtureRequest, milvus_lite_url: str) -> Iterator[Built]:
    url = request.getfixturevalue("milvus_server").url if request.param == "standalone" else milvus_lite_url
    backend = MilvusBackend(url + ("?prefix=seed" if request.param == "lite" else "/seed"))
    documents = load_corpus(CORPUS) + _extra_documents()
    embedder = HashingEmbedder()
    passages = [(p, d) for d in documents for p in chunk_document(d)]
    vectors = embedder.encode([embedding_text(p, info_of(d)) for p, d in passages])
    handle = write_build(backend, documents, embedder, incremental=False)
    backend.publish(handle)
    reader = backend.open()
    found = [reader.passages.passage(p.document_id, p.ordinal) for p, _ in passages]
    ids = np.array([s.id if s else -1 for s in found], dtype=np.int64)
    yield Built(request.param, backend, reader, documents, passages, vectors, ids)


def test_the_published_build_is_current_and_reads_back_whole(built: Built) -> None:
    reader = built.reader
    assert built.backend.current() == reader.build_id
    assert reader.manifest.passages == len(built.passages) == reader.vectors.count()
    stored = reader.passages.passages(built.ids.tolist())
    assert len(stored) == len(built.passages) == len(set(built.ids.tolist())) and min(built.ids) >= 0
    for i, (passage, document) in enumerate(built.passages):
        assert stored[built.ids[i]].passage == passage
        assert stored[built.ids[i]].document == info_of(document)
        assert stored[built.ids[i]].procedural == document.procedural
    np.testing.assert_allclose(reader.vectors.vectors(built.ids[[5, 0, 3]].tolist()), built.vectors[[5, 0, 3]],
                               atol=1e-6)


def test_documents_come_back_with_their_full_text_and_fields(built: Built) -> None:
    longest = max(built.documents, key=lambda d: len(d.text))
    for document in (longest, *_extra_documents()):
        stored = built.reader.passages.document(document.document_id)
        assert stored is not None
        assert stored.text == document.text
        assert stored.info == info_of(document)
        assert (stored.span, stored.procedural, stored.page_starts) == (document.date, document.procedural,
                                                                        document.page_starts)
        assert stored.content_hash == document.content_hash
        assert built.reader.passages.document_passages(document.document_id) == chunk_document(document)
    assert built.reader.passages.document("no-such-document") is None


def test_places_and_passages_by_place(built: Built) -> None:
    places = built.reader.passages.places([int(built.ids[0]), int(built.ids[7]), 99999])
    assert places == {int(built.ids[i]): (built.passages[i][0].document_id, built.passages[i][0].ordinal)
                      for i in (0, 7)}
    passage, _ = built.passages[7]
    found = built.reader.passages.passage(passage.document_id, passage.ordinal)
    assert found is not None and found.id == built.ids[7] and found.passage == passage
    assert built.reader.passages.passage(passage.document_id, 10_000) is None


def test_facets_and_restricts(built: Built) -> None:
    councils = sorted({d.council for d in built.documents if d.council})
    assert built.reader.passages.facet_values("council") == councils
    assert HOSTILE_COUNCIL in councils
    store = built.reader.passages
    assert store.restricts(Filters())  # procedural passages exist, and are hidden by default
    assert not store.restricts(Filters(include_procedural=True))
    assert store.restricts(Filters(council="Kent", include_procedural=True))


FILTERS = [
    Filters(),
    Filters(include_procedural=True),
    Filters(council="london borough of haringey"),
    Filters(council=HOSTILE_COUNCIL),
    Filters(committee="CABINET\nAND FRIENDS"),
    Filters(council="No Such \"Council"),
    Filters(date_from=date(2019, 1, 1)),
    Filters(date_to=date(2018, 12, 31)),
    Filters(date_from=date(2021, 3, 1), date_to=date(2021, 3, 31), include_procedural=True),
    Filters(decisions_only=True),
    Filters(document="hostile-1"),
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str({k: v for k, v in f.as_dict().items() if v}))
def test_filtered_search_is_exact_inside_the_engine(built: Built, filters: Filters) -> None:
    allowed = built.allowed(filters)
    for query in ("parking charges in the town centre", "children's services budget", "apologies"):
        vector = HashingEmbedder().encode([query])[0]
        scores, ids = built.reader.vectors.search(vector, 10, filters)
        expected = built.exact(vector, 10, allowed)
        assert len(ids) == min(10, len(allowed))  # filters keep k hits when there are k
        assert set(ids.tolist()) <= built.keys(allowed)
        np.testing.assert_allclose(scores, built.vectors[expected] @ vector, atol=1e-5)  # same ranking, ties aside
        assert list(scores) == sorted(scores, reverse=True)


def test_restrict_narrows_the_search_to_given_ids(built: Built) -> None:
    vector = HashingEmbedder().encode(["parking"])[0]
    restrict = built.ids[[3, 9, 27, 40]]
    _, ids = built.reader.vectors.search(vector, 10, Filters(include_procedural=True), restrict=restrict)
    assert sorted(ids.tolist()) == sorted(restrict.tolist())
    _, none = built.reader.vectors.search(vector, 10, Filters(), restrict=np.zeros(0, dtype=np.int64))
    assert len(none) == 0


def test_keyword_search_on_bm25_servers_checks_phrases_and_exclusions_exactly(built: Built) -> None:
    keyword = built.reader.keyword
    if built.kind == "standalone":  # 2.3: no BM25; the error says what to do
        with pytest.raises(QueryError, match="needs Milvus 2.5 or later.*keyword=local"):
            keyword.search(parse_query("parking"), Filters(), 10)
        with pytest.raises(QueryError, match="needs Milvus 2.5"):
            keyword.select(parse_query('"social care"'), Filters())
        return
    columns = [(words_of(p.heading), words_of(p.text)) for p, _ in built.passages]  # stems, as FTS5 and the field

    def say(phrase: str) -> set[int]:
        return built.keys(i for i, c in enumerate(columns) if holds_phrase(c[0], phrase) or holds_phrase(c[1], phrase))

    phrase = parse_query('"social care"')
    holding = say("social care")
    assert holding and keyword.select(phrase, Filters(include_procedural=True)) == holding
    ranked = keyword.search(phrase, Filters(), 50).ranked
    assert {i for i, _ in ranked} == holding - built.keys(i for i, (_, d) in enumerate(built.passages) if d.procedural)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True) and ranked[0][1] > 0

    excluding = parse_query('parking -"town centre"')
    hits = keyword.search(excluding, Filters(include_procedural=True), 50).ranked
    assert hits and not {i for i, _ in hits} & say("town centre")
    assert say("town centre") and keyword.excluded(excluding) == say("town centre")
    assert keyword.excluded(parse_query("-parking")) == built.keys(i for i, c in enumerate(columns)
                                                                   if "park" in c[0] + c[1])
    assert say("foster carers") == say("foster carer")  # stems: as the local index's porter

    plain = keyword.search(parse_query("parking policy"), Filters(council=HOSTILE_COUNCIL), 10,
                           score_also=built.ids[[0, 1]].tolist())
    hostile = built.keys(i for i, (_, d) in enumerate(built.passages) if d.council == HOSTILE_COUNCIL)
    assert {i for i, _ in plain.ranked} == hostile and set(plain.also) <= built.keys([0, 1])
    assert keyword.holds_all_words(["parking", "policy"], sorted(hostile))
    assert not keyword.holds_all_words(["parking", "apologies"], sorted(hostile))


def test_a_killed_build_leaves_the_old_one_serving(built: Built) -> None:
    backend = MilvusBackend(built.backend.url, client=built.backend.client)
    serving = backend.current()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stamp = "20000101T000000000000Z"
    # what a full build process killed after writing some passages leaves behind: an unpublished collection
    writer = MilvusWriter(backend.client, Target(backend.collection_of(stamp)), f"{stamp}-1",
                          HashingEmbedder().dimension, backend.bm25,
                          owner=f"{socket.gethostname()}:{dead.stdout.strip()}:{int(time.time())}")
    writer.add(built.documents[0], chunk_document(built.documents[0]))
    writer.finish_passages()
    assert backend.current() == serving and writer.collection in backend.builds()
    reader = backend.open()
    assert reader.build_id == serving and reader.manifest.passages == len(built.passages)
    backend.prune()  # its owner is dead: nobody will finish it
    assert writer.collection not in backend.builds() and backend.current() == serving
    assert not backend.client.has_collection(writer.docs_collection)


def test_publishing_moves_the_alias_and_keeps_two_builds(built: Built) -> None:
    if built.kind == "standalone":  # three builds: on 2.3 the contract suite's publish test covers it
        assert built.backend.current() == built.reader.build_id
        return
    prefix = "pub_" + built.kind
    url = built.backend.url.split("?")[0].rsplit("/", 1)[0] if built.kind == "standalone" else \
        built.backend.url.split("?")[0]
    url = url + (f"/{prefix}" if built.kind == "standalone" else f"?prefix={prefix}")
    backend = MilvusBackend(url, client=built.backend.client)
    with pytest.raises(IndexMissing, match="no published build"):
        backend.open()
    small = [replace(d, document_id=f"{d.document_id}-{n}") for n, d in enumerate(_extra_documents())]
    handles = []
    for n in range(3):
        handle = write_build(backend, small[:n + 1], HashingEmbedder(), incremental=False)
        backend.publish(handle)
        handles.append(handle)
        assert backend.current() == handle.build_id
        assert backend.open().manifest.documents == n + 1
    assert backend.builds() == [handles[2].location, handles[1].location]  # the oldest was pruned
    with pytest.raises(ValueError, match="is serving"):
        backend.discard(handles[2])
    backend.discard(handles[1])
    assert backend.builds() == [handles[2].location]


def test_an_aborted_build_drops_what_it_wrote(built: Built) -> None:
    backend = MilvusBackend(built.backend.url, client=built.backend.client)

    def fail(_writer: object) -> None:
        raise RuntimeError("embedding failed")

    with pytest.raises(RuntimeError, match="embedding failed"):
        write_build(backend, _extra_documents(), HashingEmbedder(), hook=fail)
    assert len(backend.builds()) == 1 and backend.current() == built.reader.build_id
