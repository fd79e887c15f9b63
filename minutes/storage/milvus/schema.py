"""The two collections of one Milvus build, and how records become their rows.

`<prefix>_<build>`: one row a passage, with its document's metadata copied in (a hit needs
no second lookup), a scalar field for every filter, the partition key on the council, the
unit vector, and from Milvus 2.5 (and Milvus Lite 3) the BM25 sparse vector of the text.

`<prefix>_<build>_docs`: each document's full text in parts of at most PART_CHARS, with its
other stored fields on part 0; the row with key `manifest_key(g)` holds generation g's manifest.
Milvus wants a vector in every collection, so this one carries a constant 2-d placeholder.

Row keys are content keys: 63 bits of the sha256 of everything the row stores except its
vector (and its generations), so an unchanged passage keeps its key from build to build and
an incremental build compares key sets (minutes.storage.milvus.inplace). Every row carries
`added_in` and `retired_in`, the generations it entered and left (LIVE: not yet left);
generation g reads the rows with `added_in <= g < retired_in` (expr.visible).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from minutes.errors import BuildError
from minutes.records import Document, DocumentInfo, Passage
from minutes.storage.milvus.expr import NO_END, NO_START, fold
from minutes.text.stem import stems, words

VARCHAR = 65_535           # Milvus' longest VARCHAR, in bytes
PART_CHARS = 16_000        # 4 bytes a character at worst: a part always fits a VARCHAR
PART_BITS = 20             # at most 2**20 parts (16 GB of text) a document
LIVE = 2**62               # `retired_in` of a row no generation has retired
KEY_BITS = 63              # content keys are positive int64
PARTITIONS = 64            # partition-key buckets (councils hash into them)
INDEX_KINDS = ("auto", "FLAT", "HNSW", "IVF_SQ8")
EXACT_BELOW = 200_000      # FLAT (exact) below this many passages, as the local index searches exactly
# The BM25 field holds words already stemmed here (minutes.text.stem, Snowball English), so every
# server stems alike: Milvus Lite 3.2 accepts a `stemmer` filter and silently does not apply it.
ANALYZER = {"tokenizer": "standard", "filter": ["lowercase"]}

PASSAGE_FIELDS = ("id", "doc", "document_id", "ordinal", "char_start", "char_end", "kind", "heading", "page", "text",
                  "council", "council_key", "committee", "committee_key", "title", "item", "date_text",
                  "source_url", "see_also", "attribution", "procedural", "date_start", "date_end", "content_hash")
GENERATION_FIELDS = ("added_in", "retired_in")
# `keywords` (heading, then text) is what BM25 and TEXT_MATCH read: FTS5 indexes both columns too.
KEYWORDS_SEPARATOR = "\n\n"
DOC_FIELDS = ("key", "doc", "part", "document_id", "text", "fields")


def server_has_bm25(version: str) -> bool:
    """Whether a server of this version (`get_server_version()`) has the BM25 function:
    Milvus 2.5+ and Milvus Lite 3+ do; the 2.3 standalone does not."""
    numbers = re.search(r"(\d+)\.(\d+)", version)
    if numbers is None:
        return False
    major, minor = int(numbers.group(1)), int(numbers.group(2))
    return major >= 3 if "lite" in version and not version.startswith("v") else (major, minor) >= (2, 5)


def content_key(row: dict[str, Any]) -> tuple[int, str]:
    """(key, sha256 hex) of a row's stored fields: the same row gives the same key in every build."""
    digest = hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return int(digest[:16], 16) & ((1 << KEY_BITS) - 1), digest


def manifest_key(generation: int) -> int:
    """The docs-collection key of generation `generation`'s manifest (content keys are positive)."""
    return -int(generation)


def document_number(document_id: str) -> int:
    """A document's `doc` field: stable across builds (a per-build number would change every row after it)."""
    return content_key({"document_id": document_id})[0]


def _checked(value: str | None, what: str) -> str:
    value = value or ""
    if len(value.encode("utf-8")) > VARCHAR:
        raise BuildError(f"{what} is {len(value.encode('utf-8'))} bytes long; a Milvus text field holds at most "
                         f"{VARCHAR}")
    return value


def keywords_of(passage: Passage) -> str:
    """What BM25 and TEXT_MATCH read: the stems of the heading, then of the text."""
    return " ".join(stems(words(passage.heading))) + KEYWORDS_SEPARATOR + " ".join(stems(words(passage.text)))


def info_of(document: Document) -> DocumentInfo:
    return DocumentInfo(document.document_id, document.title, document.council, document.committee,
                        document.item, document.date.text if document.date else None, document.source_url,
                        document.see_also, document.attribution)


def passage_row(document: Document, info: DocumentInfo, passage: Passage, embedding_text: str) -> dict[str, Any]:
    """The row of a passage, keyed by its content; without the vector and generations."""
    span = document.date
    where = f"passage {passage.passage_id}"
    row = {
        "doc": document_number(document.document_id), "document_id": _checked(document.document_id, "a document id"),
        "ordinal": passage.ordinal, "char_start": passage.char_start, "char_end": passage.char_end,
        "kind": passage.kind, "heading": _checked(passage.heading, f"the heading of {where}"),
        "page": -1 if passage.page is None else passage.page, "text": _checked(passage.text, f"the text of {where}"),
        "council": _checked(info.council, "a council name"), "council_key": fold(info.council),
        "committee": _checked(info.committee, "a committee name"), "committee_key": fold(info.committee),
        "title": _checked(info.title, f"the title of {document.document_id}"), "item": _checked(info.item, "an item"),
        "date_text": info.date or "", "source_url": _checked(info.source_url, "a source URL"),
        "see_also": _checked(json.dumps(list(info.see_also)), "see_also"),
        "attribution": _checked(info.attribution, "an attribution"), "procedural": document.procedural,
        "date_start": span.start.toordinal() if span else NO_START,
        "date_end": span.end.toordinal() if span else NO_END,
        # the vector cache's key (sha256 of the embedded text): the row's vector is that text's
        "content_hash": hashlib.sha256(embedding_text.encode("utf-8")).hexdigest(),
        "keywords": _checked(keywords_of(passage), f"the heading and text of {where}"),
    }
    row["id"] = content_key(row)[0]
    return row


