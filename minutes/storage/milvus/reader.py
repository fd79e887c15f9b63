"""A published Milvus build, read-only: the PassageStore, VectorIndex and IndexReader parts.

Every filter runs inside Milvus as a boolean expression (minutes.storage.milvus.expr), and
every expression starts with the reader's generation (`expr.visible`): a reader sees the
build it opened, whole, while later builds change the same collection in place, until it
is opened again. Id lists are sent in windows below Milvus' query cap (offset + limit <= 16,384 rows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np

from minutes.chunk import CHUNKER_VERSION
from minutes.errors import IndexCorrupt, IndexMismatch
from minutes.records import DateSpan, DocumentInfo, Filters, Passage
from minutes.storage.base import FORMAT_VERSION, FacetField, KeywordIndex, Manifest, StoredDocument, StoredPassage
from minutes.storage.milvus import schema
from minutes.storage.milvus.errors import answering
from minutes.storage.milvus.expr import both, filter_expression, id_list, quote, visible

WINDOW = 16_000        # rows per query (Milvus caps offset + limit at 16,384)
ROW_FIELDS = [f for f in schema.PASSAGE_FIELDS]


def windows(ids: Sequence[int], size: int = WINDOW) -> list[list[int]]:
    unique = list(dict.fromkeys(int(i) for i in ids))
    return [unique[i:i + size] for i in range(0, len(unique), size)]


def read_manifest(client: Any, docs_collection: str, generation: int) -> Manifest | None:
    rows = client.query(docs_collection, filter=f"key == {schema.manifest_key(generation)}", output_fields=["text"],
                        consistency_level="Strong")
    return Manifest.from_json(rows[0]["text"]) if rows else None


class MilvusPassageStore:
    def __init__(self, client: Any, collection: str, manifest: Manifest, generation: int) -> None:
        self.client, self.collection, self.docs_collection = client, collection, collection + "_docs"
        self.live = visible(generation)
        self._facets: dict[str, list[str]] = manifest.backend.get("facets", {})
        self._has_procedural = bool(manifest.backend.get("procedural", True))

    def _query(self, expression: str, fields: list[str], limit: int = WINDOW) -> list[dict[str, Any]]:
        with answering(self.collection):
            return list(self.client.query(self.collection, filter=both(self.live, expression), output_fields=fields,
                                          limit=limit))

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        found: dict[int, StoredPassage] = {}
        for window in windows(ids):
            for row in self._query(id_list(window), ROW_FIELDS, len(window)):
                found[row["id"]] = StoredPassage(row["id"], schema.row_passage(row), schema.row_info(row),
                                                 bool(row["procedural"]))
        return found

    def passage(self, document_id: str, ordinal: int) -> StoredPassage | None:
        rows = self._query(f"document_id == {quote(document_id)} and ordinal == {int(ordinal)}", ROW_FIELDS, 1)
        if not rows:
            return None
        row = rows[0]
        return StoredPassage(row["id"], schema.row_passage(row), schema.row_info(row), bool(row["procedural"]))

    def document(self, document_id: str) -> StoredDocument | None:
        with answering(self.docs_collection):
            parts = list(self.client.query(self.docs_collection,
                                           filter=both(self.live, f"document_id == {quote(document_id)}"),
                                           output_fields=["part", "text", "fields"], limit=WINDOW))
        if not parts:
            return None
        parts.sort(key=lambda row: row["part"])
        fields = json.loads(parts[0]["fields"])
        span = fields.get("span")
        return StoredDocument(
            info=DocumentInfo(**fields["info"] | {"see_also": tuple(fields["info"]["see_also"])}),
            text="".join(row["text"] for row in parts),
            span=DateSpan(span[0], date.fromisoformat(span[1]), date.fromisoformat(span[2])) if span else None,
            procedural=bool(fields["procedural"]), page_starts=tuple(fields["page_starts"]), path=fields["path"],
            content_hash=fields["content_hash"], extra=fields["extra"])

    def document_passages(self, document_id: str) -> list[Passage]:
        passages: list[Passage] = []
        start = 0
        while True:  # ordinal ranges below the query cap
            rows = self._query(f"document_id == {quote(document_id)} and ordinal >= {start} and "
                               f"ordinal < {start + WINDOW}", ROW_FIELDS)
            passages.extend(schema.row_passage(row) for row in rows)
            if len(rows) < WINDOW:
                break
            start += WINDOW
        return sorted(passages, key=lambda p: p.ordinal)

    def places(self, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
        found: dict[int, tuple[str, int]] = {}
        for window in windows(ids):
            for row in self._query(id_list(window), ["document_id", "ordinal"], len(window)):
                found[row["id"]] = (row["document_id"], row["ordinal"])
        return found

    def ids_at(self, places: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The passage id at each (document id, ordinal), where there is one (neighbour lookups)."""
        found: dict[tuple[str, int], int] = {}
        by_document: dict[str, list[int]] = {}
        for document_id, ordinal in places:
            by_document.setdefault(document_id, []).append(int(ordinal))
        for document_id, ordinals in by_document.items():
            rows = self._query(f"document_id == {quote(document_id)} and ordinal in {sorted(set(ordinals))}",
                               ["document_id", "ordinal"], len(set(ordinals)))
            found.update(((row["document_id"], row["ordinal"]), row["id"]) for row in rows)
        return found

    def facet_values(self, field: FacetField) -> list[str]:
        if field not in ("council", "committee"):
            raise ValueError(f"no such filter field: {field}")
        return list(self._facets.get(field, []))

    def restricts(self, filters: Filters) -> bool:
        plain = filters == Filters(include_procedural=filters.include_procedural)
        return not (plain and (filters.include_procedural or not self._has_procedural))


