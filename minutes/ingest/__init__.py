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

And it keeps a hostile file from costing more than its share (issue 17):
- each file is read once; its hash and its extraction come from the same bytes (a private
  snapshot is what the reader opens), so a file changed mid-read cannot be cached wrong;
- PDF, Word and HTML are extracted in a child process with a time and a memory cap
  (sandbox.py); every document is capped in pages, characters and passages (limits.py),
  and each cut is reported with its file;
- symbolic links are not followed (a link out of the folder is reported), and hidden
  folders that are skipped are reported (kind "skipped");
- a text file's front matter is trusted only in the user's own corpus: a paper that a
  metadata.json lists (downloaded, as `minutes import` does) is read as plain text.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from minutes.ingest import limits as caps
from minutes.ingest.folder import IMPORT_MANIFEST, FileFacts, FolderDefaults, Folders
from minutes.ingest.text import read_text_bytes, read_text_document
from minutes.records import Document


@dataclass(frozen=True)
class Problem:
    """A file or URL that was skipped (or indexed with a gap), and why.

    kind: "failed" (not indexed), "duplicate" (same bytes as a file already indexed),
    "gap" (indexed, but metadata is missing: no URL, a file named in metadata is absent...,
    or a cap cut it), "skipped" (a hidden folder or a symbolic link, never read).
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
    limits: caps.Limits = field(default_factory=caps.Limits.from_environment)

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


def scan(paths: Iterable[Path]) -> tuple[list[tuple[Path, Path]], list[Problem]]:
    """(file, root) for every readable file under the given files or folders, sorted; and
    what was skipped: hidden folders, and symbolic links (never followed)."""
    _load_optional_readers()
    files: list[tuple[Path, Path]] = []
    skipped: list[Problem] = []
    for root in paths:
        root = Path(root)
        if root.is_file():
            files.append((root, root.parent))
            continue
        found: list[Path] = []
        for folder, dirs, names in os.walk(root):  # never descends into a linked folder
            here = Path(folder)
            for name in sorted(dirs):
                sub = here / name
                if sub.is_symlink():
                    skipped.append(Problem(str(sub), f"symbolic link to a folder ({_link_target(sub)}); "
                                                     "not followed", kind="skipped"))
                elif name.startswith(".") and _holds_readable(sub):
                    skipped.append(Problem(str(sub), "hidden folder; not indexed", kind="skipped"))
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here / d).is_symlink())
            for name in names:
                path = here / name
                if name.startswith(".") or name.lower() in IGNORED_NAMES or path.suffix.lower() not in READERS:
                    continue
                if path.is_symlink() and root.resolve() not in path.resolve().parents:
                    skipped.append(Problem(str(path), f"symbolic link out of the folder ({_link_target(path)}); "
                                                      "not followed", kind="skipped"))
                    continue
                found.append(path)
        files += [(path, root) for path in sorted(found)]
    return files, skipped


def _holds_readable(folder: Path) -> bool:
    """Whether a skipped folder held a file that would have been read (else it is not worth a line)."""
    for _here, _dirs, names in os.walk(folder):
        if any(Path(n).suffix.lower() in READERS and n.lower() not in IGNORED_NAMES for n in names):
            return True
    return False


def _link_target(path: Path) -> str:
    try:
        return f"to {os.readlink(path)}"
    except OSError:
        return "unreadable"


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, root) for every readable file under the given files or folders, sorted."""
    yield from scan(paths)[0]


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


def _capped(doc: Document, limits: caps.Limits) -> tuple[Document, list[str]]:
    """The document within the character and passage caps, and what was cut."""
    from minutes.chunk import chunk_document

    notes = []
    if len(doc.text) > limits.max_chars:
        notes.append(f"capped: the first {limits.max_chars:,} of {len(doc.text):,} characters indexed (max_chars)")
        doc = replace(doc, text=doc.text[:limits.max_chars],
                      page_starts=tuple(p for p in doc.page_starts if p < limits.max_chars))
    if len(doc.text.split(maxsplit=limits.max_passages)) > limits.max_passages:  # a passage holds a word at least
        passages = chunk_document(doc)
        if len(passages) > limits.max_passages:
            cut = passages[limits.max_passages].char_start
            notes.append(f"capped: the first {limits.max_passages:,} of {len(passages):,} passages indexed "
                         "(max_passages)")
            doc = replace(doc, text=doc.text[:cut].rstrip(), page_starts=tuple(p for p in doc.page_starts if p < cut))
    return doc, notes


