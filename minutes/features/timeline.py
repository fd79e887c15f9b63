"""What was said about a topic, over time: counts per period and passages grouped by meeting.

Pure data and geometry; the page draws the SVG from it with its template engine, which
escapes every label. A passage counts in every period its meeting date overlaps, because
the date filter matches on overlap: a bar's count is what following its link shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from minutes.features.browse import hit_span
from minutes.records import Hit

MAX_MONTH_BARS = 36      # beyond this span, periods are years
CHART_WIDTH, CHART_HEIGHT = 640, 180
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 16, 146, 36


@dataclass(frozen=True)
class Period:
    label: str            # "2019" or "2019-11": also the value of the date filters for its link
    start: date
    end: date
    count: int


@dataclass(frozen=True)
class Bar:
    period: Period
    x: float
    y: float
    width: float
    height: float
    href: str | None      # None for an empty period


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]      # (y, count) gridlines
    labels: list[tuple[float, str]]     # (x centre, text) under the bars, thinned to fit
    baseline: float
    maximum: int


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


def chart(buckets: list[Period], href: Callable[[Period], str], width: int = CHART_WIDTH,
          max_labels: int = 12) -> Chart:
    """Bar geometry in a `width` x CHART_HEIGHT viewBox; `href(period)` links a bar to its results."""
    maximum = max((p.count for p in buckets), default=0)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    slot = (width - PLOT_LEFT - 8) / max(len(buckets), 1)
    bar_width = max(min(slot * 0.7, 48.0), 2.0)
    bars = []
    for i, period in enumerate(buckets):
        height = plot_height * period.count / maximum if maximum else 0.0
        x = PLOT_LEFT + i * slot + (slot - bar_width) / 2
        bars.append(Bar(period, round(x, 1), round(PLOT_BOTTOM - height, 1), round(bar_width, 1), round(height, 1),
                        href(period) if period.count else None))
    step = max(1, -(-maximum // 4))
    ticks = [(round(PLOT_BOTTOM - plot_height * n / maximum, 1), n) for n in range(0, maximum + 1, step)] \
        if maximum else []
    every = max(1, -(-len(buckets) // max_labels))  # thin the labels under the axis to fit
    labels = [(round(b.x + b.width / 2, 1), b.period.label) for i, b in enumerate(bars) if i % every == 0]
    return Chart(width, CHART_HEIGHT, bars, ticks, labels, PLOT_BOTTOM, maximum)


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
