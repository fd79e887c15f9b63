"""Open a build's tantivy index read-only and search it: the `KeywordIndex` of the seam.

Exact bm25 (k1 1.2, b 0.75) over passage text and heading, weighted 1.0 and 0.3; tantivy's
block-max WAND finds the top passages without scoring every one that holds a query word, so
no query word is ever dropped for speed. Filters are non-scoring clauses of the same query,
so a filtered search still returns `limit` hits when that many match.

Read-only folders: tantivy's reader takes a lock file beside `meta.json` while it loads the
segment list, which fails on a read-only mount (or a folder the server cannot write). Then the
index is opened through a private folder of symbolic links to its files, which holds the lock
file instead; the index files themselves are only read (memory-mapped).

Start-up checks every file of the index against the CRC32 in its tantivy footer, so a damaged
file is an `IndexCorrupt` that names it and the fix, not a crash on some later search.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import struct
import tempfile
import weakref
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal

import tantivy
from tantivy import Occur, Query

from minutes.errors import IndexCorrupt, IndexMissing
from minutes.records import Filters
from minutes.storage.base import KeywordHits
from minutes.storage.tantivy_index.schema import ANALYZER, ANALYZER_NAME, QueryBuilder, combine
from minutes.text.query import KeywordQuery

FIX = "rebuild with: minutes index --rebuild"
_FOOTER_MAGIC = 1337
_CRC_CHUNK = 8 * 2**20
_LOCKS = (".tantivy-meta.lock", ".tantivy-writer.lock")
CountField = Literal["council", "committee", "year"]


class TantivyKeywordIndex:
    """Keyword retrieval over one committed tantivy index. Safe to share between threads."""

    def __init__(self, index: tantivy.Index, path: Path, shadow: Path | None = None) -> None:
        self.path = path
        self._index = index
        self._query = QueryBuilder(index.schema)
        self._shadow = shadow
        if shadow is not None:
            self._finalizer = weakref.finalize(self, shutil.rmtree, shadow, True)
        self.reload()

    def reload(self) -> None:
        """See the latest commit (a build's index never changes; tests and incremental writers do)."""
        self._index.reload()
        self._searcher = self._index.searcher()
        self._has_procedural = self._searcher.doc_freq("procedural", True) > 0

    @property
    def passages(self) -> int:
        return int(self._searcher.num_docs)

    def search(self, query: KeywordQuery, filters: Filters, limit: int, *,
               score_also: Sequence[int] = ()) -> KeywordHits:
        positive = self._query.positive(query)
        if positive is None or limit < 1:
            return KeywordHits([])
        clauses = self._clauses(query, filters)
        ranked = self._run(combine(positive, clauses), limit)
        also: dict[int, float] = {}
        if score_also:
            also = dict(self._run(combine(positive, [*clauses, (Occur.Must, self._query.ids(score_also))]),
                                  len(score_also)))
        return KeywordHits(ranked, also)

    def select(self, query: KeywordQuery, filters: Filters) -> set[int]:
        positive = self._query.positive(query) if query.required else None
        if positive is None:
            return set()
        return self._all(combine(positive, self._clauses(query, filters)))

    def excluded(self, query: KeywordQuery) -> set[int]:
        exclusion = self._query.exclusion(query)
        return set() if exclusion is None else self._all(exclusion)

    def holds_all_words(self, words: Sequence[str], among: Sequence[int]) -> bool:
        if not words or not among:
            return False
        clauses = []
        for word in words:
            found = self._query.phrase(word, weighted=False)
            if found is None:
                return False
            clauses.append((Occur.Must, found))
        clauses.append((Occur.Must, self._query.ids(among)))
        return bool(self._searcher.search(Query.boolean_query(clauses), 1, count=False).hits)

    def counts(self, query: KeywordQuery, filters: Filters, field: CountField, size: int = 1000) -> dict[str, int]:
        """Passages the keyword query selects within `filters`, by council or committee (lower
        case, as indexed) or by year: counted by tantivy without fetching a hit."""
        positive = self._query.positive(query) or Query.all_query()
        found = combine(positive, self._clauses(query, filters))
        agg = {"terms": {"field": field, "size": size}}
        result = self._searcher.aggregate(found, {"by": agg})
        return {str(int(b["key"]) if field == "year" else b["key"]): int(b["doc_count"])
                for b in result["by"]["buckets"]}

    def close(self) -> None:
        if self._shadow is not None:
            self._finalizer()

    # --- helpers

    def _clauses(self, query: KeywordQuery, filters: Filters) -> list[tuple[Occur, Query]]:
        clauses = self._query.filter_clauses(filters, self._has_procedural)
        exclusion = self._query.exclusion(query)
        if exclusion is not None:
            clauses.append((Occur.MustNot, exclusion))
        return clauses

    def _run(self, query: Query, limit: int) -> list[tuple[int, float]]:
        hits = self._searcher.search(query, limit, count=False).hits
        if not hits:
            return []
        ids = self._ids([address for _, address in hits])
        # Best first; equal scores by id, so a ranking never depends on segment order.
        return sorted(((pid, float(score)) for (score, _), pid in zip(hits, ids, strict=True)),
                      key=lambda item: (-item[1], item[0]))

    def _all(self, query: Query) -> set[int]:
        total = max(self.passages, 1)
        hits = self._searcher.search(Query.const_score_query(query, 1.0), total, count=False).hits
        if not hits:
            return set()
        return set(self._ids([address for _, address in hits]))

    def _ids(self, addresses: list[tantivy.DocAddress]) -> list[int]:
        return [int(pid) for pid in self._searcher.fast_field_values("passage_id", addresses)]  # type: ignore[arg-type]


def open_keyword_index(path: Path, verify: bool = True) -> TantivyKeywordIndex:
    """Open the committed index in `path`, read-only; checks every file first when `verify`."""
    path = Path(path)
    meta = path / "meta.json"
    if not meta.exists():
        raise IndexMissing(f"no keyword index in {path} (meta.json is missing); {FIX}")
    files = committed_files(path)
    if verify:
        for name in files:
            check_file(path / name)
    try:
        index, shadow = _open(path, files)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"cannot open the keyword index in {path} ({_first_line(exc)}); {FIX}") from None
    index.register_tokenizer(ANALYZER_NAME, ANALYZER)
    return TantivyKeywordIndex(index, path, shadow)


