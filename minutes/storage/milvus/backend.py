"""The Milvus backend: builds are generations of collections, the serving one named by an alias.

`--backend milvus://HOST:PORT[/PREFIX]` (a Milvus server or cluster) or
`--backend milvus-lite:PATH` (Milvus Lite, a local file: tests and trials). PREFIX
(default `minutes`) is the alias. A full build S writes new collections `PREFIX_S` and
`PREFIX_S_docs` (generation 1) and publishing moves the alias in one call (`alter_alias`).
An incremental build (the default when the serving build has the same model, dimension,
chunker and keyword engine) writes generation g+1 into the serving collections in place
(minutes.storage.milvus.inplace), and publishing sets the collection's GENERATION property
in one call. Either way readers see the old build or the new one, never a mixture; a
killed build leaves the old one serving. Build ids are `S-g`. The serving build and the one
before it are kept; unfinished builds of dead local processes are dropped.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from minutes.chunk import CHUNKER_VERSION
from minutes.errors import BuildError, IndexCorrupt, IndexMismatch, IndexMissing
from minutes.storage.base import FORMAT_VERSION, BuildHandle, Manifest
from minutes.storage.milvus import inplace, schema
from minutes.storage.milvus.errors import MilvusUnavailable, answering
from minutes.storage.milvus.inplace import GENERATION, WRITER
from minutes.storage.milvus.mixed import LocalKeywords, MixedWriter
from minutes.storage.milvus.reader import MilvusReader, read_manifest
from minutes.storage.milvus.writer import MilvusWriter, Target, milvus_errors

KEEP_BUILDS = 2
ABANDONED_AFTER = 24 * 3600  # an unfinished build from another machine is dropped after a day
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,100}$")


class _Expected(logging.Filter):
    """pymilvus logs every refused call at ERROR, the expected ones too (no alias yet)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(word in message for word in ("describe_alias", "describe_collection", "mvccTs"))


for _name in ("pymilvus.decorators", "pymilvus.client.iterator.query_iterator"):
    logging.getLogger(_name).addFilter(_Expected())


@dataclass(frozen=True)
class MilvusLocation:
    uri: str              # what MilvusClient takes: http://host:port, or a Milvus Lite file
    prefix: str = "minutes"
    keyword: str = "milvus"  # milvus: BM25 in Milvus; local: the local keyword index beside it
    index: str = "auto"      # the vector index: auto (FLAT below 200k passages, else HNSW), FLAT, HNSW, IVF_SQ8

    @classmethod
    def parse(cls, url: str) -> MilvusLocation:
        parts = urlsplit(url)
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(options) - {"keyword", "prefix", "index"}
        if unknown:
            raise ValueError(f"unknown option {sorted(unknown)[0]!r} in the backend {url!r} "
                             "(known: keyword, prefix, index)")
        index = options.get("index", "auto")
        if index not in schema.INDEX_KINDS:
            raise ValueError(f"index={index!r} in {url!r}: choose one of {', '.join(schema.INDEX_KINDS)}")
        keyword = options.get("keyword", "milvus")
        if keyword not in ("milvus", "local"):
            raise ValueError(f"keyword={keyword!r} in {url!r}: choose keyword=milvus or keyword=local")
        if parts.scheme == "milvus":
            if not parts.hostname:
                raise ValueError(f"the backend {url!r} names no host; write milvus://HOST:PORT")
            prefix = options.get("prefix") or parts.path.strip("/") or "minutes"
            uri = f"http://{parts.hostname}:{parts.port or 19530}"
        elif parts.scheme == "milvus-lite":
            path = url.split(":", 1)[1].split("?", 1)[0]
            path = path[2:] if path.startswith("//") else path
            if not path:
                raise ValueError(f"the backend {url!r} names no file; write milvus-lite:PATH.db")
            prefix, uri = options.get("prefix", "minutes"), str(Path(path).resolve())
        else:
            raise ValueError(f"unknown backend {url!r}: use milvus://HOST:PORT or milvus-lite:PATH")
        if not _PREFIX.match(prefix):
            raise ValueError(f"the collection prefix {prefix!r} must be letters, digits and _ (not first a digit)")
        return cls(uri, prefix, keyword, index)