def row_passage(row: dict[str, Any]) -> Passage:
    return Passage(document_id=row["document_id"], ordinal=row["ordinal"], char_start=row["char_start"],
                   char_end=row["char_end"], kind=row["kind"], text=row["text"], heading=row["heading"],
                   page=None if row["page"] < 0 else row["page"])


def row_info(row: dict[str, Any]) -> DocumentInfo:
    return DocumentInfo(document_id=row["document_id"], title=row["title"] or None, council=row["council"] or None,
                        committee=row["committee"] or None, item=row["item"] or None, date=row["date_text"] or None,
                        source_url=row["source_url"] or None, see_also=tuple(json.loads(row["see_also"])),
                        attribution=row["attribution"] or None)


def document_rows(document: Document) -> list[dict[str, Any]]:
    """The document's rows for the docs collection: its text in parts, its fields on part 0, each
    keyed by its content (without the generations)."""
    span = document.date
    info = info_of(document)
    fields = {"info": {**info.__dict__, "see_also": list(info.see_also)}, "path": document.path,
              "procedural": document.procedural, "page_starts": list(document.page_starts),
              "content_hash": document.content_hash, "extra": document.extra,
              "span": [span.text, span.start.isoformat(), span.end.isoformat()] if span else None}
    parts = [document.text[i:i + PART_CHARS] for i in range(0, len(document.text), PART_CHARS)] or [""]
    if len(parts) >= 1 << PART_BITS:
        raise BuildError(f"document {document.document_id} is too long to store in Milvus ({len(document.text)} "
                         "characters)")
    encoded = _checked(json.dumps(fields), f"the fields of {document.document_id}")
    doc = document_number(document.document_id)
    rows = [{"doc": doc, "part": n, "document_id": document.document_id, "text": part,
             "fields": encoded if n == 0 else "{}"} for n, part in enumerate(parts)]
    return [row | {"key": content_key(row)[0], "placeholder": [1.0, 0.0]} for row in rows]


def manifest_row(manifest_json: str, generation: int) -> dict[str, Any]:
    return {"key": manifest_key(generation), "doc": -1, "part": 0, "document_id": "", "text": manifest_json,
            "fields": "{}", "placeholder": [1.0, 0.0], "added_in": generation, "retired_in": LIVE}


def passage_schema(client: Any, dimension: int, bm25: bool) -> Any:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    for name in ("doc", "ordinal", "char_start", "char_end", "page", "date_start", "date_end", *GENERATION_FIELDS):
        schema.add_field(name, DataType.INT64)
    for name in ("document_id", "kind", "heading", "council", "committee", "committee_key", "title", "item",
                 "date_text", "source_url", "see_also", "attribution", "content_hash"):
        schema.add_field(name, DataType.VARCHAR, max_length=VARCHAR)
    schema.add_field("council_key", DataType.VARCHAR, max_length=VARCHAR, is_partition_key=True)
    schema.add_field("procedural", DataType.BOOL)
    schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
    if bm25:
        schema.add_field("keywords", DataType.VARCHAR, max_length=VARCHAR, enable_analyzer=True, enable_match=True,
                         analyzer_params=ANALYZER)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="keywords_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["keywords"], output_field_names=["sparse"]))
    else:
        schema.add_field("keywords", DataType.VARCHAR, max_length=VARCHAR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    return schema


def passage_indexes(client: Any, passages: int, bm25: bool, index: str = "auto") -> tuple[Any, str]:
    """The index of the vector field (auto: FLAT, exact, below EXACT_BELOW; else HNSW) and its kind."""
    params = client.prepare_index_params()
    if index == "auto":
        index = "FLAT" if passages < EXACT_BELOW else "HNSW"
    if index == "FLAT":
        kind = "FLAT"
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    elif index == "IVF_SQ8":
        nlist = max(1, min(65_536, int(4 * passages ** 0.5)))
        kind = f"IVF_SQ8,nlist{nlist}"
        params.add_index("vector", index_type="IVF_SQ8", metric_type="IP", params={"nlist": nlist})
    else:
        kind = "HNSW,M16,efConstruction200"
        params.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
    if bm25:
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    for scalar in ("document_id", "council_key", "committee_key", "kind"):  # equality filters
        params.add_index(scalar, index_type="INVERTED" if bm25 else "Trie")
    return params, kind


def docs_schema(client: Any) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.INT64, is_primary=True)
    schema.add_field("doc", DataType.INT64)
    schema.add_field("part", DataType.INT64)
    for name in GENERATION_FIELDS:
        schema.add_field(name, DataType.INT64)
    schema.add_field("document_id", DataType.VARCHAR, max_length=VARCHAR)
    schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
    schema.add_field("fields", DataType.VARCHAR, max_length=VARCHAR)
    schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
    return schema


def docs_indexes(client: Any) -> Any:
    params = client.prepare_index_params()
    params.add_index("placeholder", index_type="FLAT", metric_type="L2")
    return params