class MilvusVectorIndex:
    def __init__(self, client: Any, collection: str, manifest: Manifest, generation: int) -> None:
        self.client, self.collection = client, collection
        self.live = visible(generation)
        self.dimension = manifest.dimension
        self._count = manifest.passages
        self.kind = str(manifest.backend.get("vector_index", "FLAT"))

    def search(self, vector: np.ndarray, k: int, filters: Filters,
               restrict: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0 or (restrict is not None and len(restrict) == 0):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        expression = both(self.live, filter_expression(filters), id_list(restrict) if restrict is not None else "")
        params = {"metric_type": "IP", "params": {"ef": max(64, k)} if self.kind.startswith("HNSW") else
                  {"nprobe": 32} if self.kind.startswith("IVF") else {}}
        with answering(self.collection):
            hits = self.client.search(self.collection, data=[np.asarray(vector, dtype=np.float32).ravel().tolist()],
                                      anns_field="vector", limit=min(k, WINDOW), filter=expression,
                                      search_params=params, output_fields=["id"])[0]  # [] would be every field
        scores = np.fromiter((hit["distance"] for hit in hits), dtype=np.float32, count=len(hits))
        ids = np.fromiter((hit["id"] for hit in hits), dtype=np.int64, count=len(hits))
        return scores, ids

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        wanted = [int(i) for i in ids]
        found: dict[int, np.ndarray] = {}
        for window in windows(wanted):
            with answering(self.collection):
                rows = self.client.query(self.collection, filter=both(self.live, id_list(window)),
                                         output_fields=["vector"], limit=len(window))
            for row in rows:
                found[row["id"]] = np.asarray(row["vector"], dtype=np.float32)
        missing = [i for i in wanted if i not in found]
        if missing:
            raise KeyError(f"no passage with id {missing[0]} in {self.collection}")
        return np.stack([found[i] for i in wanted]) if wanted else np.zeros((0, self.dimension), dtype=np.float32)

    def count(self) -> int:
        return self._count


class MilvusReader:
    """The IndexReader of one Milvus build (a collection at one generation); `keyword` is Milvus
    BM25 or the part given."""

    def __init__(self, client: Any, collection: str, build_id: str, generation: int,
                 keyword: KeywordIndex | None = None, keeps: Any = None) -> None:
        manifest = read_manifest(client, collection + "_docs", generation)
        if manifest is None:
            raise IndexCorrupt(f"the Milvus collection {collection} has no manifest (an unfinished build); "
                               "rebuild with: minutes index --rebuild")
        self.client, self.collection, self.build_id, self.manifest = client, collection, build_id, manifest
        self.generation = generation
        self.passages = MilvusPassageStore(client, collection, manifest, generation)
        self.vectors = MilvusVectorIndex(client, collection, manifest, generation)
        if keyword is None:
            from minutes.storage.milvus.keyword import keyword_index

            keyword = keyword_index(client, collection, manifest, generation)
        self.keyword = keyword
        self._keeps = keeps  # the local reader whose keyword index this one uses (mixed set-up)

    def check_compatible(self, model: str, dimension: int) -> None:
        m = self.manifest
        if m.model != model or m.dimension != dimension:
            raise IndexMismatch(f"the Milvus build {self.collection} was made with model '{m.model}' "
                                f"({m.dimension} dimensions) but the query model is '{model}' ({dimension}); "
                                "rebuild with: minutes index --rebuild")
        if m.chunker_version != CHUNKER_VERSION or m.format != FORMAT_VERSION:
            raise IndexMismatch(f"the Milvus build {self.collection} was made by another version of Minutes "
                                f"(chunker {m.chunker_version}, format {m.format}); "
                                "rebuild with: minutes index --rebuild")

    def close(self) -> None:
        """The client belongs to the backend, and the collection stays loaded: only a local part closes."""
        if self._keeps is not None:
            self._keeps.close()
