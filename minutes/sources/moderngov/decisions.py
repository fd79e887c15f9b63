"""ModernGov decision pages → decisions. Pure: markup in, records out.

ModernGov's web service has no decisions method, so decisions live only in pages:

- `ieDecisionDetails.aspx?ID=` ("Decision details"): `h2.mgSubTitleTxt` the title, then
  `span.mgLabel` lines ("Decision Maker:" or, on other installs, only "Decided at meeting:"
  with a link "19/10/2015 - Policy Committee" to the meeting page; "Decision status:",
  "Is Key decision?:", "Is subject to call in?:", "Publication date:", "Date of decision:",
  dd/mm/yyyy), `h3.mgSubSubTitleTxt` sections ("Purpose:", "Decision:", "Reasons for the
  decision:", "Alternative options considered:") each followed by a `div.mgWordPara`, and
  "Accompanying Documents:" with a `ul.mgBulletList` of papers (`span.mgFileSize` inside).
- `mgDelegatedDecisions.aspx` (and `mgListOfficerDecisions.aspx`), the decisions list: a
  table whose rows link to `ieDecisionDetails.aspx?ID=`, the link text ending in a hidden
  `<span class="mgHide"> ref: 13567</span>`; columns named by the header row (Title, Date,
  Effective from, Call-ins).

The shapes follow DemocracyClub's LGSF decisions scraper and its recorded Kirklees pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from minutes.ingest.htmltext import html_to_text
from minutes.sources.moderngov.pages import (
    HIDDEN_CLASSES,
    LinkedDoc,
    clean_title,
    label_value,
    parse_dmy,
    strip_chrome,
)

_DECISION_LINK = re.compile(r"ieDecisionDetails\.aspx\?(?:[^\"'#]*?&(?:amp;)?)?ID=(\d+)", re.IGNORECASE)
# The sections a decision page may carry, in the order a reader wants them.
SECTIONS = ("purpose", "decision", "reasons for the decision", "alternative options considered",
            "interests and dispensations")


def is_decision_page(markup: str) -> bool:
    return re.search(r"mgMainTitleTxt[^>]*>\s*Decision details", markup) is not None or (
        "mgLabel" in markup and re.search(r"Date of decision\s*:", markup) is not None)


def is_decisions_list(markup: str) -> bool:
    return _DECISION_LINK.search(markup) is not None and "mgItemTable" not in markup


def _yes_no(value: str | None) -> bool | None:
    return None if value is None else value.strip().lower().startswith("yes")


@dataclass
class Decision:
    title: str
    decision_id: str | None = None
    url: str | None = None
    decision_maker: str | None = None
    committee: str | None = None       # when decided at a meeting
    meeting_url: str | None = None
    status: str | None = None
    key_decision: bool | None = None
    call_in: bool | None = None
    date: str | None = None            # ISO day the decision was taken
    published: str | None = None
    sections: dict[str, str] = field(default_factory=dict)   # "purpose", "decision", ...
    documents: list[LinkedDoc] = field(default_factory=list)
    listed: dict[str, str] = field(default_factory=dict)     # a list row's other columns

    def text(self) -> str:
        """The decision as a document: title, its facts, then its sections; "Decision:" marks the resolution."""
        facts = [("Decision maker", self.decision_maker), ("Decided at meeting", self.committee),
                 ("Decision status", self.status),
                 ("Key decision", None if self.key_decision is None else "Yes" if self.key_decision else "No"),
                 ("Subject to call-in", None if self.call_in is None else "Yes" if self.call_in else "No"),
                 ("Date of decision", self.date), ("Published", self.published), *self.listed.items()]
        parts = [self.title, "\n".join(f"{name}: {value}" for name, value in facts if value)]
        for name, body in self.sections.items():
            parts.append(f"{name[:1].upper()}{name[1:]}:\n{body}")
        if self.documents:
            parts.append("Supporting documents:\n" + "\n".join(f"• {d.title}" for d in self.documents))
        return "\n\n".join(p.strip() for p in parts if p.strip())


def parse_decision_page(markup: str, page_url: str | None = None) -> Decision:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    root = soup.find(id="modgov") or soup
    content = root.find(class_="mgContent") or root
    heading = root.select_one("h2.mgSubTitleTxt")
    decision = Decision(title=clean_title(heading.get_text(" ")) if heading else "(untitled decision)", url=page_url)
    if page_url and (found := _DECISION_LINK.search(page_url)):
        decision.decision_id = found.group(1)
    decision.decision_maker = label_value(content, "Decision Maker")[0]
    when, paragraph = label_value(content, "Decided at meeting")
    if paragraph is not None and (link := paragraph.find("a", href=True)) is not None:
        # "19/10/2015 - Policy Committee"
        _day, _, committee = " ".join(link.get_text(" ").split()).partition(" - ")
        decision.committee = committee.strip() or when
        decision.meeting_url = urljoin(page_url, str(link["href"])) if page_url else str(link["href"])
    elif when:
        decision.committee = when
    decision.status = label_value(content, "Decision status")[0]
    decision.key_decision = _yes_no(label_value(content, "Is Key decision?")[0])
    decision.call_in = _yes_no(label_value(content, "Is subject to call in?")[0])
    decision.date = parse_dmy(label_value(content, "Date of decision")[0] or "")
    decision.published = parse_dmy(label_value(content, "Publication date")[0] or "")
    for title in content.select("h3.mgSubSubTitleTxt"):
        name = " ".join(title.get_text(" ").split()).rstrip(": ").lower()
        block = title.find_next_sibling()
        if block is None or block.name in ("h3", "p") and "mgLabel" in (block.get("class") or ()):
            continue
        body = html_to_text(str(block), HIDDEN_CLASSES)
        if body:
            decision.sections[name] = body
    decision.sections = {name: decision.sections[name] for name in
                         sorted(decision.sections, key=lambda n: SECTIONS.index(n) if n in SECTIONS else 99)}
    strip_chrome(content)
    for link in content.select("ul.mgBulletList a[href]"):
        url = urljoin(page_url, str(link["href"])) if page_url else str(link["href"])
        attachment = re.search(r"documents/s(\d+)/", url, re.IGNORECASE)
        decision.documents.append(LinkedDoc(title=clean_title(link.get_text(" ")) or url, url=url,
                                            attachment_id=attachment.group(1) if attachment else None))
    return decision


def parse_decisions_list(markup: str, page_url: str | None = None) -> list[Decision]:
    """One Decision per row of a decisions list: title, decision page, date and the row's other columns."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    out: list[Decision] = []
    seen: set[str] = set()
    for link in soup.find_all("a", href=True):
        found = _DECISION_LINK.search(str(link["href"]))
        if not found or found.group(1) in seen:
            continue
        seen.add(found.group(1))
        strip_chrome(link)  # the hidden " ref: 13567"
        url = urljoin(page_url, str(link["href"])) if page_url else str(link["href"])
        decision = Decision(title=clean_title(link.get_text(" ")), decision_id=found.group(1), url=url)
        row = link.find_parent("tr")
        table = row.find_parent("table") if row is not None else None
        if row is not None and table is not None:
            names = [" ".join(th.get_text(" ").split()) for th in table.select("thead th")] or \
                [" ".join(th.get_text(" ").split()) for th in table.find_all("th")]
            cells = [" ".join(td.get_text(" ").split()) for td in row.find_all("td", recursive=False)]
            for name, value in zip(names[1:], cells[1:], strict=False):
                if not value:
                    continue
                if decision.date is None and name.lower() == "date" and (day := parse_dmy(value)):
                    decision.date = day
                else:
                    decision.listed[name] = value
        out.append(decision)
    return out
