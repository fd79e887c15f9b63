"""ModernGov responses → meetings and agenda items. Pure: text in, records out.

Two sources describe the same meeting:

- the web service (`mgWebService.asmx`), XML: `GetCommittees` (committeeid, committeetitle),
  `GetMeetings` (committee → committeemeetings → meeting: meetingid, meetingdate dd/mm/yyyy,
  meetingstatus) and `GetMeeting` (meeting → agendaitems → agendaitem: agendaitemid,
  agendaitemtitle, fulldisplaynumberformat, agendatext, minutesnonemptyhtmlbody,
  decisionnonemptyhtmlbody, isrestricted, linkeddocuments → linkeddoc: attachmentid, title,
  url, isrestricted). The text fields are HTML escaped inside XML; some installs escape them
  once more, so after the XML parser has undone one level the field may still read
  `&lt;p&gt;...` and must be unescaped again before its HTML is read.
- the meeting page (`ieListDocuments.aspx?CId=&MId=`), HTML: `h2.mgSubTitleTxt` "Cabinet -
  Thursday, 30th January, 2025 10.00 am", then `table#mgItemTable` with one row per item:
  `td.mgItemNumberCell`, `p.mgAiTitleTxt`, `div.mgWordPara`, `p.mgSubItemTitleTxt`
  ("Minutes:", "Decision:", "Supporting documents:"), `ul.mgBulletList` of document links.

The shapes follow public ModernGov clients (DemocracyClub's LGSF minutes scrapers and
their recorded fixtures) rather than this parser.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import unquote, urljoin, urlsplit

from minutes.errors import InputError
from minutes.ingest.htmltext import html_to_text, is_gone

HIDDEN_CLASSES = ("mgHide",)  # ModernGov's screen-reader-only text ("ref: 13567", "for item 5")
# Page chrome inside the content: action links ("View the decision for item 4.", "Share this
# item"), file sizes after paper titles, the site's link bars.
CHROME_CLASSES = ("mgHide", "mgFileSize", "mgActionList", "mgLinks", "mgShareLinks", "mgBreadCrumbs")


class ModernGovFormatError(InputError):
    """A response that is not the XML or HTML a ModernGov site sends."""


@dataclass(frozen=True)
class LinkedDoc:
    title: str
    url: str
    attachment_id: str | None = None
    restricted: bool = False


_PROCEDURAL_TITLES = re.compile(
    r"^(?:apologies(?: for absence)?(?: and substitut\w+)?|substitut\w+(?: members)?|"
    r"declarations? of (?:\w+ )*interests?.*|(?:approval of |to approve )?(?:the )?minutes(?: of (?:the )?"
    r"(?:previous|last) meeting.*| of the meeting held on .*| - .*)?|"
    r"(?:any )?(?:other |urgent )+business.*|exclusion of (?:the )?press and public.*|"
    r"(?:motion to )?exclude the press.*|date of (?:the )?next meeting.*)$",
    re.IGNORECASE)
_URGENT = re.compile(r"(?:other |urgent )business", re.IGNORECASE)
_NOTHING_SAID = re.compile(r"^(?:none\.?|nil\.?|no (?:items|urgent business|other business).*|"
                           r"there (?:was|were) no .*|n/?a\.?)$", re.IGNORECASE)
_SCHEDULE_12A = re.compile(r"(?:paragraphs?\s+\d+[^.]{0,40}of\s+part\s+1\s+of\s+schedule\s+12a|"
                           r"exempt\s+information)", re.IGNORECASE)


@dataclass
class AgendaItem:
    title: str
    item_id: str | None = None
    number: str | None = None
    description: str = ""
    minutes: str = ""
    decision: str = ""
    restricted: bool = False
    documents: list[LinkedDoc] = field(default_factory=list)
    item_url: str | None = None

    def label(self) -> str:
        """"5. Title" for plain numbers; minute numbers like "77/21" take no full stop."""
        if not self.number:
            return self.title
        return f"{self.number}{'.' if re.fullmatch(r'[0-9]+[a-z]?', self.number) else ''} {self.title}"

    @property
    def heading_only(self) -> bool:
        """A section heading in the agenda ("Part 1 - Items for decision", numbered 0 or not at all)."""
        return (self.number in (None, "", "0") and not (self.description or self.minutes or self.decision)
                and not self.documents)

    @property
    def procedural(self) -> bool:
        """Apologies, declarations, previous minutes, urgent business with nothing said..."""
        title = re.sub(r"\s+", " ", self.title).strip(" .:")
        if not _PROCEDURAL_TITLES.match(title):
            return False
        if _URGENT.search(title):
            said = " ".join(x for x in (self.minutes, self.decision) if x).strip()
            return not said or bool(_NOTHING_SAID.match(said))
        return True

    def text(self) -> str:
        """The item as a document: title, description, minutes, decision, document titles."""
        parts = [self.title]
        if self.description:
            parts.append(self.description)
        if self.minutes:
            parts.append("Minutes:\n" + self.minutes)
        if self.decision:
            parts.append("Decision:\n" + self.decision)
        public = [d for d in self.documents if not d.restricted]
        if public:
            parts.append("Supporting documents:\n" + "\n".join(f"• {d.title}" for d in public))
        return "\n\n".join(p.strip() for p in parts if p.strip())


@dataclass
class Meeting:
    meeting_id: str | None
    committee_id: str | None
    committee: str | None
    date: str | None  # ISO 8601 day
    url: str | None = None
    status: str | None = None
    time: str | None = None   # as the site writes it: "10.00 am"
    venue: str | None = None
    items: list[AgendaItem] = field(default_factory=list)
    documents: list[LinkedDoc] = field(default_factory=list)  # the meeting's own (agenda pack, minutes)
    redacted: int = 0  # restricted items and papers taken out before the response was cached
    restricted_keys: set[str] = field(default_factory=set)  # doc_keys() of every restricted paper


def doc_keys(url: str, attachment_id: str | None = None) -> set[str]:
    """Hashed identities of a paper (its attachment id; its path and query on any host), so a
    restricted paper is known wherever else it is linked from, without keeping its title."""
    parts = urlsplit(url.strip())
    path = unquote(parts.path).lower()
    at = path.find("documents/")  # the same paper under another base path or host
    path = path[at:] if at >= 0 else path.rsplit("/", 1)[-1]
    keys = {path + ("?" + parts.query.lower() if parts.query else "")}
    if attachment_id:
        keys.add(f"attachment:{attachment_id.strip()}")
    return {hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:20] for key in keys}


# ---------------------------------------------------------------- web service (XML)

def _xml_root(text: str | bytes, what: str):  # type: ignore[no-untyped-def]
    from lxml import etree

    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    except etree.XMLSyntaxError as exc:
        raise ModernGovFormatError(f"malformed XML in {what} ({exc})") from None
    if root is None:
        raise ModernGovFormatError(f"empty XML in {what}")
    return root


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1].lower()


def _child_text(node, name: str) -> str:  # type: ignore[no-untyped-def]
    for child in node:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _children(node, name: str) -> list:  # type: ignore[no-untyped-def]
    return [child for child in node.iter() if _local(child.tag) == name]


def decode_field(value: str) -> str:
    """An HTML text field from the web service as plain text (undoing the second escape too)."""
    value = value or ""
    for _ in range(2):
        if re.search(r"&lt;/?[a-zA-Z]", value) and not re.search(r"<[a-zA-Z/]", value):
            value = html_lib.unescape(value)
    if not value.strip():
        return ""
    return html_to_text(value, HIDDEN_CLASSES)


def decode_title(value: str) -> str:
    """A title field (item, paper) as one line: escapes undone, however many; runs of spaces closed."""
    return " ".join(decode_field(value).split())


def parse_dmy(value: str) -> str | None:
    """ModernGov's dd/mm/yyyy as ISO 8601, or None."""
    value = (value or "").strip()
    for fmt in ("%d/%m/%Y", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _is_true(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def _is_restricted(value: str) -> bool:
    """`isrestricted`: only a clear no is public; an absent field says nothing; anything else is restricted."""
    return value.strip().lower() not in ("", "false", "0", "no")


def parse_committees(xml: str | bytes) -> list[tuple[str, str]]:
    """(committeeid, committeetitle) for each committee of a GetCommittees response."""
    root = _xml_root(xml, "GetCommittees")
    out = []
    for node in _children(root, "committee"):
        cid, title = _child_text(node, "committeeid"), _child_text(node, "committeetitle")
        # Deleted and expired committees (old panels, one-off appointment sub-committees) hold
        # no meetings to fetch: skipping them saves a request each.
        if cid and not _is_true(_child_text(node, "committeedeleted")) \
                and not _is_true(_child_text(node, "committeeexpired")):
            out.append((cid, title))
    return out


def parse_meetings(xml: str | bytes) -> list[Meeting]:
    """Meeting stubs (id, date, status, committee) of a GetMeetings response."""
    root = _xml_root(xml, "GetMeetings")
    out = []
    for committee in _children(root, "committee") or [root]:
        cid, ctitle = _child_text(committee, "committeeid") or None, _child_text(committee, "committeetitle") or None
        for node in _children(committee, "meeting"):
            mid = _child_text(node, "meetingid")
            if mid:
                out.append(Meeting(mid, cid, ctitle, parse_dmy(_child_text(node, "meetingdate")),
                                   status=_child_text(node, "meetingstatus") or None,
                                   time=_child_text(node, "meetingtime") or None))
    return out


def meeting_url(base_url: str, committee_id: str | None, meeting_id: str | None) -> str:
    return f"{base_url.rstrip('/')}/ieListDocuments.aspx?CId={committee_id}&MId={meeting_id}"


def item_url(base_url: str, item_id: str) -> str:
    return f"{base_url.rstrip('/')}/mgAi.aspx?ID={item_id}"


def parse_meeting(xml: str | bytes, base_url: str, stub: Meeting) -> Meeting:
    """A GetMeeting response as a Meeting with its agenda items."""
    root = _xml_root(xml, f"GetMeeting {stub.meeting_id}")
    if _local(root.tag) != "meeting":
        found = _children(root, "meeting")
        if not found:
            raise ModernGovFormatError(f"GetMeeting {stub.meeting_id}: no <meeting> element")
        root = found[0]
    meeting = Meeting(
        meeting_id=_child_text(root, "meetingid") or stub.meeting_id,
        committee_id=stub.committee_id, committee=stub.committee,
        date=parse_dmy(_child_text(root, "meetingdate")) or stub.date,
        status=_child_text(root, "meetingstatus") or stub.status,
        time=_child_text(root, "meetingtime") or stub.time,
        venue=" ".join(_child_text(root, "meetinglocation").split()) or None,
    )
    meeting.url = meeting_url(base_url, meeting.committee_id, meeting.meeting_id)
    meeting.redacted = int(root.get(REDACTED_MARK, "0") or 0)
    meeting.restricted_keys = set((root.get(RESTRICTED_KEYS) or "").split())
    for node in _children(root, "agendaitem"):
        item_id = _child_text(node, "agendaitemid") or None
        number = (_child_text(node, "fulldisplaynumberformat") or _child_text(node, "agendaitemnumber")).rstrip(".")
        docs = []
        for doc in _children(node, "linkeddoc"):
            url = _child_text(doc, "url")
            if url:
                docs.append(LinkedDoc(title=decode_title(_child_text(doc, "title")) or url,
                                      url=urljoin(base_url + "/", url),
                                      attachment_id=_child_text(doc, "attachmentid") or None,
                                      restricted=_is_restricted(_child_text(doc, "isrestricted"))))
        meeting.items.append(AgendaItem(
            title=decode_title(_child_text(node, "agendaitemtitle")) or "(untitled item)",
            item_id=item_id, number=number or None,
            description=decode_field(_child_text(node, "agendatext")),
            minutes=decode_field(_child_text(node, "minutesnonemptyhtmlbody")),
            decision=decode_field(_child_text(node, "decisionnonemptyhtmlbody")),
            restricted=_is_restricted(_child_text(node, "isrestricted")),
            documents=docs, item_url=item_url(base_url, item_id) if item_id else None,
        ))
        item = meeting.items[-1]
        for doc in item.documents:
            if doc.restricted or item.restricted:
                meeting.restricted_keys |= doc_keys(doc.url, doc.attachment_id)
    return meeting


REDACTED_MARK = "minutes-redacted"  # how many restricted items/papers were taken out (attribute, comment)
RESTRICTED_KEYS = "minutes-restricted-keys"  # their papers' doc_keys(), space-separated (attribute)
_REDACTED_COMMENT = re.compile(r"<!-- minutes-redacted: (\d+) -->")


def redact_meeting_xml(xml: bytes) -> bytes:
    """A GetMeeting response without its restricted items and papers, for the raw cache.

    Raises ModernGovFormatError when the XML does not parse: then nothing is cached.
    """
    from lxml import etree

    root = _xml_root(xml, "GetMeeting")
    removed = int(root.get(REDACTED_MARK, "0") or 0)
    keys = set((root.get(RESTRICTED_KEYS) or "").split())
    for kind in ("agendaitem", "linkeddoc"):  # items first: a restricted item's papers go with it
        for node in list(root.iter()):
            if _local(node.tag) == kind and _is_restricted(_child_text(node, "isrestricted")):
                for doc in [node] if kind == "linkeddoc" else _children(node, "linkeddoc"):
                    if url := _child_text(doc, "url"):
                        keys |= doc_keys(url, _child_text(doc, "attachmentid") or None)
                parent = node.getparent()
                if parent is not None:
                    parent.remove(node)
                    removed += 1
    root.set(REDACTED_MARK, str(removed))
    root.set(RESTRICTED_KEYS, " ".join(sorted(keys)))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


# ---------------------------------------------------------------- HTML pages

# "Cabinet - Wednesday, 21st October, 2020 9.30 am"
_HEADING = re.compile(r"^(?P<committee>.+?)\s+-\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),?\s+"
                      r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month>[A-Za-z]+),?\s+(?P<year>\d{4})"
                      r"(?:,?\s+(?P<time>\d{1,2}(?:[.:]\d{2})?\s*[ap]\.?m\.?))?", re.IGNORECASE)
_CHROME_PHRASES = {"share this item", "share this page", "print this item"}
_FILE_SIZE = re.compile(r"\s*\(?(?:PDF|DOC|DOCX|XLSX?|HTML?),?\s+[\d.,]+\s*[KMG]B\)?\s*$", re.IGNORECASE)
_DOC_LINK = re.compile(r"(?:^|/)(?:documents/|mgConvert2PDF\.aspx|ieDecisionDetails)", re.IGNORECASE)
_ITEM_ID = (re.compile(r"mgAi\.aspx\?ID=(\d+)", re.IGNORECASE), re.compile(r"AIId=(\d+)", re.IGNORECASE))


def is_meeting_page(markup: str) -> bool:
    return "mgItemTable" in markup or "mgItemNumberCell" in markup


def is_item_page(markup: str) -> bool:
    return "mgMainTitleTxt" in markup and re.search(r"mgMainTitleTxt[^>]*>\s*Agenda item", markup) is not None


def _date_from_heading(text: str) -> tuple[str | None, str | None, str | None]:
    """(committee, ISO day, time) of a meeting heading."""
    match = _HEADING.match(" ".join(text.split()))
    if not match:
        return None, None, None
    try:
        day = datetime.strptime(f"{match['day']} {match['month']} {match['year']}", "%d %B %Y").date()
    except ValueError:
        return match["committee"].strip(), None, match["time"]
    return match["committee"].strip(), day.isoformat(), match["time"]


def strip_chrome(node) -> None:  # type: ignore[no-untyped-def]
    """Remove, in place, ModernGov's page chrome inside content: hidden text, file sizes, action links."""
    for tag in node.find_all(class_=list(CHROME_CLASSES)):
        if not is_gone(tag):
            tag.decompose()
    phrases = [tag for tag in node.find_all(["a", "li", "p", "span", "div", "button"])
               if len(tag.get_text()) < 40 and " ".join(tag.get_text(" ").split()).lower() in _CHROME_PHRASES]
    for tag in phrases:
        if not is_gone(tag):
            tag.decompose()


def clean_title(text: str) -> str:
    """A title as one line: file sizes dropped, HTML escapes left by a second encoding undone."""
    text = " ".join(text.split())
    while re.search(r"&(?:amp|lt|gt|quot|apos|#\d+);", text):
        text = html_lib.unescape(text)
    return _FILE_SIZE.sub("", text).strip()


def label_value(root, label: str):  # type: ignore[no-untyped-def]
    """The text after a `span.mgLabel` ("Venue: ", "Date of decision: "), and its paragraph."""
    wanted = label.lower().rstrip(": ")
    for span in root.select(".mgLabel"):
        if span.get_text(" ", strip=True).lower().rstrip(": ") != wanted:
            continue
        paragraph = span.find_parent("p") or span.parent
        if paragraph is None:
            return None, None
        whole = " ".join(paragraph.get_text(" ").split())
        prefix = " ".join(span.get_text(" ").split())
        return whole[len(prefix):].strip(" :") or None, paragraph
    return None, None


def _restricted_marked(node) -> bool:  # type: ignore[no-untyped-def]
    for tag in [node, *node.find_all(True)]:
        classes = " ".join(tag.get("class") or []).lower()
        if "restricted" in classes or "exempt" in classes:
            return True
    return False


def _sections(cell, base_url: str | None) -> tuple[str, str, str, list[LinkedDoc]]:  # type: ignore[no-untyped-def]
    """description, minutes, decision and linked documents of one item's content."""
    parts: dict[str, list[str]] = {"description": [], "minutes": [], "decision": [], "documents": []}
    section = "description"
    docs: list[LinkedDoc] = []
    for node in cell.find_all(["p", "div", "ul", "h3", "h4"], recursive=True):
        classes = node.get("class") or []
        if node.find_parent(["div", "ul"], class_=["mgWordPara", "mgBulletList"]) is not None:
            continue  # nested inside a block already read
        label = node.get_text(" ", strip=True).lower().rstrip(":").strip()
        if "mgSubItemTitleTxt" in classes or "mgSubSubTitleTxt" in classes or (
                node.name in ("p", "h3", "h4") and label in ("minutes", "decision", "supporting documents")):
            section = ("minutes" if label.startswith("minute") else "decision" if label.startswith("decision")
                       else "documents" if "document" in label else "description")
            continue
        if ("mgWordPara" in classes or "mgBulletList" in classes) and section != "documents":
            parts[section].append(html_to_text(str(node), HIDDEN_CLASSES))
    for link in cell.find_all("a", href=True):
        href = link["href"]
        if _DOC_LINK.search(href) and "ieDecisionDetails" not in href:
            title = clean_title(link.get_text(" "))
            url = urljoin(base_url, href) if base_url else href
            if all(d.url != url for d in docs):
                attachment = re.search(r"documents/s(\d+)/", href, re.IGNORECASE)
                docs.append(LinkedDoc(title=title or href, url=url,
                                      attachment_id=attachment.group(1) if attachment else None))
    return ("\n".join(parts["description"]).strip(), "\n".join(parts["minutes"]).strip(),
            "\n".join(parts["decision"]).strip(), docs)


def parse_meeting_page(markup: str, page_url: str | None = None) -> Meeting:
    """A meeting page (`ieListDocuments.aspx`) as a Meeting; items keep their page order."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    committee = day = time = None
    for heading in soup.select("h2.mgSubTitleTxt, h1.mgMainTitleTxt, .mgSubTitle h2, h1, h2"):
        committee, day, time = _date_from_heading(heading.get_text(" "))
        if committee:
            break
    ids = re.search(r"CId=(\d+)&(?:amp;)?MId=(\d+)", page_url or "", re.IGNORECASE)
    meeting = Meeting(meeting_id=ids.group(2) if ids else None, committee_id=ids.group(1) if ids else None,
                      committee=committee, date=day, url=page_url, time=time, venue=label_value(soup, "Venue")[0])
    if redacted := _REDACTED_COMMENT.search(markup[:200]):
        meeting.redacted = int(redacted.group(1))
    # The meeting's own papers (agenda frontsheet, printed minutes, decisions): `documents/g<meeting>/`
    for link in soup.find_all("a", href=True):
        href = str(link["href"])
        if re.search(r"(?:^|/)documents/g\d+/", href, re.IGNORECASE):
            url = urljoin(page_url, href) if page_url else href
            for hidden in link.find_all(class_=list(CHROME_CLASSES)):
                hidden.decompose()
            title = clean_title(link.get_text(" ")) or href
            if all(d.url != url for d in meeting.documents):
                meeting.documents.append(LinkedDoc(title=title, url=url))
    table = soup.select_one("table#mgItemTable, table.mgItemTable") or soup
    for row in table.find_all("tr"):
        number_cell = row.find("td", class_="mgItemNumberCell")
        if number_cell is None:
            continue
        cells = [td for td in row.find_all("td", recursive=False) if td is not number_cell]
        if not cells:
            continue
        content = cells[0]
        item_id = None
        row_html = str(row)
        for pattern in _ITEM_ID:
            if found := pattern.search(row_html):
                item_id = found.group(1)
                break
        if item_id is None and (anchor := row.find("a", attrs={"name": re.compile(r"^AI\d+$")})):
            item_id = anchor["name"][2:]
        restricted_mark = _restricted_marked(row)  # before the chrome goes: a class may say so
        strip_chrome(row)
        title_tag = content.find(class_="mgAiTitleTxt")
        title = clean_title((title_tag or content).get_text(" "))
        description, minutes, decision, docs = _sections(content, page_url)
        restricted = restricted_mark or _is_restricted_row(row, content, title)
        base = page_url.split("ieListDocuments")[0] if page_url else None
        item = AgendaItem(
            title=title, item_id=item_id, number=number_cell.get_text(" ", strip=True).rstrip(".") or None,
            description=description, minutes=minutes, decision=decision, restricted=restricted,
            documents=docs, item_url=item_url(base, item_id) if base and item_id else None,
        )
        if title and not item.heading_only:
            meeting.items.append(item)
    return meeting


def _is_restricted_row(row, content, title: str) -> bool:  # type: ignore[no-untyped-def]
    return _restricted_marked(row) or (
        bool(_SCHEDULE_12A.search(content.get_text(" "))) and not title.lower().startswith("exclusion"))


def redact_meeting_page(markup: bytes) -> bytes:
    """A meeting page without the rows of its restricted items, for the raw cache."""
    from bs4 import BeautifulSoup

    text = markup.decode("utf-8", errors="replace")
    if not is_meeting_page(text):
        return markup
    earlier = _REDACTED_COMMENT.search(text[:200])
    removed = int(earlier.group(1)) if earlier else 0
    soup = BeautifulSoup(_REDACTED_COMMENT.sub("", text, count=1), "lxml")
    for row in soup.find_all("tr"):
        number_cell = row.find("td", class_="mgItemNumberCell")
        cells = [td for td in row.find_all("td", recursive=False) if td is not number_cell]
        if number_cell is None or not cells:
            continue
        title_tag = cells[0].find(class_="mgAiTitleTxt")
        title = " ".join((title_tag or cells[0]).get_text(" ").split())
        if _is_restricted_row(row, cells[0], title):
            row.decompose()
            removed += 1
    return f"<!-- {REDACTED_MARK}: {removed} -->\n{soup}".encode()


@dataclass
class ItemPage(AgendaItem):
    committee: str | None = None
    date: str | None = None
    meeting_url: str | None = None


def parse_item_page(markup: str, page_url: str | None = None) -> ItemPage:
    """An agenda-item page (`mgAi.aspx?ID=`): title, meeting, minutes, decision, documents."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    root = soup.find(id="modgov") or soup
    restricted = _restricted_marked(root.find(class_="mgContent") or root)
    strip_chrome(root)
    title_tag = root.select_one("h2.mgSubTitleTxt") or root.find("h2")
    item = ItemPage(title=clean_title(title_tag.get_text(" ")) if title_tag else "(untitled item)")
    for label in root.select("span.mgLabel"):
        if label.get_text(strip=True).lower().startswith("meeting"):
            paragraph = label.parent
            if paragraph is None:
                continue
            link = paragraph.find("a", href=True)
            if link is not None:
                # "30/01/2025 - Cabinet" then "(Item 3.)"
                when, _, committee = link.get_text(" ", strip=True).partition(" - ")
                item.date, item.committee = parse_dmy(when), committee.strip() or None
                href = str(link["href"])
                item.meeting_url = urljoin(page_url, href) if page_url else href
            number = re.search(r"\(Item\s+([^)]+?)\.?\)", paragraph.get_text(" "))
            item.number = number.group(1) if number else None
    if page_url and (found := _ITEM_ID[0].search(page_url)):
        item.item_id = found.group(1)
    content = root.find(class_="mgContent") or root
    item.description, item.minutes, item.decision, item.documents = _sections(content, page_url)
    item.restricted = restricted
    return item


def today() -> date:
    return date.today()
