"""Writing one Milvus build: rows wait in a spill file, and go to Milvus with their vectors.

Milvus takes a row only with its vector, and the vectors come after every passage is
chunked (the build embeds what the cache lacks, then hands vectors out a window at a
time). So passages and document rows wait in a temporary SQLite file beside the build,
not in memory, each under its content key (schema.content_key), and go to Milvus in
`write_vectors`: a full build inserts them all into new collections (generation 1), an
incremental one (`Target.previous`) writes only the difference into the serving collection
(minutes.storage.milvus.inplace). Nothing is visible to readers until the backend publishes;
a killed full build leaves an unpublished collection, a killed incremental one rows of a
generation nobody reads, and the next build removes either.

Positions: `add` numbers passages 0, 1, ... in the order given (what `embedding_texts` and
the vector window take); the ids readers see are the content keys (`keys()`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minutes.embed import embedding_text
from minutes.errors import BuildError
from minutes.records import Document, Passage
from minutes.storage.base import BuildHandle, Manifest
from minutes.storage.milvus import inplace, schema
from minutes.storage.milvus.expr import visible

INSERT_ROWS = 1000   # rows per insert (a gRPC message stays far below Milvus' 64 MB default)


@contextmanager
def milvus_errors(what: str) -> Iterator[None]:
    """A refusal from the server becomes a BuildError that says the previous build still serves."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise BuildError(f"Milvus refused to {what}: {exc.message}; the previous index is still serving") from None


@dataclass(frozen=True)
class Target:
    """Where a build goes: new collections (generation 1), or the serving collection's next
    generation over `previous`, the manifest of the generation that serves now."""

    collection: str
    generation: int = 1
    previous: Manifest | None = None

    @property
    def in_place(self) -> bool:
        return self.previous is not None


