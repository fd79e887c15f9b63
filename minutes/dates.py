"""ISO 8601 dates as council sources know them: a day, a month, a year, or an interval."""

from __future__ import annotations

import calendar
import re
from datetime import date

from minutes.errors import DateError
from minutes.records import DateSpan

_PART = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _bounds(part: str) -> tuple[date, date]:
    match = _PART.match(part.strip())
    if not match:
        raise DateError(f"'{part}' is not a date; use YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None
    try:
        if month is None:
            return date(year, 1, 1), date(year, 12, 31)
        if day is None:
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        exact = date(year, month, day)
    except ValueError as exc:
        raise DateError(f"'{part}' is not a real date ({exc})") from None
    return exact, exact


def parse_span(text: str) -> DateSpan:
    """Parse `2019-11-07`, `2014-09`, `2014` or `2023-10/2023-11` into a DateSpan."""
    text = str(text).strip()
    if "/" in text:
        first, _, last = text.partition("/")
        start, _ = _bounds(first)
        _, end = _bounds(last)
        if end < start:
            raise DateError(f"'{text}' ends before it starts")
        return DateSpan(text, start, end)
    start, end = _bounds(text)
    return DateSpan(text, start, end)


def parse_filter_date(text: str, *, end: bool = False) -> date:
    """A filter bound: `2019`, `2019-11` or `2019-11-07`; `end` takes the last day it covers."""
    start, last = _bounds(text)
    return last if end else start
