"""Turn files into Documents. One reader per format, chosen by file suffix.

Readers yield Documents; a file that cannot be read becomes a Problem (path and reason)
so the caller can report it, skip it and go on.

Around the readers, `load_documents`:
- reads what the folders say about each file (`metadata.json`, `minutes.yaml`, options;
  see `folder.py`) and fills the document's council, committee, date, source URL and
  category with it, the document's own metadata (front matter) winning;
- ingests a file whose bytes were already seen in this run once, reporting the copy;
- keeps the text extracted from PDF, Word and HTML files in an extraction cache keyed by
  the file's SHA-256 and the reader's version, so re-indexing unchanged papers reads
  nothing but their bytes (failures are remembered too);
- reports gaps (no source URL, no council, files named in metadata but missing) as
  Problems of kind "gap", which are indexed anyway, unlike "failed" ones.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from minutes.ingest.folder import FileFacts, FolderDefaults, Folders
from minutes.ingest.text import read_text_document
from minutes.records import Document


@dataclass(frozen=True)
class Problem:
    """A file or URL that was skipped (or indexed with a gap), and why.

    kind: "failed" (not indexed), "duplicate" (same bytes as a file already indexed),
    "gap" (indexed, but metadata is missing: no URL, a file named in metadata is absent...).
    """

    source: str
    reason: str
    kind: str = "failed"


@dataclass
class IngestStats:
    files: int = 0          # files read (duplicates included)
    extracted: int = 0      # PDF, Word, HTML files whose text was extracted this run (text files: always read)
    from_cache: int = 0     # files whose text came from the extraction cache


@dataclass
class IngestOptions:
    """How to read the files: folder defaults from the command line, the extraction cache."""

    council: str | None = None
    committee_names: dict[str, str] = field(default_factory=dict)
    cache_path: Path | None = None
    progress: bool | None = None  # None: a bar only on a terminal
    stats: IngestStats = field(default_factory=IngestStats)

    def defaults(self) -> FolderDefaults:
        return FolderDefaults(council=self.council, committees=dict(self.committee_names))


Reader = Callable[[Path, Path], Iterable[Document]]

# Suffix → reader(path, root). Other formats register here (see register_reader).
READERS: dict[str, Reader] = {
    ".md": read_text_document,
    ".markdown": read_text_document,
    ".txt": read_text_document,
}
# Suffix → reader version, for readers whose output is worth caching (slow extraction).
VERSIONS: dict[str, str] = {}

# Files that describe a folder rather than being documents in it.
IGNORED_NAMES = {"readme.md", "metadata.json", "sources.md", "license", "license.md", "minutes.yaml"}


def register_reader(suffix: str, reader: Reader, version: str | None = None) -> None:
    """Read files ending in `suffix` with `reader`; a `version` makes its output cacheable."""
    READERS[suffix.lower()] = reader
    if version:
        VERSIONS[suffix.lower()] = version


def _load_optional_readers() -> None:
    # Readers with heavier dependencies live in their own modules; import them lazily
    # so a missing optional library only disables its own format.
    import importlib

    for module in ("pdf", "html", "docx", "doc"):
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ImportError:
            continue


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, root) for every readable file under the given files or folders, sorted."""
    _load_optional_readers()
    for root in paths:
        root = Path(root)
        if root.is_file():
            yield root, root.parent
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            if path.name.lower() in IGNORED_NAMES or path.suffix.lower() not in READERS:
                continue
            yield path, root


def unread_files(paths: Iterable[Path]) -> Iterator[Problem]:
    """A Problem for each file under `paths` in no format a reader knows, naming the formats that are."""
    known = ", ".join(sorted(READERS))
    for root in map(Path, paths):
        candidates = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in candidates:
            if not path.is_file() or path.suffix.lower() in READERS or path.name.lower() in IGNORED_NAMES:
                continue
            if root.is_dir() and any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            reason = f"not a format Minutes reads ({path.suffix or 'no suffix'}); it reads {known}"
            if path.suffix.lower() == ".xml":
                reason += "; a ModernGov site's web-service XML is imported with `minutes import moderngov BASE_URL`"
            yield Problem(str(path), reason)