class MilvusWriter:
    def __init__(self, client: Any, target: Target, build_id: str, dimension: int, bm25: bool,
                 owner: str, spill_dir: Path | None = None, index: str = "auto") -> None:
        if spill_dir is not None:
            Path(spill_dir).mkdir(parents=True, exist_ok=True)
        self.client, self.target, self.build_id = client, target, build_id
        self.collection, self.generation = target.collection, target.generation
        self.docs_collection = self.collection + "_docs"
        self.dimension, self.bm25 = dimension, bm25
        self.documents = self.passages = 0
        self.facets: dict[str, set[str]] = {"council": set(), "committee": set()}
        self.procedural = False
        self.kind, self.index = "", index
        self.written: dict[str, int] = {}
        self._spill = Path(tempfile.mkdtemp(prefix="minutes-milvus-", dir=spill_dir))
        self._rows = sqlite3.connect(self._spill / "passages.sqlite")
        self._rows.executescript("CREATE TABLE passages (pos INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, "
                                 "row TEXT NOT NULL, embed TEXT NOT NULL);"
                                 "CREATE TABLE docs (key INTEGER PRIMARY KEY, row TEXT NOT NULL);")
        if target.in_place:
            return
        with milvus_errors("create the build's collections"):
            client.create_collection(self.docs_collection, schema=schema.docs_schema(client),
                                     index_params=schema.docs_indexes(client), description=f"building {owner}")
            client.create_collection(self.collection, schema=schema.passage_schema(client, dimension, bm25),
                                     num_partitions=schema.PARTITIONS, description=f"building {owner}")

    def add(self, document: Document, passages: list[Passage]) -> None:
        info = schema.info_of(document)
        rows: list[tuple[int, int, str, str]] = []
        for passage in passages:
            text = embedding_text(passage, info)
            row = schema.passage_row(document, info, passage, text)
            rows.append((self.passages + len(rows), row["id"], json.dumps(row), text))
        docs = [(row["key"], json.dumps(row)) for row in schema.document_rows(document)]
        try:
            self._rows.executemany("INSERT INTO passages VALUES (?, ?, ?, ?)", rows)
            self._rows.executemany("INSERT INTO docs VALUES (?, ?)", docs)
        except sqlite3.IntegrityError:  # 63-bit content keys: about one chance in 10^3 at 200M passages
            raise BuildError(f"two rows of {document.document_id} and an earlier document share a content key; "
                             "nothing was published") from None
        for field, value in (("council", document.council), ("committee", document.committee)):
            if value:
                self.facets[field].add(value)
        self.procedural = self.procedural or document.procedural
        self.documents += 1
        self.passages += len(rows)

    def finish_passages(self) -> None:
        self._rows.commit()

    def embedding_texts(self, ids: list[int]) -> list[str]:
        text_of: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            text_of.update(self._rows.execute(f"SELECT pos, embed FROM passages WHERE pos IN "
                                              f"({','.join('?' * len(chunk))})", chunk).fetchall())
        return [text_of[i] for i in ids]

    def keys(self) -> list[int]:
        """The id readers will see for each position, in order."""
        return [key for (key,) in self._rows.execute("SELECT id FROM passages ORDER BY pos")]

    def write_vectors(self, count: int, rows: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
        if count != self.passages:
            raise BuildError(f"{count} vectors for {self.passages} passages; nothing was published")
        if self.target.in_place:
            assert self.target.previous is not None
            with milvus_errors("update the serving collection"):
                self.written = inplace.apply(self.client, self.collection, self.generation, self._rows, rows)
            self.kind = str(self.target.previous.backend.get("vector_index", "FLAT"))
            return self._facts()
        stamp = {"added_in": self.generation, "retired_in": schema.LIVE}
        for start in range(0, count, INSERT_ROWS):
            positions = np.arange(start, min(start + INSERT_ROWS, count), dtype=np.int64)
            vectors = np.asarray(rows(positions), dtype=np.float32)
            stored = self._rows.execute("SELECT row FROM passages WHERE pos >= ? AND pos < ? ORDER BY pos",
                                        (int(positions[0]), int(positions[-1]) + 1)).fetchall()
            batch = [json.loads(row) | stamp | {"vector": vector.tolist()} for (row,), vector in
                     zip(stored, vectors, strict=True)]
            with milvus_errors("store passages"):
                self.client.insert(self.collection, batch)
        documents = 0
        with milvus_errors("store documents"):
            docs = self._rows.execute("SELECT row FROM docs")
            while part := docs.fetchmany(INSERT_ROWS // 10):  # parts are up to 64 KB each
                self.client.insert(self.docs_collection, [json.loads(row) | stamp for (row,) in part])
                documents += len(part)
        self.written = {"passages_inserted": count, "documents_inserted": documents}
        params, self.kind = schema.passage_indexes(self.client, count, self.bm25, self.index)
        with milvus_errors("index the vectors"):
            self.client.flush(self.collection)
            self.client.create_index(self.collection, params)
        return self._facts()

    def _facts(self) -> dict[str, Any]:
        return {"name": "milvus", "collection": self.collection, "generation": self.generation,
                "vector_index": self.kind, "bm25": self.bm25, "written": dict(self.written)}

    def finish(self, manifest: Manifest) -> BuildHandle:
        facts = dict(manifest.backend) | self._facts() | {
            "procedural": self.procedural, "facets": {k: sorted(v) for k, v in self.facets.items()}}
        manifest = manifest.model_copy(update={"backend": facts})
        with milvus_errors("finish the build"):
            self.client.insert(self.docs_collection, [schema.manifest_row(manifest.to_json(), self.generation)])
            self.client.flush(self.docs_collection)
            for name in (self.docs_collection, self.collection):
                self.client.load_collection(name)
            if self.target.in_place:  # whole, and shown to readers, before it may be published
                inplace.wait_visible(self.client, self.collection, self.generation, self.passages, self.written)
            # read it back: a build Milvus did not take whole fails here, not in the server
            stored = self.client.query(self.collection, filter=visible(self.generation), output_fields=["count(*)"],
                                       consistency_level="Strong")[0]["count(*)"]
        if stored != self.passages:
            raise BuildError(f"Milvus holds {stored} of the build's {self.passages} passages; nothing was published")
        self._close_spill()
        return BuildHandle(self.build_id, self.collection)

    def abort(self) -> None:
        self._close_spill()
        if self.target.in_place:  # best effort: readers never see this generation, the next build cleans it
            with contextlib.suppress(Exception):
                inplace.rollback(self.client, self.collection, self.generation)
            return
        for name in (self.collection, self.docs_collection):
            with contextlib.suppress(Exception):  # best effort: the next publish prunes what is left
                self.client.drop_collection(name)

    def _close_spill(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._rows.close()
        shutil.rmtree(self._spill, ignore_errors=True)
