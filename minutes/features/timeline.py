"""What was said about a topic, over time: counts per period and passages grouped by meeting.

Pure data; the chart's geometry belongs to the web layer (minutes/web/chart.py). A passage
counts in every period its meeting date overlaps, because the date filter matches on overlap:
a bar's count is what following its link shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from minutes.features.browse import hit_span
from minutes.records import Hit

MAX_MONTH_BARS = 36      # beyond this span, periods are years


@dataclass(frozen=True)
class Period:
    label: str            # "2019" or "2019-11": also the value of the date filters for its link
    start: date
    end: date
    count: int


@dataclass(frozen=True)
class MeetingGroup:
    date: str | None
    council: str | None
    committee: str | None
    hits: list[Hit]


def _month_periods(first: date, last: date) -> list[tuple[str, date, date]]:
    out, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        following = date(year + month // 12, month % 12 + 1, 1)
        out.append((f"{year:04d}-{month:02d}", date(year, month, 1), date.fromordinal(following.toordinal() - 1)))
        year, month = following.year, following.month
    return out


def periods(hits: list[Hit]) -> list[Period]:
    """Consecutive periods (months over short spans, else years) from the first to the last meeting."""
    spans = [s for s in (hit_span(h) for h in hits) if s is not None]
    if not spans:
        return []
    first, last = min(s.start for s in spans), max(s.end for s in spans)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months <= MAX_MONTH_BARS:
        slots = _month_periods(first, last)
    else:
        slots = [(str(y), date(y, 1, 1), date(y, 12, 31)) for y in range(first.year, last.year + 1)]
    return [Period(label, start, end, sum(1 for s in spans if s.start <= end and s.end >= start))
            for label, start, end in slots]


def by_meeting(hits: list[Hit]) -> list[MeetingGroup]:
    """Passages grouped by meeting (council, committee, date), oldest meeting first."""
    groups: dict[tuple[str | None, str | None, str | None], list[Hit]] = {}
    for hit in hits:
        doc = hit.document
        groups.setdefault((doc.date, doc.council, doc.committee), []).append(hit)

    def when(key: tuple[str | None, str | None, str | None]) -> tuple[int, date, str, str]:
        span = hit_span(groups[key][0])
        return (span is None, span.start if span else date.max, key[1] or "", key[2] or "")

    ordered = sorted(groups, key=when)
    return [MeetingGroup(key[0], key[1], key[2],
                         sorted(groups[key], key=lambda h: (h.document.document_id, h.passage.ordinal)))
            for key in ordered]
