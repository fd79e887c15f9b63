"""What the folders say about the files in them: `metadata.json` and `minutes.yaml`.

Downloaded council papers rarely carry their own metadata; the folder around them does.

`metadata.json` (a list of entries, as the Kent papers and `minutes import` write it)
describes files: `filename`, `path` (relative to some root; matched by its tail),
`url`, `committee`, `meeting_date`, `document_category`, `title`, `item`, `hash`. Entries are read
from the file's own folder and every folder above it up to the indexed root; the nearest
entry wins and farther ones fill its gaps (Kent keeps a bare list beside the PDFs and the
URLs one level up). A folder whose entries all agree on committee and meeting date is a
meeting folder, and those facts hold for every file under it, listed or not.

`minutes.yaml` (placed by the person who downloaded the papers, in the folder or any
folder above it) states what no entry records:

    council: Kent County Council
    committee: Cabinet                  # for every file below, when entries give none
    committees:                         # names for the folder's committee codes
      full_council: County Council
      cabinet: Cabinet

`minutes index --council NAME --committee-name CODE=NAME` does the same from the command
line, as if a minutes.yaml with those fields sat above every PATH (a minutes.yaml in the
folders wins over it).

Nothing is guessed: a file with no source URL, no council, committee or date is indexed
without it and reported as a gap; an entry naming a file that is not there is reported too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from minutes.errors import InputError
from minutes.ingest.text import safe_yaml

SIDECAR = "minutes.yaml"
METADATA = "metadata.json"
IMPORT_MANIFEST = ".minutes-import.json"  # what `minutes import` wrote in a meeting folder


@dataclass(frozen=True)
class FolderDefaults:
    """minutes.yaml fields (or the same given on the command line)."""

    council: str | None = None
    committee: str | None = None
    committees: dict[str, str] = field(default_factory=dict)
    attribution: str | None = None

    def over(self, lower: FolderDefaults) -> FolderDefaults:
        """These defaults with `lower` filling their gaps."""
        return FolderDefaults(council=self.council or lower.council, committee=self.committee or lower.committee,
                              committees=lower.committees | self.committees,
                              attribution=self.attribution or lower.attribution)


@dataclass
class FileFacts:
    """What the folders say about one file; `gaps` lists what nobody says."""

    council: str | None = None
    committee: str | None = None
    date: str | None = None
    title: str | None = None
    source_url: str | None = None
    category: str | None = None
    item: str | None = None
    attribution: str | None = None
    expected_hash: str | None = None
    described: bool = False  # some metadata.json speaks of the file or its meeting folder
    listed: bool = False     # a metadata.json entry names the file: a paper from elsewhere
    gaps: list[str] = field(default_factory=list)


class MetadataError(InputError):
    pass


def _load_json(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MetadataError(f"{path} is not valid JSON ({exc})") from None
    if isinstance(data, dict):
        data = data.get("documents") or data.get("files") or [data]
    if not isinstance(data, list):
        raise MetadataError(f"{path} must hold a list of file entries")
    return [entry for entry in data if isinstance(entry, dict)]


def _load_yaml(path: Path) -> FolderDefaults:
    try:
        data = safe_yaml(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise MetadataError(f"{path} is not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise MetadataError(f"{path} must be a mapping (council:, committee:, committees:)")
    committees = data.get("committees") or {}
    if not isinstance(committees, dict):
        raise MetadataError(f"{path}: committees must map a folder's committee code to its name")
    text = {k: (str(v).strip() or None) if v is not None else None for k, v in data.items() if k != "committees"}
    return FolderDefaults(council=text.get("council"), committee=text.get("committee"),
                          committees={str(k): str(v) for k, v in committees.items()},
                          attribution=text.get("attribution"))


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


class Folders:
    """Reads and remembers the metadata files of the folders it is asked about."""

    def __init__(self, defaults: FolderDefaults | None = None) -> None:
        self.defaults = defaults or FolderDefaults()
        self._entries: dict[Path, list[dict[str, Any]]] = {}
        self._sidecars: dict[Path, FolderDefaults | None] = {}
        self.errors: list[tuple[str, str]] = []  # (metadata file, reason)

    def entries(self, folder: Path) -> list[dict[str, Any]]:
        if folder not in self._entries:
            path = folder / METADATA
            entries: list[dict[str, Any]] = []
            if path.is_file():
                try:
                    entries = _load_json(path)
                except MetadataError as exc:
                    self.errors.append((str(path), str(exc)))
            self._entries[folder] = entries
        return self._entries[folder]

    def sidecar(self, folder: Path) -> FolderDefaults | None:
        if folder not in self._sidecars:
            path = folder / SIDECAR
            value = None
            if path.is_file():
                try:
                    value = _load_yaml(path)
                except MetadataError as exc:
                    self.errors.append((str(path), str(exc)))
            self._sidecars[folder] = value
        return self._sidecars[folder]

    def _chain(self, file: Path, root: Path) -> list[Path]:
        """The file's folder and each one above it, up to and including root."""
        folders, folder = [], file.parent
        while True:
            folders.append(folder)
            if folder == root or folder.parent == folder or root not in folder.parents:
                break
            folder = folder.parent
        return folders

    def defaults_for(self, file: Path, root: Path) -> FolderDefaults:
        merged = FolderDefaults()
        for folder in self._chain(file, root):  # nearest first: it wins
            if (found := self.sidecar(folder)) is not None:
                merged = merged.over(found) if merged != FolderDefaults() else found
        return merged.over(self.defaults)

    @staticmethod
    def _matches(entry: dict[str, Any], file: Path, folder: Path) -> bool:
        rel = _clean(entry.get("path"))
        if rel:
            rel = rel.replace("\\", "/").lstrip("./")
            if file.as_posix().endswith("/" + rel) or file.as_posix() == rel:
                return True
        return _clean(entry.get("filename")) == file.name and (folder == file.parent or not rel)

    def facts(self, file: Path, root: Path) -> FileFacts:
        file, root = file.absolute(), root.absolute()
        found: dict[str, str | None] = {}
        meeting: dict[str, str | None] = {}
        listed = False
        for folder in self._chain(file, root):
            entries = self.entries(folder)
            for entry in entries:
                if self._matches(entry, file, folder):
                    listed = True
                    for key in ("url", "committee", "meeting_date", "document_category", "title", "hash", "item"):
                        if found.get(key) is None:
                            found[key] = _clean(entry.get(key))
            for key in ("committee", "meeting_date"):
                values = {_clean(e.get(key)) for e in entries}
                if entries and len(values) == 1 and meeting.get(key) is None:
                    meeting[key] = values.pop()
        defaults = self.defaults_for(file, root)
        committee_code = found.get("committee") or meeting.get("committee")
        facts = FileFacts(
            council=defaults.council,
            committee=(defaults.committees.get(committee_code, committee_code) if committee_code
                       else defaults.committee),
            date=found.get("meeting_date") or meeting.get("meeting_date"),
            title=found.get("title"), source_url=found.get("url"), category=found.get("document_category"),
            item=found.get("item"),
            attribution=defaults.attribution, expected_hash=found.get("hash"),
        )
        facts.listed = listed
        any_metadata = facts.described = listed or bool(meeting)
        if any_metadata and not facts.source_url:
            facts.gaps.append("no source URL in metadata.json" if listed else "not listed in metadata.json")
        if committee_code and committee_code not in defaults.committees and committee_code == committee_code.lower() \
                and " " not in committee_code:
            facts.gaps.append(f"committee code '{committee_code}' has no name; add committees: in minutes.yaml "
                              f"or --committee-name {committee_code}=NAME")
        return facts

    def missing_files(self, root: Path) -> list[tuple[str, str]]:
        """(path, reason) for each metadata.json entry under root whose file is not there."""
        root = root.absolute()
        seen: set[str] = set()
        out = []
        for meta in sorted(root.rglob(METADATA)):
            folder = meta.parent
            for entry in self.entries(folder):
                name = _clean(entry.get("filename"))
                rel = _clean(entry.get("path"))
                if not name and not rel:
                    continue
                candidates = [folder / name] if name else []
                if rel:
                    rel = rel.replace("\\", "/").lstrip("./")
                    candidates += [base / rel for base in (folder, *folder.parents)]
                if any(c.is_file() for c in candidates):
                    continue
                key = rel or str(folder / (name or ""))
                if key in seen:
                    continue
                seen.add(key)
                out.append((key, f"listed in {meta} but the file is missing"))
        return out
