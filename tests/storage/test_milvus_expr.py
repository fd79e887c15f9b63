"""Filters as Milvus expressions, the backend address, and server capabilities (no server needed;
the same expressions run against real servers in test_milvus_backend.py)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from minutes.errors import QueryError
from minutes.records import Filters
from minutes.storage.milvus.backend import MilvusLocation
from minutes.storage.milvus.expr import both, filter_expression, fold, id_list, quote
from minutes.storage.milvus.schema import server_has_bm25

HOSTILE = ['a "quoted" name', "back\\slash", 'ends with \\', 'new\nline', "\x00nul", '") or (id >= 0', "'single'",
           "ünïcødé “smart” – 中文 😀", "{placeholder}", "\u2028"]


def _literal_end(literal: str) -> int:
    """Where a double-quoted literal ends, reading escapes as the parser does."""
    i = 1
    while literal[i] != '"':
        i += 2 if literal[i] == "\\" else 1
    return i


@pytest.mark.parametrize("value", HOSTILE)
def test_a_quoted_value_is_one_literal_that_reads_back_as_the_value(value: str) -> None:
    literal = quote(value)
    assert literal.startswith('"') and literal.endswith('"')
    assert json.loads(literal) == value  # Go's strconv.Unquote reads JSON string syntax the same way
    assert _literal_end(literal) == len(literal) - 1  # no quote inside ends it early
    assert "\n" not in literal and "\x00" not in literal


def test_text_that_cannot_cross_grpc_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="not valid text"):
        quote("bad \ud800 surrogate")


def test_no_filters_but_procedural_hiding() -> None:
    assert filter_expression(Filters()) == "procedural == false"
    assert filter_expression(Filters(include_procedural=True)) == ""


def test_every_filter_becomes_a_clause() -> None:
    expression = filter_expression(Filters(council='Kent "County"', committee="Cabinet", document="d1",
                                           date_from=date(2019, 1, 1), date_to=date(2019, 12, 31),
                                           decisions_only=True))
    assert expression == (
        'council_key == "kent \\"county\\"" and committee_key == "cabinet" and document_id == "d1" and '
        f"date_end >= {date(2019, 1, 1).toordinal()} and date_start <= {date(2019, 12, 31).toordinal()} and "
        'procedural == false and kind == "resolution"')


def test_council_and_committee_match_without_case() -> None:
    assert fold("Kent County Council") == fold("KENT county council") == "kent county council"
    assert fold(None) == ""


def test_id_lists_are_ints_only() -> None:
    assert id_list([3, 1, 2]) == "id in [3,1,2]"
    with pytest.raises(ValueError):
        id_list(["1) or (true"])  # type: ignore[list-item]


def test_both_parenthesises_only_when_it_joins() -> None:
    assert both("", "a == 1", "") == "a == 1"
    assert both("a == 1 or b == 2", "c == 3") == "(a == 1 or b == 2) and (c == 3)"
    assert both("", "") == ""


@pytest.mark.parametrize(("url", "uri", "prefix", "keyword"), [
    ("milvus://127.0.0.1:19530", "http://127.0.0.1:19530", "minutes", "milvus"),
    ("milvus://db.internal/councils", "http://db.internal:19530", "councils", "milvus"),
    ("milvus://h:1234?keyword=local&prefix=p2", "http://h:1234", "p2", "local"),
])
def test_backend_urls(url: str, uri: str, prefix: str, keyword: str) -> None:
    location = MilvusLocation.parse(url)
    assert (location.uri, location.prefix, location.keyword) == (uri, prefix, keyword)


def test_a_lite_url_is_a_file(tmp_path: object) -> None:
    location = MilvusLocation.parse("milvus-lite:/tmp/x/minutes.db")
    assert location.uri == "/tmp/x/minutes.db"


@pytest.mark.parametrize(("url", "message"), [
    ("milvus://", "names no host"),
    ("milvus://h:1?keyword=tantivy", "keyword=milvus or keyword=local"),
    ("milvus://h:1?colour=blue", "unknown option 'colour'"),
    ("milvus://h:1/9bad", "letters, digits and _"),
    ("milvus://h:1/a-b", "letters, digits and _"),
    ("postgres://h:1", "unknown backend"),
    ("milvus-lite:", "names no file"),
])
def test_bad_backend_urls_say_what_to_write(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MilvusLocation.parse(url)


@pytest.mark.parametrize(("version", "has"), [
    ("v2.3.5-lite", False), ("v2.4.9", False), ("v2.5.0", True), ("v2.6.1", True), ("milvus_lite-3.2.2", True),
    ("milvus_lite-2.4.12", False), ("", False)])
def test_bm25_from_the_server_version(version: str, has: bool) -> None:
    assert server_has_bm25(version) is has
