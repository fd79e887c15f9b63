"""The storage seam: what search, the features and the web layer may ask of an index.

An index has three parts, each behind a protocol, so a backend may implement all of them
(SQLite + FAISS, Milvus) or only some (Milvus vectors beside a local keyword index), as
txtai composes `ann` + `database` + `scoring`:

- `PassageStore`: passages and documents by id, their places, the values of the filters.
- `KeywordIndex`: bm25 retrieval for a parsed `KeywordQuery` (never a query string).
- `VectorIndex`: nearest unit vectors (inner product = cosine).

Filters cross the seam as `records.Filters` and each part applies them inside its own
engine, never after it (filtering afterwards returns short pages: txtai #915). Scores cross
it as "higher is better". Passage ids are ints shared by the three parts of one build, chosen
by the backend: 0..n-1 in the order written (file backend), or content keys that stay the
same from build to build for an unchanged passage (Milvus, which updates builds in place).
A writer numbers passages by position (0..n-1, the order `add` was given them) for the
build's own steps (`embedding_texts`, `write_vectors`); readers never see positions.

A `Backend` writes builds (`IndexWriter`), publishes one atomically (a symlink swap for the
file backend, an alias swap for Milvus) and opens the one `current()` names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from minutes.records import DateSpan, Document, DocumentInfo, Filters, Passage
from minutes.text.query import KeywordQuery

FORMAT_VERSION = 2  # 2: backend-neutral manifest (`backend` replaces `faiss_index`)
FacetField = Literal["council", "committee"]


class Manifest(BaseModel):
    """How a build was made: checked before it serves (model, dimension, chunker, format)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    model: str
    dimension: int
    chunker_version: str
    documents: int
    passages: int
    built_at: str
    build_seconds: float
    sources: tuple[str, ...] = ()
    backend: dict[str, Any] = {}  # backend name and its own facts (vector index kind, collection...)
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls.model_validate_json(text)


class StoredPassage(NamedTuple):
    id: int
    passage: Passage
    document: DocumentInfo
    procedural: bool


@dataclass(frozen=True)
class StoredDocument:
    """A whole document as the index holds it (the document page and exports)."""

    info: DocumentInfo
    text: str
    span: DateSpan | None = None
    procedural: bool = False
    page_starts: tuple[int, ...] = ()
    path: str | None = None
    content_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KeywordHits:
    """bm25 results: `ranked` best first (id, score; higher is better), and the scores of the
    `score_also` ids that the query selects (0 for the others: they hold no query word)."""

    ranked: list[tuple[int, float]]
    also: dict[int, float] = field(default_factory=dict)


class PassageStore(Protocol):
    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]: ...

    def passage(self, document_id: str, ordinal: int) -> StoredPassage | None: ...

    def document(self, document_id: str) -> StoredDocument | None: ...

    def document_passages(self, document_id: str) -> list[Passage]: ...

    def places(self, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
        """(document id, ordinal) of each passage id: which passages are neighbours."""
        ...

    def facet_values(self, field: FacetField) -> list[str]:
        """Every council or committee present, sorted, for filter menus."""
        ...

    def restricts(self, filters: Filters) -> bool:
        """Whether `filters` leave out any passage (False is the fast path: search everything)."""
        ...


class KeywordIndex(Protocol):
    def search(self, query: KeywordQuery, filters: Filters, limit: int, *,
               score_also: Sequence[int] = ()) -> KeywordHits: ...

    def select(self, query: KeywordQuery, filters: Filters) -> set[int]:
        """Every passage within `filters` that holds one phrase of each required group."""
        ...

    def excluded(self, query: KeywordQuery) -> set[int]:
        """Every passage that holds one of the query's exclusions."""
        ...

    def holds_all_words(self, words: Sequence[str], among: Sequence[int]) -> bool:
        """Whether one passage of `among` holds every word (as the engine stems them)."""
        ...


class VectorIndex(Protocol):
    dimension: int

    def search(self, vector: np.ndarray, k: int, filters: Filters,
               restrict: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest passages within `filters` (and among `restrict`)."""
        ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored unit vector of each id, in order."""
        ...

    def count(self) -> int: ...


class IndexReader(Protocol):
    """A published build, read-only: what Searcher, the holder and the web routes receive."""

    @property
    def build_id(self) -> str: ...

    @property
    def manifest(self) -> Manifest: ...

    @property
    def passages(self) -> PassageStore: ...

    @property
    def keyword(self) -> KeywordIndex: ...

    @property
    def vectors(self) -> VectorIndex: ...

    def check_compatible(self, model: str, dimension: int) -> None: ...

    def close(self) -> None: ...


class BuildHandle(NamedTuple):
    build_id: str
    location: str  # a folder for the file backend, a collection for Milvus


class IndexWriter(Protocol):
    """One new build, written a document at a time; nothing is visible until `publish`."""

    @property
    def documents(self) -> int: ...

    @property
    def passages(self) -> int: ...

    def add(self, document: Document, passages: list[Passage]) -> None:
        """Store a document and its passages; their positions follow on from the previous ones."""
        ...

    def finish_passages(self) -> None:
        """Every document is in: finish the keyword index."""
        ...

    def embedding_texts(self, ids: list[int]) -> list[str]:
        """The embedding text of each position."""
        ...

    def write_vectors(self, count: int, rows: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
        """Store `count` vectors that `rows(positions)` hands out a window at a time; backend facts."""
        ...

    def finish(self, manifest: Manifest) -> BuildHandle:
        """Make the build durable and check it reads back; it is not yet published."""
        ...

    def abort(self) -> None:
        """Remove whatever this build wrote (a failed or interrupted build)."""
        ...


class Backend(Protocol):
    name: str

    def writer(self, dimension: int, *, model: str = "", incremental: bool = True) -> IndexWriter:
        """A new build. `incremental`: the backend may write only what changed since the serving
        build, when that one was made alike (`model`, dimension, chunker); False: a whole new build."""
        ...

    def publish(self, build: BuildHandle) -> None:
        """Make `build` the one that serves, atomically; older builds are pruned."""
        ...

    def discard(self, build: BuildHandle) -> None:
        """Remove a finished build that was never published."""
        ...

    def current(self) -> str | None:
        """The id of the build that serves now (the holder polls this), or None."""
        ...

    def open(self, build_id: str | None = None) -> IndexReader:
        """Open `build_id` (default: the current one); raises IndexMissing when there is none."""
        ...

    def previous_sources(self) -> list[str]:
        """The sources the current build was made from (an import adds to them)."""
        ...
