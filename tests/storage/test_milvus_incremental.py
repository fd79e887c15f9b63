"""Incremental builds in place on both Milvus set-ups (Milvus Lite with its BM25, and the 2.3
standalone server beside the local keyword index): only the changed rows are written, the
result is a full rebuild's, a build killed or failing half-way leaves the previous generation
serving whole, and a reader keeps the generation it opened."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from minutes.build import BuildReport, build_index, collect
from minutes.chunk import chunk_document
from minutes.embed import HashingEmbedder
from minutes.records import Filters
from minutes.search.hybrid import Searcher
from minutes.storage.milvus.backend import MilvusBackend, connect
from minutes.storage.milvus.inplace import deleted
from minutes.text.query import parse_query

pytestmark = [pytest.mark.slow, pytest.mark.milvus]

EMBEDDER = HashingEmbedder()
DOCUMENTS = 300
QUERIES = ["library opening hours", "parking charges in the town centre", "school transport budget", "council tax"]
WORDS = ("library parking school transport budget council tax housing planning road bridge park garden care "
         "children adults health report committee resolved noted agreed officers members consultation charges "
         "hours opening closing centre town village market scheme policy review funding grant").split()


class Counting:
    """The real client, counting the rows each call writes or deletes, by collection kind."""

    def __init__(self, real: Any) -> None:
        self.real, self.rows = real, Counter[tuple[str, str]]()

    @staticmethod
    def _kind(name: str) -> str:
        return "docs" if name.endswith("_docs") else "passages"

    def insert(self, name: str, data: list[Any], **kwargs: Any) -> Any:
        self.rows["insert", self._kind(name)] += len(data)
        return self.real.insert(name, data, **kwargs)

    def upsert(self, name: str, data: list[Any], **kwargs: Any) -> Any:
        self.rows["upsert", self._kind(name)] += len(data)
        return self.real.upsert(name, data, **kwargs)

    def delete(self, name: str, **kwargs: Any) -> Any:
        result = self.real.delete(name, **kwargs)
        self.rows["delete", self._kind(name)] += deleted(result)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _paper(n: int, title: str | None = None) -> str:
    rng = random.Random(n)
    paragraphs = ["\n".join(textwrap.wrap(" ".join(rng.choice(WORDS) for _ in range(150)))) for _ in range(2)]
    return (f"---\ndocument_id: \"paper-{n:03d}\"\ntitle: \"{title or f'Paper {n}'}\"\ncouncil: \"Council {n % 7}\"\n"
            f"committee: \"Committee {n % 3}\"\ndate: \"2020-0{1 + n % 9}\"\n---\n" + "\n\n".join(paragraphs) + "\n")


@dataclass
class Setup:
    url: str
    index_dir: Path
    papers: Path
    client: Counting

    def backend(self) -> MilvusBackend:
        return MilvusBackend(self.url, index_dir=self.index_dir, client=self.client)

    def build(self, incremental: bool = True) -> BuildReport:
        return build_index([self.papers], self.index_dir, EMBEDDER, backend=self.backend(), incremental=incremental)


@pytest.fixture(params=["lite", "standalone_mixed"])
def setup(request: pytest.FixtureRequest, tmp_path: Path, milvus_lite_url: str) -> Iterator[Setup]:
    prefix = "inc" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:10]
    if request.param == "lite":
        url = f"{milvus_lite_url}?prefix={prefix}"
    else:
        url = f"{request.getfixturevalue('milvus_server').url}/{prefix}?keyword=local"
    papers = tmp_path / "papers"
    papers.mkdir()
    for n in range(DOCUMENTS):
        (papers / f"paper-{n:03d}.md").write_text(_paper(n))
    real = connect(MilvusBackend(url, index_dir=tmp_path / "index").location.uri)
    yield Setup(url, tmp_path / "index", papers, Counting(real))


def _edit(papers: Path) -> tuple[int, int]:
    """About 1% of the passages: paper 10 is retitled (each of its rows changes), paper 11 goes,
    paper 900 is new. The passages (retired, added) that makes."""
    def passages(path: Path) -> int:
        return sum(len(chunk_document(d)) for d in collect([path], BuildReport()))

    before = passages(papers / "paper-010.md") + passages(papers / "paper-011.md")
    (papers / "paper-010.md").write_text(_paper(10, title="Paper ten, revised"))
    (papers / "paper-011.md").unlink()
    (papers / "paper-900.md").write_text(_paper(900))
    return before, passages(papers / "paper-010.md") + passages(papers / "paper-900.md")


def _view(reader: Any) -> list[Any]:
    """What a reader answers: vector hits with scores, keyword selections, hybrid hits."""
    view: list[Any] = []
    for query in QUERIES:
        scores, ids = reader.vectors.search(EMBEDDER.encode([query])[0], 10, Filters())
        view.append((np.round(scores, 5).tolist(), ids.tolist()))
        view.append(sorted(reader.keyword.select(parse_query(query.split()[0]), Filters())))
        view.append([(h.passage.passage_id, round(h.semantic_score or 0, 5))
                     for h in Searcher(reader, EMBEDDER).search(query, 10).hits])
    return view


def _same(got: list[Any], want: list[Any], bm25: bool) -> None:
    """Equal views. On Milvus BM25 the hybrid hits are left out: its corpus statistics count rows
    that other generations hold (the contract suite checks the overlap on the seed papers), and
    in these papers, made of the same forty words, every score is a near-tie."""
    for one, other in zip(got, want, strict=True):
        if not (bm25 and one and isinstance(one[0], tuple)):
            assert one == other


def test_an_incremental_build_writes_only_the_changed_rows(setup: Setup) -> None:
    first = setup.build()
    assert first.passages > 500
    retired, added = _edit(setup.papers)
    assert (retired + added) / first.passages < 0.025
    setup.client.rows.clear()
    second = setup.build()
    rows = setup.client.rows
    assert rows["insert", "passages"] == added and rows["upsert", "passages"] == retired
    assert rows["insert", "docs"] == 2 + 1 and rows["upsert", "docs"] == 2  # two papers' texts, the manifest
    assert second.written["passages_inserted"] == added and second.written["passages_retired"] == retired
    assert second.passages == first.passages - retired + added
    backend = setup.backend()
    assert backend.current() == second.build_id and second.build_id.endswith("-2")
    assert len(backend.builds()) == 1  # the same collections, one generation on
    # A full rebuild of the same papers holds the same rows under the same ids, and answers alike.
    full = Setup(setup.url.replace("?prefix=inc", "?prefix=full").replace("/inc", "/full"), setup.index_dir.parent
                 / "full", setup.papers, setup.client)
    full.build(incremental=False)
    readers = backend.open(), full.backend().open()
    assert readers[0].manifest.passages == readers[1].manifest.passages
    _same(_view(readers[0]), _view(readers[1]), bool(readers[0].manifest.backend.get("bm25")))


def test_a_reader_keeps_the_generation_it_opened(setup: Setup) -> None:
    setup.build()
    backend = setup.backend()
    before = backend.open()
    seen = _view(before)
    old = before.passages.passage("paper-010", 0)
    _edit(setup.papers)
    setup.build()
    after = backend.open()
    assert after.build_id != before.build_id
    assert after.passages.passage("paper-010", 0) != old
    setup.build()  # and one more: generation g-1 stays readable while g serves
    assert before.passages.passage("paper-010", 0) == old and before.passages.document("paper-900") is None
    assert before.passages.passage("paper-011", 0) is not None
    _same(_view(before), seen, bool(before.manifest.backend.get("bm25")))


def _physical(setup: Setup, expression: str) -> int:
    backend = setup.backend()
    serving = backend.client.describe_collection(backend.alias)["collection_name"]
    return int(backend.client.query(serving, filter=expression, output_fields=["count(*)"],
                                    consistency_level="Strong")[0]["count(*)"])


def _check_next_build_cleans_up(setup: Setup, serving: str, seen: list[Any]) -> None:
    backend = setup.backend()
    assert backend.current() == serving
    _same(_view(backend.open()), seen, False)  # the old generation, whole: even BM25 sees no new row
    report = setup.build()
    generation = int(report.build_id.rsplit("-", 1)[1])
    assert generation == int(serving.rsplit("-", 1)[1]) + 1
    assert _physical(setup, f"added_in > {generation}") == 0
    retired = report.written["passages_retired_total"]
    assert _physical(setup, "id >= 0") == report.passages + retired  # nothing else: no leftovers


def test_an_exception_mid_build_leaves_the_previous_generation_serving(setup: Setup) -> None:
    serving = setup.build().build_id
    seen = _view(setup.backend().open())
    _edit(setup.papers)

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the network went away")

    setup.client.upsert = fail  # type: ignore[method-assign]  # after the new rows went in, before retiring
    with pytest.raises(RuntimeError, match="network went away"):
        setup.build()
    del setup.client.upsert
    assert _physical(setup, f"added_in > {int(serving.rsplit('-', 1)[1])}") == 0  # rolled back at once
    _check_next_build_cleans_up(setup, serving, seen)


KILLER = """
import os, signal, sys
from pathlib import Path
import pymilvus
from minutes.build import build_index
from minutes.embed import HashingEmbedder
from minutes.storage.milvus.backend import MilvusBackend

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # after the new rows went in, before the retired ones are marked

pymilvus.MilvusClient.upsert = killed
url, index_dir, papers = sys.argv[1:]
build_index([Path(papers)], Path(index_dir), HashingEmbedder(), backend=MilvusBackend(url, index_dir=Path(index_dir)))
"""


@pytest.mark.parametrize("setup", ["standalone_mixed"], indirect=True)  # Milvus Lite serves one process
def test_a_killed_build_leaves_the_previous_generation_serving(setup: Setup) -> None:
    serving = setup.build().build_id
    seen = _view(setup.backend().open())
    _edit(setup.papers)
    killed = subprocess.run([sys.executable, "-c", KILLER, setup.url, str(setup.index_dir), str(setup.papers)],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert _physical(setup, f"added_in > {int(serving.rsplit('-', 1)[1])}") > 0  # its rows, unseen
    _check_next_build_cleans_up(setup, serving, seen)
