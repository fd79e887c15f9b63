"""Writing one Milvus build: documents as they come, passages with their vectors at the end.

Milvus takes a row only with its vector, and the vectors come after every passage is
chunked (the build embeds what the cache lacks, then hands vectors out a window at a
time). So passages wait in a temporary SQLite file beside the build, not in memory,
and go to Milvus window by window in `write_vectors`. Nothing is visible to readers until
the backend moves the alias (`publish`); a killed build leaves only an unpublished
collection, which the next publish removes.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from minutes.embed import embedding_text
from minutes.errors import BuildError
from minutes.records import Document, Passage
from minutes.storage.base import BuildHandle, Manifest
from minutes.storage.milvus import schema

INSERT_ROWS = 1000   # rows per insert (a gRPC message stays far below Milvus' 64 MB default)


@contextmanager
def milvus_errors(what: str) -> Iterator[None]:
    """A refusal from the server becomes a BuildError that says the previous build still serves."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise BuildError(f"Milvus refused to {what}: {exc.message}; the previous index is still serving") from None


class MilvusWriter:
    def __init__(self, client: Any, collection: str, build_id: str, dimension: int, bm25: bool,
                 owner: str, spill_dir: Path | None = None, index: str = "auto") -> None:
        if spill_dir is not None:
            Path(spill_dir).mkdir(parents=True, exist_ok=True)
        self.client, self.collection, self.build_id = client, collection, build_id
        self.docs_collection = collection + "_docs"
        self.dimension, self.bm25 = dimension, bm25
        self.documents = self.passages = 0
        self.facets: dict[str, set[str]] = {"council": set(), "committee": set()}
        self.procedural = False
        self.kind, self.index = "", index
        self._spill = Path(tempfile.mkdtemp(prefix="minutes-milvus-", dir=spill_dir))
        self._rows = sqlite3.connect(self._spill / "passages.sqlite")
        self._rows.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, row TEXT NOT NULL, embed TEXT NOT NULL)")
        self._docs: list[dict[str, Any]] = []
        with milvus_errors("create the build's collections"):
            client.create_collection(self.docs_collection, schema=schema.docs_schema(client),
                                     index_params=schema.docs_indexes(client), description=f"building {owner}")
            client.create_collection(collection, schema=schema.passage_schema(client, dimension, bm25),
                                     num_partitions=schema.PARTITIONS, description=f"building {owner}")

    def add(self, document: Document, passages: list[Passage]) -> None:
        info = schema.info_of(document)
        rows: list[tuple[int, str, str]] = []
        for passage in passages:
            text = embedding_text(passage, info)
            row = schema.passage_row(self.passages + len(rows), self.documents, document, info, passage, text)
            rows.append((row["id"], json.dumps(row), text))
        self._rows.executemany("INSERT INTO rows VALUES (?, ?, ?)", rows)
        self._docs.extend(schema.document_rows(self.documents, document))
        if len(self._docs) >= INSERT_ROWS // 10:
            self._flush_documents()
        for field, value in (("council", document.council), ("committee", document.committee)):
            if value:
                self.facets[field].add(value)
        self.procedural = self.procedural or document.procedural
        self.documents += 1
        self.passages += len(rows)

    def _flush_documents(self) -> None:
        with milvus_errors("store documents"):
            for start in range(0, len(self._docs), INSERT_ROWS // 10):  # parts are up to 64 KB each
                self.client.insert(self.docs_collection, self._docs[start:start + INSERT_ROWS // 10])
        self._docs = []

    def finish_passages(self) -> None:
        self._rows.commit()
        self._flush_documents()

    def embedding_texts(self, ids: list[int]) -> list[str]:
        text_of: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            text_of.update(self._rows.execute(f"SELECT id, embed FROM rows WHERE id IN ({','.join('?' * len(chunk))})",
                                              chunk).fetchall())
        return [text_of[i] for i in ids]

    def write_vectors(self, count: int, rows: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
        if count != self.passages:
            raise BuildError(f"{count} vectors for {self.passages} passages; nothing was published")
        for start in range(0, count, INSERT_ROWS):
            ids = np.arange(start, min(start + INSERT_ROWS, count), dtype=np.int64)
            vectors = np.asarray(rows(ids), dtype=np.float32)
            stored = self._rows.execute("SELECT row FROM rows WHERE id >= ? AND id < ? ORDER BY id",
                                        (int(ids[0]), int(ids[-1]) + 1)).fetchall()
            batch = [json.loads(row) | {"vector": vector.tolist()} for (row,), vector in
                     zip(stored, vectors, strict=True)]
            with milvus_errors("store passages"):
                self.client.insert(self.collection, batch)
        params, self.kind = schema.passage_indexes(self.client, count, self.bm25, self.index)
        with milvus_errors("index the vectors"):
            self.client.flush(self.collection)
            self.client.create_index(self.collection, params)
        return {"name": "milvus", "collection": self.collection, "vector_index": self.kind, "bm25": self.bm25}

    def finish(self, manifest: Manifest) -> BuildHandle:
        facts = dict(manifest.backend) | {
            "name": "milvus", "collection": self.collection, "vector_index": self.kind, "bm25": self.bm25,
            "procedural": self.procedural, "facets": {k: sorted(v) for k, v in self.facets.items()}}
        manifest = manifest.model_copy(update={"backend": facts})
        with milvus_errors("finish the build"):
            self._flush_documents()
            self.client.insert(self.docs_collection, [{
                "key": schema.MANIFEST_KEY, "doc": -1, "part": 0, "document_id": "", "text": manifest.to_json(),
                "fields": "{}", "placeholder": [1.0, 0.0]}])
            self.client.flush(self.docs_collection)
            for name in (self.docs_collection, self.collection):
                self.client.load_collection(name)
            # read it back: a build Milvus did not take whole fails here, not in the server
            stored = self.client.query(self.collection, filter="", output_fields=["count(*)"],
                                       consistency_level="Strong")[0]["count(*)"]
        if stored != self.passages:
            raise BuildError(f"Milvus holds {stored} of the build's {self.passages} passages; nothing was published")
        self._close_spill()
        return BuildHandle(self.build_id, self.collection)

    def abort(self) -> None:
        self._close_spill()
        for name in (self.collection, self.docs_collection):
            with contextlib.suppress(Exception):  # best effort: the next publish prunes what is left
                self.client.drop_collection(name)

    def _close_spill(self) -> None:
        self._rows.close()
        shutil.rmtree(self._spill, ignore_errors=True)