class _Extractor:
    """Runs a binary format's reader on a private snapshot of the bytes that were hashed."""

    def __init__(self) -> None:
        self._snapshots = Path(tempfile.mkdtemp(prefix="minutes-extract-"))
        self._sandbox: Any = None

    def extract(self, reader: Reader, data: bytes, path: Path, root: Path,
                limits: caps.Limits) -> tuple[list[Document], list[str]]:
        from minutes.ingest import sandbox

        snapshot = self._snapshots / path.relative_to(root)
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_bytes(data)
        try:
            if sandbox.enabled():
                self._sandbox = self._sandbox or sandbox.Sandbox()
                documents, notes = self._sandbox.extract(reader, snapshot, self._snapshots, limits)
            else:
                with caps.applying(limits) as notes:
                    documents = list(reader(snapshot, self._snapshots))
        finally:
            snapshot.unlink(missing_ok=True)
        return [replace(d, path=str(path)) if d.path == str(snapshot) else d for d in documents], notes

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()
        shutil.rmtree(self._snapshots, ignore_errors=True)


def _downloaded(path: Path, facts: FileFacts) -> bool:
    """A paper fetched from elsewhere (listed in a metadata.json, or in an import's documents/ folder)."""
    return facts.listed or (path.parent.name == "documents" and (path.parent.parent / IMPORT_MANIFEST).is_file())


def load_documents(paths: Iterable[Path], options: IngestOptions | None = None) -> Iterator[Document | Problem]:
    """Every document under `paths`; unreadable files come out as Problems, in order."""
    from minutes.ingest.sandbox import failure_reason

    options = options or IngestOptions()
    limits = options.limits
    roots = [Path(p) for p in paths]
    files, skipped = scan(roots)
    yield from skipped
    folders = Folders(options.defaults())
    for root in roots:
        if root.is_dir():
            for source, reason in folders.missing_files(root):
                yield Problem(source, reason, kind="gap")
    cache = ExtractionCache(options.cache_path) if options.cache_path else None
    extractor = _Extractor()
    seen: dict[str, Path] = {}
    read_any = False
    try:
        bar = tqdm(files, desc="extracting", unit=" files",
                   disable=None if options.progress is None else not options.progress)
        for path, root in bar:
            options.stats.files += 1
            suffix = path.suffix.lower()
            try:
                data = path.read_bytes()  # the only read: hashed and extracted alike
            except OSError as exc:
                yield Problem(str(path), f"cannot read the file ({exc.strerror or exc})")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                yield Problem(str(path), f"same content as {seen[digest]}; indexed once", kind="duplicate")
                continue
            seen[digest] = path
            version = VERSIONS.get(suffix)
            cache_version = f"{version}|{limits.key()}" if version else None
            default_id = _default_id(path, root)
            facts = folders.facts(path, root)
            documents: list[Document] | None = None
            notes: list[str] = []
            hit = cache.get(digest, cache_version) if cache is not None and cache_version else None
            if hit is not None:
                ok, payload = hit
                options.stats.from_cache += 1
                if not ok:
                    yield Problem(str(path), str(payload))
                    continue
                documents = _from_payload(payload["documents"], default_id, path)
                notes = list(payload["notes"])
            else:
                try:
                    if version is None and READERS[suffix] is read_text_document:
                        documents = list(read_text_bytes(data, path, root, trusted=not _downloaded(path, facts)))
                    elif version is None:
                        with caps.applying(limits) as notes:
                            documents = list(READERS[suffix](path, root))
                    else:
                        documents, notes = extractor.extract(READERS[suffix], data, path, root, limits)
                except Exception as exc:  # one bad file must never stop the rest
                    reason = failure_reason(exc)
                    if cache is not None and cache_version and "(max_" not in reason:
                        cache.put(digest, cache_version, False, reason)  # a cap refusal is retried next time
                    yield Problem(str(path), reason)
                    continue
                options.stats.extracted += version is not None
                if cache is not None and cache_version:
                    payload = _to_payload(documents, default_id)
                    if payload is not None:
                        cache.put(digest, cache_version, True, {"documents": payload, "notes": notes})
            if facts.expected_hash and facts.expected_hash != digest:
                facts.gaps.append("file differs from the hash in metadata.json (another version?)")
            reported: set[str] = set()
            for doc in documents:
                doc, cut = _capped(doc, limits)
                doc, gaps = _apply_facts(doc, facts, binary=version is not None)
                for gap in [*notes, *cut, *gaps]:
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
        extractor.close()
        if cache is not None:
            cache.close()
