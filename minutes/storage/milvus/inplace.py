"""An incremental build written into the serving collection: only the rows that changed.

Rows are keyed by content (schema.content_key) and carry the generations they entered and
left. Generation g is published when the collection's `minutes.generation` property says g
(one metadata call); readers of g filter `added_in <= g < retired_in` in every expression,
so until then nobody sees the rows generation g+1 adds, and the rows it retires still count.

A build of generation g+1 over published g:
1. `clean`: deletes what nobody can read any more: rows a killed or discarded build added
   (added_in > g), rows retired before g-1 could read them (retired_in < g), manifests
   older than g-1. Generations g and g-1 stay readable, as the file backend keeps two builds.
2. `apply`: compares the key set generation g holds with the new build's: inserts the new
   keys' rows (added_in = g+1) and upserts the others with retired_in = g+1, or back to LIVE
   where a killed build had retired a row this one keeps. Milvus writes an upsert's delete
   and insert in one message pack at one timestamp, so a reader of g sees the row either way.
3. `wait_visible`: the build is published only once reads at the collection's default
   consistency (Bounded on a server) see every change; Milvus 2.3 serves fresh writes to
   Bounded reads a few seconds late.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from minutes.errors import BuildError
from minutes.storage.milvus import schema
from minutes.storage.milvus.expr import both, id_list, visible

GENERATION = "minutes.generation"  # collection property: the generation that is published
WRITER = "minutes.writer"          # collection property: who writes its next generation (host:pid:time)
WINDOW = 1000          # rows per insert, upsert and id query
SCAN_BATCH = 4096
VISIBLE_TIMEOUT = 120.0
PASSAGE_OUTPUT = [*schema.PASSAGE_FIELDS, "keywords", "vector", "added_in"]  # never `sparse`: BM25 makes it
DOC_OUTPUT = [*schema.DOC_FIELDS, "placeholder", "added_in"]


def deleted(result: Any) -> int:
    """Rows a delete removed (a server answers a count, Milvus Lite the keys)."""
    return int(result.get("delete_count", 0)) if isinstance(result, dict) else len(result)


def clean(client: Any, collection: str, published: int) -> int:
    """Drop the rows no generation from `published - 1` on can read; the number dropped."""
    count = 0
    for name in (collection, collection + "_docs"):
        count += deleted(client.delete(name, filter=f"added_in > {published} or retired_in < {published}"))
    count += deleted(client.delete(collection + "_docs",
                                   filter=f"key < 0 and key > {schema.manifest_key(published - 1)}"))
    return count


def _scan(client: Any, name: str, expression: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    iterator = client.query_iterator(name, batch_size=SCAN_BATCH, filter=expression, output_fields=fields)
    try:
        while batch := iterator.next():
            yield from batch
    finally:
        iterator.close()


def _live(client: Any, name: str, key: str, published: int) -> Iterator[tuple[int, int]]:
    """(key, retired_in) of every row generation `published` holds."""
    for row in _scan(client, name, both(visible(published), f"{key} >= 0"), [key, "retired_in"]):
        yield int(row[key]), int(row["retired_in"])


def _set_retired(client: Any, name: str, key: str, keys: list[int], retired_in: int, output: list[str]) -> None:
    """Upsert `keys`' rows with a new `retired_in`, everything else read back as it is."""
    for start in range(0, len(keys), WINDOW):
        window = keys[start:start + WINDOW]
        rows = client.query(name, filter=id_list(window, key), output_fields=output,
                            limit=len(window), consistency_level="Strong")
        if len(rows) != len(window):
            raise BuildError(f"{len(window) - len(rows)} rows of {name} went missing during the build")
        client.upsert(name, [dict(row) | {"retired_in": retired_in} for row in rows])


def _diff(spill: sqlite3.Connection, table: str, column: str, live: Iterator[tuple[int, int]],
          generation: int) -> tuple[list[int], list[int], list[int], int]:
    """(new keys, keys to retire now, keys to restore, keys retired in all) against the live rows."""
    spill.execute("DROP TABLE IF EXISTS live")
    spill.execute("CREATE TEMP TABLE live (key INTEGER PRIMARY KEY, retired_in INTEGER NOT NULL)")
    spill.executemany("INSERT INTO live VALUES (?, ?)", live)
    new = [k for (k,) in spill.execute(f"SELECT {column} FROM {table} WHERE {column} NOT IN (SELECT key FROM live) "
                                       f"ORDER BY rowid")]
    gone = f"key NOT IN (SELECT {column} FROM {table})"
    retire = [k for (k,) in spill.execute(f"SELECT key FROM live WHERE {gone} AND retired_in != ?", (generation,))]
    restore = [k for (k,) in spill.execute(f"SELECT key FROM live WHERE NOT {gone} AND retired_in != ?",
                                           (schema.LIVE,))]
    (retired,) = spill.execute(f"SELECT count(*) FROM live WHERE {gone}").fetchone()
    return new, retire, restore, int(retired)


