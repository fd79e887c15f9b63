from datetime import date

import pytest

from minutes.dates import DateError, parse_filter_date, parse_span


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2019-11-07", date(2019, 11, 7), date(2019, 11, 7)),
    ("2014-09", date(2014, 9, 1), date(2014, 9, 30)),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
    ("2016", date(2016, 1, 1), date(2016, 12, 31)),
    ("2023-10/2023-11", date(2023, 10, 1), date(2023, 11, 30)),
    ("2017-11/2018-01", date(2017, 11, 1), date(2018, 1, 31)),
])
def test_spans(text: str, start: date, end: date) -> None:
    span = parse_span(text)
    assert (span.text, span.start, span.end) == (text, start, end)


@pytest.mark.parametrize(("text", "message"), [
    ("2019-13", "not a real date"),
    ("07/11/2019", "is not a date"),
    ("yesterday", "is not a date"),
    ("2019-11/2019-01", "ends before it starts"),
    ("2019-02-30", "not a real date"),
])
def test_bad_dates(text: str, message: str) -> None:
    with pytest.raises(DateError, match=message):
        parse_span(text)


def test_overlap_uses_the_whole_interval() -> None:
    span = parse_span("2023-10/2023-11")
    assert span.overlaps(date(2023, 11, 15), None)
    assert span.overlaps(None, date(2023, 10, 1))
    assert not span.overlaps(date(2023, 12, 1), None)
    assert not span.overlaps(None, date(2023, 9, 30))


def test_filter_bounds() -> None:
    assert parse_filter_date("2019") == date(2019, 1, 1)
    assert parse_filter_date("2019", end=True) == date(2019, 12, 31)
    assert parse_filter_date("2019-11", end=True) == date(2019, 11, 30)
