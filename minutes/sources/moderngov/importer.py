"""Import a ModernGov site's meetings into a folder of documents that `minutes index` reads.

    OUT/                                   one folder per site (e.g. imports/democracy.kent.gov.uk)
      minutes.yaml                         council: NAME (when given)
      <committee>/<date>-m<meeting>/
        item-<n>-<item id>.md              one agenda item: front matter + text
        documents/metadata.json            the linked papers: url, committee, date, item, title
        documents/<attachment>-<title>.pdf

Everything written or deleted stays under OUT: folder and file names are built from ids
that must be plain (letters, digits, `-`, `_`) and from slugs, and every path is checked to
resolve inside OUT before it is touched. Each meeting folder keeps `.minutes-import.json`,
the list of files this importer wrote there; clean-up deletes only files on that list.
Papers are fetched from BASE_URL's host (whatever host a link names), or as written from a
host given with `--allow-host`. One meeting or paper that fails is reported and skipped.

Per meeting: the web service's GetMeeting, or the meeting page (`ieListDocuments.aspx`)
when the service fails (an HTTP error, a time-out, XML that does not parse). Restricted
(exempt, Part 2) items and restricted documents are never written, and a file left by an
earlier import for an item that is now restricted or gone is removed. Procedural items
are written with `procedural: true`. A file is rewritten only when its content changes,
so an unchanged re-import changes nothing and re-embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import yaml

from minutes.errors import InputError
from minutes.ingest import Problem
from minutes.ingest.folder import IMPORT_MANIFEST
from minutes.sources.moderngov.client import Client, FetchError, host_key
from minutes.sources.moderngov.pages import (
    AgendaItem,
    LinkedDoc,
    Meeting,
    ModernGovFormatError,
    doc_keys,
    meeting_url,
    parse_committees,
    parse_meeting,
    parse_meeting_page,
    parse_meetings,
    redact_meeting_page,
    redact_meeting_xml,
)


@dataclass(frozen=True)
class FailedPaper:
    """A linked paper that could not be downloaded: the end-of-run summary lists each."""

    meeting: str      # "Cabinet 2025-01-30"
    owner: str        # "item 5. Short Breaks..." or "the meeting"
    title: str
    url: str
    reason: str

    @property
    def site_failed(self) -> bool:
        """The site did not serve it (no connection, a time-out, an HTTP error), as against a paper
        refused on purpose (over a cap, a redirect loop, another host, an odd name) or a local write error."""
        return _SITE_FAILURE.match(self.reason) is not None


_SITE_FAILURE = re.compile(r"(?:connection failed|timed out|HTTP \d{3})")


@dataclass
class ImportReport:
    committees: int = 0
    meetings: int = 0
    items: int = 0               # public items written (or unchanged)
    procedural: int = 0
    restricted: int = 0          # restricted items and documents, never stored
    documents: int = 0           # linked papers stored
    written: int = 0             # files created or changed this run
    removed: int = 0             # files of items that are gone or now restricted
    via_html: int = 0            # meetings read from the HTML page (service failed)
    failed_papers: list[FailedPaper] = field(default_factory=list)
    meetings_without_papers: list[str] = field(default_factory=list)  # the site served none of their papers
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    out_dir: Path | None = None


MANIFEST = IMPORT_MANIFEST  # in each meeting folder: the files this importer wrote there
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class UnsafeInput(InputError):
    """Something from the site that cannot become a file name or a fetch (an odd id, a path outside OUT)."""


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe form of `text`, cut at a word gap (never inside a word or a date)."""
    value = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    if len(value) > limit:
        cut = value[:limit + 1]
        value = cut[:cut.rfind("-")] if "-" in cut[1:] else value[:limit]
    return value.rstrip("-") or "untitled"


def plain_id(value: str | None, what: str) -> str | None:
    """A site's id as it may appear in a file name: letters, digits, - and _ only; else UnsafeInput."""
    if value is None or _PLAIN_ID.fullmatch(value):
        return value
    raise UnsafeInput(f"{what} {value!r} is not a plain id (letters, digits, - and _)")


def _inside(root: Path, path: Path) -> Path:
    resolved, top = path.resolve(), root.resolve()
    if resolved != top and top not in resolved.parents:
        raise UnsafeInput(f"{path} is outside the import folder {root}")
    return path