_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def connect(uri: str) -> Any:
    """One client per address in a process (thread-safe): a Milvus Lite file takes one server
    process, and a second client's connection to it is refused ("too many pings")."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    with _CLIENTS_LOCK:
        if uri not in _CLIENTS:
            try:
                _CLIENTS[uri] = MilvusClient(uri=uri, timeout=30)
            except MilvusException as exc:
                raise MilvusUnavailable(f"cannot reach Milvus at {uri}: {exc.message}") from None
        return _CLIENTS[uri]


class MilvusBackend:
    name = "milvus"

    def __init__(self, url: str, *, index_dir: Path | None = None, client: Any = None) -> None:
        """`index_dir`: where passages wait while a build is written, and the local keyword
        index of the mixed set-up (`?keyword=local`) lives; default: a temporary folder."""
        self.location = MilvusLocation.parse(url)
        self.url, self.index_dir = url, index_dir
        self.client = client or connect(self.location.uri)
        self.version = str(self.client.get_server_version())
        self.bm25 = schema.server_has_bm25(self.version) and self.location.keyword == "milvus"
        self.local: LocalKeywords | None = None
        if self.location.keyword == "local":
            if index_dir is None:
                raise ValueError("keyword=local keeps the keyword index in the index folder: give --index-dir")
            self.local = LocalKeywords(index_dir)

    @property
    def alias(self) -> str:
        return self.location.prefix

    def collection_of(self, build_id: str) -> str:
        return f"{self.location.prefix}_{build_id.lower()}"

    def _build_of(self, collection: str, generation: int) -> str:
        return f"{collection[len(self.location.prefix) + 1:].upper()}-{generation}"

    @staticmethod
    def _generation_of(build_id: str) -> tuple[str, int]:
        stamp, _, generation = build_id.partition("-")
        return stamp, int(generation) if generation.isdigit() else 0

    def writer(self, dimension: int, *, model: str = "", incremental: bool = True) -> MilvusWriter | MixedWriter:
        owner = f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
        previous = self._reusable(dimension, model) if incremental else None
        if previous is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            target = Target(self.collection_of(stamp))
        else:
            collection, generation, manifest = previous
            target = Target(collection, generation + 1, manifest)
            self._claim(collection, owner)
        writer = MilvusWriter(self.client, target, self._build_of(target.collection, target.generation), dimension,
                              self.bm25, owner, self.index_dir, self.location.index)
        if self.local is None:
            return writer
        try:
            return MixedWriter(writer, self.local.writer(dimension))
        except BaseException:
            writer.abort()
            raise

    def _reusable(self, dimension: int, model: str) -> tuple[str, int, Manifest] | None:
        """The serving collection, its generation and manifest, when the next build may write it in place."""
        serving = self._serving()
        if serving is None or serving[1] < 1:
            return None
        collection, generation = serving
        manifest = read_manifest(self.client, collection + "_docs", generation)
        facts = manifest.backend if manifest else {}
        wanted_index = self.location.index == "auto" or str(facts.get("vector_index", "")).startswith(
            self.location.index)
        if (manifest is None or manifest.model != model or manifest.dimension != dimension
                or manifest.chunker_version != CHUNKER_VERSION or manifest.format != FORMAT_VERSION
                or bool(facts.get("bm25")) != self.bm25 or (facts.get("keyword") == "local") != (self.local is not None)
                or not wanted_index):
            return None
        return collection, generation, manifest

    def _claim(self, collection: str, owner: str) -> None:
        """One incremental build a collection at a time: a second one, while the first one's process lives, fails."""
        properties = self.client.describe_collection(collection).get("properties") or {}
        writing = properties.get(WRITER, "")
        if writing and not _gone(writing):
            raise BuildError(f"another build ({writing}) is writing {collection}; the previous index is still serving")
        with milvus_errors("claim the serving collection"):
            self.client.alter_collection_properties(collection, properties={WRITER: owner})

    def _manifest(self, collection: str, generation: int) -> Manifest:
        manifest = read_manifest(self.client, collection + "_docs", generation)
        if manifest is None:
            raise IndexCorrupt(f"the Milvus collection {collection} has no manifest of generation {generation} "
                               "(an unfinished build)")
        return manifest

    def publish(self, build: BuildHandle) -> None:
        _, generation = self._generation_of(build.build_id)
        if self.local is not None:  # its keyword half first: the collection and generation decide which pair serves
            self.local.publish(self._manifest(build.location, generation))
        with milvus_errors("publish the build"):
            self.client.alter_collection_properties(build.location, properties={GENERATION: str(generation),
                                                                                WRITER: ""})
            serving = self._serving()
            if serving is None:
                self.client.create_alias(build.location, self.alias)
            elif serving[0] != build.location:
                self.client.alter_alias(build.location, self.alias)
        self.prune()

    def discard(self, build: BuildHandle) -> None:
        _, generation = self._generation_of(build.build_id)
        serving = self._serving()
        if serving is not None and build.location == serving[0]:
            if generation <= serving[1]:
                raise ValueError(f"{build.build_id} is serving; publish another build before discarding it")
            with milvus_errors("discard the build"):  # an unpublished generation of the serving collection
                if self.local is not None:
                    self.local.discard(self._manifest(build.location, generation))
                inplace.rollback(self.client, build.location, generation)
            return
        if self.local is not None and self.client.has_collection(build.location + "_docs"):
            self.local.discard(self._manifest(build.location, generation))
        for name in (build.location, build.location + "_docs"):
            self.client.drop_collection(name)

    def _serving(self) -> tuple[str, int] | None:
        """The aliased collection and its published generation (0: a build made before generations)."""
        from pymilvus.exceptions import MilvusException

        try:
            described = self.client.describe_collection(self.alias)
        except MilvusException:
            return None
        generation = (described.get("properties") or {}).get(GENERATION, "0")
        return str(described["collection_name"]), int(generation) if str(generation).isdigit() else 0

    def current(self) -> str | None:
        with answering(self.location.uri):
            serving = self._serving()
        return self._build_of(*serving) if serving else None

    def open(self, build_id: str | None = None) -> MilvusReader:
        build_id = build_id or self.current()
        if build_id is None:
            raise IndexMissing(f"no published build in Milvus at {self.location.uri} (alias {self.alias!r}); "
                               f"build one with: minutes index --backend {self.url}")
        stamp, generation = self._generation_of(build_id)
        collection = self.collection_of(stamp)
        if not self.client.has_collection(collection):
            raise IndexMissing(f"the build {build_id} is not in Milvus at {self.location.uri}")
        if generation < 1:
            raise IndexMismatch(f"the Milvus build {collection} was made by an older Minutes (no build generations); "
                                "rebuild with: minutes index --rebuild")
        with milvus_errors("load the build"):
            for name in (collection + "_docs", collection):
                self.client.load_collection(name)
        if read_manifest(self.client, collection + "_docs", generation) is None:
            raise IndexMissing(f"the build {build_id} is no longer in Milvus at {self.location.uri} (pruned)")
        if self.local is None:
            return MilvusReader(self.client, collection, build_id, generation)
        local, keyword = self.local.open(self._manifest(collection, generation))
        return MilvusReader(self.client, collection, build_id, generation, keyword=keyword, keeps=local)

    def previous_sources(self) -> list[str]:
        serving = self._serving()
        manifest = read_manifest(self.client, serving[0] + "_docs", serving[1]) if serving else None
        return list(manifest.sources) if manifest else []

    def builds(self) -> list[str]:
        """Collections of this prefix's builds, newest first."""
        pattern = re.compile(re.escape(self.location.prefix) + r"_\d{8}t\d{12}z$")
        return sorted((c for c in self.client.list_collections() if pattern.match(c)), reverse=True)

    def prune(self) -> None:
        """Keep the serving build and the one before it (its previous generation, or the collection
        it replaced while it is at generation 1); drop unfinished builds nobody is writing."""
        serving = self._serving()
        finished: list[str] = []
        for collection in self.builds():
            docs = collection + "_docs"
            if self.client.has_collection(docs) and self._finished(docs):
                finished.append(collection)
            elif (serving is None or collection != serving[0]) and self._abandoned(collection):
                for name in (collection, docs):
                    self.client.drop_collection(name)
        if serving is None:
            drop = finished[KEEP_BUILDS:]
        else:  # from generation 2 on, the build before the serving one is in the same collection
            drop = [c for c in finished if c != serving[0]][KEEP_BUILDS - 1 if serving[1] <= 1 else 0:]
        for old in drop:
            for name in (old, old + "_docs"):
                self.client.drop_collection(name)

    def _finished(self, docs: str) -> bool:
        try:
            self.client.load_collection(docs)
            return bool(self.client.query(docs, filter="key < 0", output_fields=["key"], limit=1,
                                          consistency_level="Strong"))
        except Exception:  # noqa: BLE001 - a collection that cannot be read is not a finished build
            return False

    def _abandoned(self, collection: str) -> bool:
        description = str(self.client.describe_collection(collection).get("description", ""))
        match = re.match(r"building (.+)$", description)
        return match is None or _gone(match.group(1))


def _gone(owner: str) -> bool:
    """Whether the build process `owner` (host:pid:start time) is gone: dead here, or a day old elsewhere."""
    match = re.match(r"(.+):(\d+):(\d+)$", owner)
    if match is None:
        return True
    host, pid, started = match.group(1), int(match.group(2)), int(match.group(3))
    if host != socket.gethostname():
        return time.time() - started > ABANDONED_AFTER
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False  # its process is alive: still building