class ExtractionCache:
    """Documents extracted from a file, by (SHA-256 of its bytes, reader version)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS extracted (hash TEXT, version TEXT, ok INTEGER, "
                          "payload TEXT, PRIMARY KEY (hash, version)) WITHOUT ROWID")

    def get(self, digest: str, version: str) -> tuple[bool, Any] | None:
        row = self.conn.execute("SELECT ok, payload FROM extracted WHERE hash = ? AND version = ?",
                                (digest, version)).fetchone()
        return None if row is None else (bool(row[0]), json.loads(row[1]))

    def put(self, digest: str, version: str, ok: bool, payload: Any) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO extracted VALUES (?, ?, ?, ?)",
                              (digest, version, int(ok), json.dumps(payload)))

    def close(self) -> None:
        self.conn.close()


_CACHED_FIELDS = ("text", "title", "council", "committee", "item", "source_url", "see_also", "attribution",
                  "page_starts", "procedural", "extra")


def _default_id(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _to_payload(documents: list[Document], default_id: str) -> list[dict[str, Any]] | None:
    out = []
    for doc in documents:
        if not doc.document_id.startswith(default_id):
            return None  # an id that does not follow the path cannot be rebuilt for a moved file
        item = {name: getattr(doc, name) for name in _CACHED_FIELDS}
        item["see_also"], item["page_starts"] = list(doc.see_also), list(doc.page_starts)
        item["id_suffix"] = doc.document_id[len(default_id):]
        item["date"] = doc.date.text if doc.date else None
        out.append(item)
    return out


def _from_payload(payload: list[dict[str, Any]], default_id: str, path: Path) -> list[Document]:
    from minutes.dates import parse_span

    out = []
    for item in payload:
        fields: dict[str, Any] = {name: item.get(name) for name in _CACHED_FIELDS}
        fields["see_also"], fields["page_starts"] = tuple(fields["see_also"] or ()), tuple(fields["page_starts"] or ())
        fields["extra"] = dict(fields["extra"] or {})
        out.append(Document(document_id=default_id + item.get("id_suffix", ""), path=str(path),
                            date=parse_span(item["date"]) if item.get("date") else None, **fields))
    return out


def _apply_facts(doc: Document, facts: FileFacts, binary: bool) -> tuple[Document, list[str]]:
    """The document with the folder's facts filling its gaps; and the gaps that remain."""
    from minutes.dates import DateError, parse_span

    gaps = list(facts.gaps)
    date = doc.date
    if date is None and facts.date:
        try:
            date = parse_span(facts.date)
        except DateError as exc:
            gaps.append(f"meeting date in metadata.json is not a date ({exc})")
    extra = dict(doc.extra)
    if facts.category and "category" not in extra:
        extra["category"] = facts.category
    doc = replace(
        doc,
        council=doc.council or facts.council,
        committee=doc.committee or facts.committee,
        item=doc.item or facts.item,
        date=date,
        source_url=doc.source_url or facts.source_url,
        title=(facts.title or doc.title) if binary else (doc.title or facts.title),
        attribution=doc.attribution or facts.attribution,
        extra=extra,
    )
    if binary or facts.described:  # a text file's own front matter says what its author knew
        if doc.council is None:
            gaps.append("council not known; add council: to a minutes.yaml or pass --council")
        if doc.date is None:
            gaps.append("meeting date not known")
    return doc, gaps


def load_documents(paths: Iterable[Path], options: IngestOptions | None = None) -> Iterator[Document | Problem]:
    """Every document under `paths`; unreadable files come out as Problems, in order."""
    options = options or IngestOptions()
    roots = [Path(p) for p in paths]
    files = list(iter_files(roots))
    folders = Folders(options.defaults())
    for root in roots:
        if root.is_dir():
            for source, reason in folders.missing_files(root):
                yield Problem(source, reason, kind="gap")
    cache = ExtractionCache(options.cache_path) if options.cache_path else None
    seen: dict[str, Path] = {}
    read_any = False
    try:
        bar = tqdm(files, desc="extracting", unit=" files",
                   disable=None if options.progress is None else not options.progress)
        for path, root in bar:
            options.stats.files += 1
            suffix = path.suffix.lower()
            try:
                data = path.read_bytes()
            except OSError as exc:
                yield Problem(str(path), f"cannot read the file ({exc.strerror or exc})")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                yield Problem(str(path), f"same content as {seen[digest]}; indexed once", kind="duplicate")
                continue
            seen[digest] = path
            version = VERSIONS.get(suffix)
            default_id = _default_id(path, root)
            documents: list[Document] | None = None
            hit = cache.get(digest, version) if cache is not None and version else None
            if hit is not None:
                ok, payload = hit
                options.stats.from_cache += 1
                if not ok:
                    yield Problem(str(path), str(payload))
                    continue
                documents = _from_payload(payload, default_id, path)
            else:
                try:
                    documents = list(READERS[suffix](path, root))
                except Exception as exc:  # one bad file must never stop the rest
                    reason = str(exc).strip() or type(exc).__name__
                    if not isinstance(exc, ValueError):
                        reason = f"{type(exc).__name__}: {reason}"
                    if cache is not None and version:
                        cache.put(digest, version, False, reason)
                    yield Problem(str(path), reason)
                    continue
                options.stats.extracted += version is not None
                if cache is not None and version:
                    payload = _to_payload(documents, default_id)
                    if payload is not None:
                        cache.put(digest, version, True, payload)
            facts = folders.facts(path, root)
            if facts.expected_hash and facts.expected_hash != digest:
                facts.gaps.append("file differs from the hash in metadata.json (another version?)")
            reported: set[str] = set()
            for doc in documents:
                doc, gaps = _apply_facts(doc, facts, binary=version is not None)
                for gap in gaps:
                    if gap not in reported:
                        reported.add(gap)
                        yield Problem(str(path), gap, kind="gap")
                read_any = True
                yield doc
        for source, reason in folders.errors:
            yield Problem(source, reason)
        if not read_any:  # nothing read: say which files were passed over, and what is read
            yield from unread_files(roots)
    finally:
        if cache is not None:
            cache.close()