def _write_if_changed(path: Path, data: bytes, report: ImportReport) -> None:
    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise
    report.written += 1


def _manifest(folder: Path) -> set[str]:
    try:
        names = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {n for n in names if isinstance(n, str)}


def _front_matter(meta: Mapping[str, object]) -> str:
    clean = {k: v for k, v in meta.items() if v not in (None, "", [], ())}
    return "---\n" + yaml.safe_dump(clean, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def _document_suffix(url: str, content_type: str) -> str:
    path = urlparse(url).path.lower()
    for suffix in (".pdf", ".docx", ".html", ".htm", ".txt"):
        if path.endswith(suffix):
            return suffix
    if "wordprocessingml" in content_type:
        return ".docx"
    if "html" in content_type:
        return ".html"
    return ".pdf"  # mgConvert2PDF.aspx and friends


def categorise(title: str) -> str:
    lowered = title.lower()
    for word, category in (("minute", "minutes"), ("agenda", "agenda"), ("appendix", "appendix"),
                           ("annex", "appendix"), ("decision", "decision"), ("report", "report")):
        if word in lowered:
            return category
    return "other"


class Importer:
    def __init__(self, base_url: str, out_dir: Path, client: Client, *, council: str | None = None,
                 download_documents: bool = True, progress: bool | None = None,
                 document_hosts: tuple[str, ...] | list[str] = ()) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = urlparse(self.base_url).netloc or self.base_url
        # Documents are keyed by the council and ModernGov's own ids, not by the host name,
        # so the same site reached by another name (or port) does not duplicate everything.
        self.site_key = slug(council, 80) if council else (urlparse(self.base_url).hostname or self.host)
        self.document_hosts = {host_key(h) for h in document_hosts}
        client.allow_only({host_key(self.base_url), *self.document_hosts})
        self.out_dir = Path(out_dir)
        self.client, self.council, self.download_documents = client, council, download_documents
        self.progress = progress
        self.report = ImportReport(out_dir=self.out_dir)

    # -- listing ------------------------------------------------------------------

    def _problem(self, source: str, reason: str) -> None:
        self.report.problems.append(Problem(source, reason))

    def committees(self) -> list[tuple[str, str]]:
        url = f"{self.base_url}/mgWebService.asmx/GetCommittees"
        try:
            return parse_committees(self.client.get(url).body)
        except (FetchError, ModernGovFormatError) as exc:
            self._problem(url, f"{getattr(exc, 'reason', exc)}; falling back to the committee list page")
        page = f"{self.base_url}/mgListCommittees.aspx"
        try:
            markup = self.client.get(page).text
        except FetchError as exc:
            self._problem(page, exc.reason)
            return []
        from bs4 import BeautifulSoup

        found: dict[str, str] = {}
        for link in BeautifulSoup(markup, "lxml").find_all("a", href=True):
            if match := re.search(r"mgCommitteeDetails\.aspx\?ID=(\d+)", str(link["href"]), re.IGNORECASE):
                found.setdefault(match.group(1), " ".join(link.get_text(" ").split()))
        return list(found.items())

    def choose(self, committees: list[tuple[str, str]], wanted: list[str]) -> list[tuple[str, str]]:
        if not wanted:
            return committees
        chosen = []
        for want in wanted:
            match = [c for c in committees if c[0] == want.strip() or c[1].lower() == want.strip().lower()]
            if not match:
                names = ", ".join(f"{t} ({i})" for i, t in committees[:20])
                self._problem(want, f"no committee has this id or name; known: {names}")
            chosen += [c for c in match if c not in chosen]
        return chosen

    def meetings(self, committee: tuple[str, str], since: date, until: date) -> list[Meeting]:
        cid, title = committee
        url = (f"{self.base_url}/mgWebService.asmx/GetMeetings?lCommitteeId={cid}"
               f"&sFromDate={since:%d/%m/%Y}&sToDate={until:%d/%m/%Y}")
        try:
            stubs = parse_meetings(self.client.get(url).body)
        except (FetchError, ModernGovFormatError) as exc:
            self._problem(url, f"{getattr(exc, 'reason', exc)}; meetings of {title} not imported")
            return []
        plain = []
        for stub in stubs:
            stub.committee_id = stub.committee_id or cid
            stub.committee = stub.committee or title
            try:
                plain_id(stub.meeting_id, "meeting id")
                plain_id(stub.committee_id, "committee id")
            except UnsafeInput as exc:
                self._problem(url, f"{exc}; meeting skipped")
                continue
            plain.append(stub)
        return [s for s in plain if s.date is None or since.isoformat() <= s.date <= until.isoformat()]

    # -- one meeting --------------------------------------------------------------

    def meeting(self, stub: Meeting) -> Meeting | None:
        """The meeting's items from the web service, or else from its HTML page."""
        url = f"{self.base_url}/mgWebService.asmx/GetMeeting?lMeetingId={stub.meeting_id}"
        page = meeting_url(self.base_url, stub.committee_id, stub.meeting_id)
        try:
            meeting = parse_meeting(self.client.get(url, redact=redact_meeting_xml).body, self.base_url, stub)
        except (FetchError, ModernGovFormatError) as exc:
            service_error = getattr(exc, "reason", None) or str(exc)
        else:
            if self.download_documents:
                # The web service lists each item's papers but not the meeting's own (printed
                # minutes, agenda frontsheet): those are only on the meeting page.
                try:
                    meeting.documents = parse_meeting_page(
                        self.client.get(page, redact=redact_meeting_page).text, page).documents
                except FetchError as exc:
                    self.report.problems.append(Problem(page, f"{exc.reason}; the meeting's own papers (printed "
                                                              "minutes) not imported", kind="gap"))
            return meeting
        try:
            parsed = parse_meeting_page(self.client.get(page, redact=redact_meeting_page).text, page)
        except FetchError as exc:
            self._problem(url, f"{service_error}; meeting page also failed ({exc.reason}); meeting skipped")
            return None
        if not parsed.items:
            self._problem(url, f"{service_error}; meeting page has no agenda items; meeting skipped")
            return None
        self.report.via_html += 1
        parsed.meeting_id, parsed.committee_id = stub.meeting_id, stub.committee_id
        parsed.committee = stub.committee or parsed.committee
        parsed.date = stub.date or parsed.date
        parsed.status = stub.status
        return parsed

    def folder_of(self, meeting: Meeting) -> Path:
        meeting_id = plain_id(meeting.meeting_id, "meeting id")
        plain_id(meeting.committee_id, "committee id")
        return _inside(self.out_dir, self.out_dir / slug(meeting.committee or f"committee-{meeting.committee_id}")
                       / f"{slug(meeting.date or 'undated', 10)}-m{meeting_id}")

    def _restricted(self, meeting: Meeting, doc: LinkedDoc) -> bool:
        """Restricted here, or anywhere else the meeting links the same paper from."""
        return doc.restricted or bool(doc_keys(doc.url, doc.attachment_id) & meeting.restricted_keys)

    def write_meeting(self, meeting: Meeting) -> None:
        folder = self.folder_of(meeting)
        keep: set[Path] = set()
        doc_entries: list[dict[str, object]] = []
        self._document_failed = False
        tried_before, failed_before = self.report.documents, len(self.report.failed_papers)
        self.report.restricted += meeting.redacted
        for position, item in enumerate(meeting.items, 1):
            if item.restricted:
                self.report.restricted += 1
                continue
            if item.heading_only:  # "Part 1 - Items for decision": nothing to search, no paper
                continue
            try:
                keep.add(self.write_item(meeting, item, folder, position))
            except UnsafeInput as exc:
                self._problem(meeting.url or str(meeting.meeting_id), f"{exc}; item skipped")
                continue
            for doc in item.documents:
                if self._restricted(meeting, doc):
                    self.report.restricted += 1
                    continue
                if self.download_documents and (entry := self.fetch_document(meeting, item, doc, folder)):
                    keep.add(folder / "documents" / str(entry["filename"]))
                    doc_entries.append(entry)
        for doc in meeting.documents:  # the meeting's own papers (meeting page only): printed minutes...
            if self._restricted(meeting, doc):
                self.report.restricted += 1
                continue
            if self.download_documents and (entry := self.fetch_document(meeting, None, doc, folder)):
                keep.add(folder / "documents" / str(entry["filename"]))
                doc_entries.append(entry)
        failed = self.report.failed_papers[failed_before:]
        if failed and self.report.documents == tried_before and all(f.site_failed for f in failed):
            self.report.meetings_without_papers.append(self._meeting_name(meeting))
        metadata = folder / "documents" / "metadata.json"
        if doc_entries:
            keep.add(metadata)
            _write_if_changed(metadata, (json.dumps(doc_entries, indent=2, ensure_ascii=False) + "\n").encode(),
                              self.report)
        self._clean_up(folder, {p.relative_to(folder).as_posix() for p in keep})

    def _clean_up(self, folder: Path, keep: set[str]) -> None:
        """Delete what this importer wrote before and no longer writes (items or papers gone or
        restricted now); never a file it did not write, never a path outside the folder."""
        written = _manifest(folder)
        if self._document_failed:  # a paper that failed to download this time keeps its earlier copy
            keep |= {name for name in written if name.startswith("documents/")}
        for name in sorted(written - keep):
            old = folder / name
            try:
                _inside(folder, old)
            except UnsafeInput:
                continue
            if old.is_file() and not old.is_symlink():
                old.unlink()
                self.report.removed += 1
        if keep or written:
            data = (json.dumps({"files": sorted(keep)}, indent=1) + "\n").encode()
            _write_if_changed(folder / MANIFEST, data, ImportReport())  # not counted: not a document

    @staticmethod
    def _meeting_name(meeting: Meeting) -> str:
        return f"{meeting.committee or 'committee ' + str(meeting.committee_id)} {meeting.date or 'undated'} " \
               f"(meeting {meeting.meeting_id})"

    def write_item(self, meeting: Meeting, item: AgendaItem, folder: Path, position: int) -> Path:
        key = plain_id(item.item_id, "agenda item id") or f"p{position}"
        path = _inside(folder, folder / f"item-{slug(item.number or str(position), 10)}-{key}.md")
        source = item.item_url or (f"{meeting.url}#AI{item.item_id}" if item.item_id else meeting.url)
        meta = {
            "document_id": f"moderngov/{self.site_key}/{meeting.meeting_id}/{key}",
            "title": item.title,
            "council": self.council,
            "committee": meeting.committee,
            "item": item.label(),
            "date": meeting.date,
            "source_url": source,
            "see_also": [meeting.url] if meeting.url and meeting.url != source else [],
            "procedural": True if item.procedural else None,
            "meeting_id": meeting.meeting_id,
            "item_id": item.item_id,
            "meeting_url": meeting.url,
            "meeting_time": meeting.time,
            "venue": meeting.venue,
        }
        body = item.text() + "\n"
        _write_if_changed(path, (_front_matter(meta) + body).encode("utf-8"), self.report)
        self.report.items += 1
        self.report.procedural += item.procedural
        return path

    def fetch_url(self, url: str) -> str:
        """Where a paper is fetched from: BASE_URL's host, whatever host the link names, unless
        that host was allowed with --allow-host (a council's own document server)."""
        parts = urlparse(url)
        try:
            httpx.URL(url)
        except (httpx.InvalidURL, ValueError) as exc:
            raise UnsafeInput(f"not a valid URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise UnsafeInput(f"not an http(s) link ({parts.scheme or 'no'} scheme)")
        if host_key(url) in self.document_hosts:
            return url
        base = urlparse(self.base_url)
        return parts._replace(scheme=base.scheme, netloc=base.netloc).geturl()

    def fetch_document(self, meeting: Meeting, item: AgendaItem | None, doc: LinkedDoc,
                       folder: Path) -> dict[str, object] | None:
        owner = f"item {item.label()}" if item else f"meeting {meeting.meeting_id}"
        try:
            url = self.fetch_url(doc.url)
            if (kept := self._earlier_copy(folder, url)) is not None:  # a published paper never changes
                self.report.documents += 1
                return {**kept, "title": doc.title, "committee": meeting.committee, "meeting_date": meeting.date,
                        "document_category": categorise(doc.title), "item": item.label() if item else None,
                        "item_url": item.item_url if item else None, "meeting_url": meeting.url}
            response = self.client.get(url, store=False)  # kept in the import folder, not twice
        except (FetchError, UnsafeInput, ValueError) as exc:
            self._document_failed = True
            reason = str(getattr(exc, "reason", exc))
            self._problem(doc.url, f"{reason}; document '{doc.title}' of {owner} not imported")
            self.report.failed_papers.append(FailedPaper(self._meeting_name(meeting),
                                                         f"item {item.label()}" if item else "the meeting",
                                                         doc.title, doc.url, reason))
            return None
        stem = unquote(urlparse(url).path.rsplit("/", 1)[-1])
        stem = stem.rsplit(".", 1)[0] if "." in stem and not stem.lower().endswith(".aspx") else doc.title
        folder_key = re.search(r"documents/([gs]\d+)/", url, re.IGNORECASE)
        attachment = doc.attachment_id if doc.attachment_id and _PLAIN_ID.fullmatch(doc.attachment_id) else None
        key = attachment or (folder_key.group(1).lower() if folder_key else
                             hashlib.sha256(url.encode()).hexdigest()[:10])
        name = f"{key}-{slug(stem or doc.title, 80)}" + _document_suffix(url, response.content_type)
        try:
            _write_if_changed(_inside(folder, folder / "documents" / name), response.body, self.report)
        except (OSError, UnsafeInput) as exc:
            self._document_failed = True
            reason = f"cannot write {name} ({getattr(exc, 'strerror', None) or exc})"
            self._problem(url, f"{reason}; document '{doc.title}' of {owner} not imported")
            self.report.failed_papers.append(FailedPaper(self._meeting_name(meeting),
                                                         f"item {item.label()}" if item else "the meeting",
                                                         doc.title, url, reason))
            return None
        self.report.documents += 1
        return {"filename": name, "url": url, "title": doc.title, "committee": meeting.committee,
                "meeting_date": meeting.date, "document_category": categorise(doc.title),
                "item": item.label() if item else None, "item_url": item.item_url if item else None,
                "meeting_url": meeting.url}

    def _earlier_copy(self, folder: Path, url: str) -> dict[str, object] | None:
        """The entry of a paper an earlier import fetched from `url` and wrote here, if its file is still there."""
        if getattr(self, "_earlier_folder", None) != folder:
            self._earlier_folder, self._earlier = folder, {}
            written = _manifest(folder)
            try:
                entries = json.loads((folder / "documents" / "metadata.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                entries = []
            for entry in entries if isinstance(entries, list) else []:
                name = entry.get("filename") if isinstance(entry, dict) else None
                if isinstance(name, str) and f"documents/{name}" in written and isinstance(entry.get("url"), str):
                    self._earlier[entry["url"]] = {"filename": name, "url": entry["url"]}
        kept = self._earlier.get(url)
        if kept is None:
            return None
        path = folder / "documents" / str(kept["filename"])
        try:
            _inside(folder, path)
        except UnsafeInput:
            return None
        return kept if path.is_file() and not path.is_symlink() else None

    # -- the whole run ------------------------------------------------------------

    def run(self, wanted: list[str], since: date, until: date,
            on_meeting: Callable[[Meeting], None] | None = None) -> ImportReport:
        from tqdm import tqdm

        started = time.perf_counter()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.council:
            _write_if_changed(self.out_dir / "minutes.yaml",
                              yaml.safe_dump({"council": self.council}, allow_unicode=True).encode(), self.report)
        chosen = self.choose(self.committees(), wanted)
        self.report.committees = len(chosen)
        stubs = [m for c in chosen for m in self.meetings(c, since, until)]
        stubs = [m for m in stubs if (m.status or "").lower() not in ("cancelled", "canceled")]
        disable = None if self.progress is None else not self.progress
        for stub in tqdm(stubs, desc="downloading", unit=" meetings", disable=disable):
            try:
                meeting = self.meeting(stub)
                if meeting is None:
                    continue
                self.write_meeting(meeting)
            except Exception as exc:  # one bad meeting (odd ids, deep markup, a full disk) never ends the run
                reason = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
                if not isinstance(exc, UnsafeInput | OSError):
                    reason = f"{type(exc).__name__}: {reason}"
                self._problem(meeting_url(self.base_url, stub.committee_id, stub.meeting_id),
                              f"{reason}; meeting skipped")
                continue
            self.report.meetings += 1
            if on_meeting:
                on_meeting(meeting)
        self.report.seconds = round(time.perf_counter() - started, 2)
        return self.report


def default_window(since: date | None, until: date | None) -> tuple[date, date]:
    until = until or date.today()
    return since or until - timedelta(days=365), until
