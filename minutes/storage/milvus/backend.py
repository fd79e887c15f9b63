"""The Milvus backend: builds are collections, the serving one is named by an alias.

`--backend milvus://HOST:PORT[/PREFIX]` (a Milvus server or cluster) or
`--backend milvus-lite:PATH` (Milvus Lite, a local file: tests and trials). PREFIX
(default `minutes`) is the alias; build B lives in collections `PREFIX_B` and `PREFIX_B_docs`.
Publishing moves the alias in one call (`alter_alias`), so readers see the old build or the
new one, never a mixture; a killed build leaves the alias where it was. The serving build
and the one before it are kept; unfinished builds of dead local processes are dropped.
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

from minutes.errors import IndexCorrupt, IndexMissing
from minutes.storage.base import BuildHandle, Manifest
from minutes.storage.milvus import schema
from minutes.storage.milvus.errors import MilvusUnavailable, answering
from minutes.storage.milvus.mixed import LocalKeywords, MixedWriter
from minutes.storage.milvus.reader import MilvusReader, read_manifest
from minutes.storage.milvus.writer import MilvusWriter, milvus_errors

KEEP_BUILDS = 2
ABANDONED_AFTER = 24 * 3600  # an unfinished build from another machine is dropped after a day
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,100}$")


class _Expected(logging.Filter):
    """pymilvus logs every refused call at ERROR, the expected ones too (no alias yet)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "describe_alias" not in message and "mvccTs" not in message


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

    def _build_of(self, collection: str) -> str:
        return collection[len(self.location.prefix) + 1:].upper()

    def writer(self, dimension: int) -> MilvusWriter | MixedWriter:
        build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        owner = f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
        writer = MilvusWriter(self.client, self.collection_of(build_id), build_id, dimension, self.bm25, owner,
                              self.index_dir, self.location.index)
        if self.local is None:
            return writer
        try:
            return MixedWriter(writer, self.local.writer(dimension))
        except BaseException:
            writer.abort()
            raise

    def _manifest(self, collection: str) -> Manifest:
        manifest = read_manifest(self.client, collection + "_docs")
        if manifest is None:
            raise IndexCorrupt(f"the Milvus collection {collection} has no manifest (an unfinished build)")
        return manifest

    def publish(self, build: BuildHandle) -> None:
        if self.local is not None:  # its keyword half first: the alias decides which pair serves
            self.local.publish(self._manifest(build.location))
        with milvus_errors("publish the build"):
            if self._aliased() is None:
                self.client.create_alias(build.location, self.alias)
            else:
                self.client.alter_alias(build.location, self.alias)
        self.prune()

    def discard(self, build: BuildHandle) -> None:
        if build.location == self._aliased():
            raise ValueError(f"{build.location} is serving; publish another build before discarding it")
        if self.local is not None and self.client.has_collection(build.location + "_docs"):
            self.local.discard(self._manifest(build.location))
        for name in (build.location, build.location + "_docs"):
            self.client.drop_collection(name)

    def _aliased(self) -> str | None:
        from pymilvus.exceptions import MilvusException

        try:
            return str(self.client.describe_alias(self.alias)["collection_name"])
        except MilvusException:
            return None

    def current(self) -> str | None:
        with answering(self.location.uri):
            collection = self._aliased()
        return self._build_of(collection) if collection else None

    def open(self, build_id: str | None = None) -> MilvusReader:
        build_id = build_id or self.current()
        if build_id is None:
            raise IndexMissing(f"no published build in Milvus at {self.location.uri} (alias {self.alias!r}); "
                               f"build one with: minutes index --backend {self.url}")
        collection = self.collection_of(build_id)
        if not self.client.has_collection(collection):
            raise IndexMissing(f"the build {build_id} is not in Milvus at {self.location.uri}")
        with milvus_errors("load the build"):
            for name in (collection + "_docs", collection):
                self.client.load_collection(name)
        if self.local is None:
            return MilvusReader(self.client, collection, build_id)
        local = self.local.open(self._manifest(collection))
        return MilvusReader(self.client, collection, build_id, keyword=local.keyword, keeps=local)

    def previous_sources(self) -> list[str]:
        collection = self._aliased()
        manifest = read_manifest(self.client, collection + "_docs") if collection else None
        return list(manifest.sources) if manifest else []

    def builds(self) -> list[str]:
        """Collections of this prefix's builds, newest first."""
        pattern = re.compile(re.escape(self.location.prefix) + r"_\d{8}t\d{12}z$")
        return sorted((c for c in self.client.list_collections() if pattern.match(c)), reverse=True)

    def prune(self) -> None:
        """Keep the serving build and the one before it; drop unfinished builds nobody is writing."""
        serving = self._aliased()
        finished: list[str] = []
        for collection in self.builds():
            docs = collection + "_docs"
            if self.client.has_collection(docs) and self._finished(docs):
                finished.append(collection)
            elif collection != serving and self._abandoned(collection):
                for name in (collection, docs):
                    self.client.drop_collection(name)
        for old in finished[KEEP_BUILDS:]:
            if old != serving:
                for name in (old, old + "_docs"):
                    self.client.drop_collection(name)

    def _finished(self, docs: str) -> bool:
        try:
            self.client.load_collection(docs)
            return read_manifest(self.client, docs) is not None
        except Exception:  # noqa: BLE001 - a collection that cannot be read is not a finished build
            return False

    def _abandoned(self, collection: str) -> bool:
        description = str(self.client.describe_collection(collection).get("description", ""))
        match = re.match(r"building (.+):(\d+):(\d+)$", description)
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