def committed_files(path: Path) -> list[str]:
    """The files the last commit uses (its segments' files and delete files)."""
    meta = path / "meta.json"
    try:
        segments = json.loads(meta.read_text())["segments"]
        prefixes = [segment["segment_id"].replace("-", "") for segment in segments]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorrupt(f"the keyword index file {meta} is damaged ({_first_line(exc)}); {FIX}") from None
    names = sorted(entry.name for entry in os.scandir(path))
    files = [name for name in names if name.split(".", 1)[0] in prefixes]
    for prefix in prefixes:
        if not any(name.startswith(prefix + ".") for name in files):
            raise IndexCorrupt(f"the keyword index in {path} lacks the files of segment {prefix}; {FIX}")
    return files


def check_file(file: Path) -> None:
    """Raise IndexCorrupt unless `file` ends in a tantivy footer whose CRC32 matches its body."""
    try:
        with open(file, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            problem = _footer_problem(handle, size) if size >= 8 else "truncated"
    except OSError as exc:
        raise IndexCorrupt(f"cannot read the keyword index file {file} ({exc.strerror or exc}); {FIX}") from None
    if problem:
        raise IndexCorrupt(f"the keyword index file {file} is damaged ({problem}); {FIX}")


def _footer_problem(handle: BinaryIO, size: int) -> str | None:
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        length, magic = struct.unpack("<II", data[size - 8:])
        if magic != _FOOTER_MAGIC or length + 8 > size:
            return "no tantivy footer: truncated or overwritten"
        try:
            crc = json.loads(data[size - 8 - length:size - 8])["crc"]
        except (ValueError, KeyError, TypeError):
            return "unreadable footer"
        body, checksum = size - 8 - length, 0
        with memoryview(data) as view:
            for start in range(0, body, _CRC_CHUNK):  # a window at a time: large files stay unread by RAM
                checksum = zlib.crc32(view[start:min(start + _CRC_CHUNK, body)], checksum)
        return None if checksum == crc else "checksum mismatch"


def _open(path: Path, files: list[str]) -> tuple[tantivy.Index, Path | None]:
    try:
        return tantivy.Index.open(str(path)), None
    except ValueError as exc:
        if "Lockfile" not in str(exc) and "lock" not in str(exc).lower():
            raise
    # Read-only: the lock file goes in a private folder of links to the index's files.
    shadow = Path(tempfile.mkdtemp(prefix="minutes-keyword-"))
    try:
        for name in [*files, "meta.json", ".managed.json"]:
            if (path / name).exists():
                (shadow / name).symlink_to((path / name).resolve())
        return tantivy.Index.open(str(shadow)), shadow
    except BaseException:
        shutil.rmtree(shadow, ignore_errors=True)
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