def apply(client: Any, collection: str, generation: int, spill: sqlite3.Connection,
          vectors: Callable[[np.ndarray], np.ndarray]) -> dict[str, int]:
    """Write generation `generation` over `generation - 1`: the rows counts written, by kind."""
    published, docs = generation - 1, collection + "_docs"
    stamp = {"added_in": generation, "retired_in": schema.LIVE}
    counts = {"cleaned": clean(client, collection, published)}
    new, retire, restore, retired = _diff(spill, "passages", "id", _live(client, collection, "id", published),
                                          generation)
    for start in range(0, len(new), WINDOW):
        window = new[start:start + WINDOW]
        found = spill.execute(f"SELECT pos, row FROM passages WHERE id IN ({','.join('?' * len(window))}) "
                              "ORDER BY pos", window).fetchall()
        rows = vectors(np.array([pos for pos, _ in found], dtype=np.int64))
        client.insert(collection, [json.loads(row) | stamp | {"vector": np.asarray(vector, dtype=np.float32).tolist()}
                                   for (_, row), vector in zip(found, rows, strict=True)])
    _set_retired(client, collection, "id", retire, generation, PASSAGE_OUTPUT)
    _set_retired(client, collection, "id", restore, schema.LIVE, PASSAGE_OUTPUT)
    counts |= {"passages_inserted": len(new), "passages_retired": len(retire), "passages_restored": len(restore),
               "passages_retired_total": retired}
    new, retire, restore, retired = _diff(spill, "docs", "key", _live(client, docs, "key", published), generation)
    for start in range(0, len(new), WINDOW // 10):  # parts are up to 64 KB each
        window = new[start:start + WINDOW // 10]
        stored = spill.execute(f"SELECT row FROM docs WHERE key IN ({','.join('?' * len(window))})", window)
        client.insert(docs, [json.loads(row) | stamp for (row,) in stored])
    _set_retired(client, docs, "key", retire, generation, DOC_OUTPUT)
    _set_retired(client, docs, "key", restore, schema.LIVE, DOC_OUTPUT)
    counts |= {"documents_inserted": len(new), "documents_retired": len(retire), "documents_restored": len(restore),
               "documents_retired_total": retired}
    for name in (collection, docs):
        client.flush(name)
    return counts


def _count(client: Any, name: str, expression: str, **kwargs: Any) -> int:
    return int(client.query(name, filter=expression, output_fields=["count(*)"], **kwargs)[0]["count(*)"])


def wait_visible(client: Any, collection: str, generation: int, passages: int, counts: dict[str, int],
                 timeout: float = VISIBLE_TIMEOUT) -> None:
    """Return once reads at the default consistency see generation `generation` whole."""
    docs = collection + "_docs"
    expected = [(collection, visible(generation), passages),
                (collection, f"added_in == {generation}", counts["passages_inserted"]),
                (collection, f"retired_in == {generation}", counts["passages_retired_total"]),
                (docs, f"added_in == {generation} and key >= 0", counts["documents_inserted"]),
                (docs, f"retired_in == {generation}", counts["documents_retired_total"])]
    deadline = time.monotonic() + timeout
    for name, expression, count in expected:
        if _count(client, name, expression, consistency_level="Strong") != count:
            raise BuildError(f"Milvus does not hold generation {generation} of {collection} whole "
                             f"({expression}: not {count} rows); nothing was published")
        while _count(client, name, expression) != count:
            if time.monotonic() > deadline:
                raise BuildError(f"Milvus did not show generation {generation} of {collection} to readers in "
                                 f"{timeout:.0f} s; nothing was published")
            time.sleep(0.2)


def rollback(client: Any, collection: str, generation: int) -> None:
    """Undo an unpublished generation `generation`: its rows gone, the rows it retired live again,
    the collection free for the next build."""
    docs = collection + "_docs"
    try:
        for name in (collection, docs):
            client.delete(name, filter=f"added_in >= {generation}")
        for name, key, output in ((collection, "id", PASSAGE_OUTPUT), (docs, "key", DOC_OUTPUT)):
            keys = [int(row[key]) for row in _scan(client, name, f"retired_in >= {generation} and "
                                                   f"retired_in < {schema.LIVE}", [key])]
            _set_retired(client, name, key, keys, schema.LIVE, output)
    finally:
        client.alter_collection_properties(collection, properties={WRITER: ""})
